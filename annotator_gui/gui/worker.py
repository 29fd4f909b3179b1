"""Run a plain function on a QThread and report back to the GUI thread by signals.

The function receives a `threading.Event` that requests a stop and a
`report(value)` callable for progress. It must not touch any widget: the GUI
thread copies in what it needs before `start()` and receives the result
through `finished`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal, Slot

from ..analysis.progress import Cancelled

log = logging.getLogger(__name__)

Job = Callable[[threading.Event, Callable[[object], None]], object]


class _Runner(QObject):
    """Lives on the worker thread; its signals cross to the GUI thread queued."""

    progressed = Signal(object)
    finished = Signal(object)
    failed = Signal(object)
    cancelled = Signal()

    def __init__(self, job: Job, cancel_event: threading.Event):
        super().__init__()
        self._job = job
        self._cancel_event = cancel_event

    @Slot()
    def run(self) -> None:
        try:
            result = self._job(self._cancel_event, self.progressed.emit)
        except Cancelled:
            self.cancelled.emit()
        except Exception as error:  # every failure goes back to the GUI thread's error path
            log.debug("background job failed", exc_info=True)
            self.failed.emit(error)
        else:
            if self._cancel_event.is_set():
                self.cancelled.emit()
            else:
                self.finished.emit(result)
        finally:
            # Hand the runner back to the GUI thread, so that it is deleted
            # there once the thread has ended and no reference remains.
            self.moveToThread(QCoreApplication.instance().thread())
            QThread.currentThread().quit()


class _Run:
    """One started job: its thread, runner and cancel flag, kept alive until the thread ends."""

    def __init__(self, job: Job, generation: int):
        self.generation = generation
        self.cancel_event = threading.Event()
        self.thread = QThread()
        self.runner = _Runner(job, self.cancel_event)
        self.runner.moveToThread(self.thread)
        self.thread.started.connect(self.runner.run)


class BackgroundWorker(QObject):
    """Starts jobs one at a time: starting a new job cancels the running one.

    Only the newest job's signals are passed on, so a cancelled job that
    finishes late never overwrites a newer result. Every thread is referenced
    until it has ended, and `shutdown()` cancels and joins all of them.
    """

    progressed = Signal(object)
    finished = Signal(object)
    failed = Signal(object)
    cancelled = Signal()
    #: Emitted when no job is running any more (after finished, failed or cancelled).
    idle = Signal()

    def __init__(self, name: str, parent: QObject | None = None, discard: Callable[[object], None] | None = None):
        """`discard(result)` releases the result of a job that was superseded or cancelled too late."""
        super().__init__(parent)
        self._name = name
        self._discard = discard
        self._runs: list[_Run] = []
        self._generation = 0

    @property
    def is_running(self) -> bool:
        return any(run.generation == self._generation and not run.cancel_event.is_set() for run in self._runs)

    @property
    def thread_count(self) -> int:
        return len(self._runs)

    def start(self, job: Job) -> None:
        self.cancel()
        self._generation += 1
        run = _Run(job, self._generation)
        run.thread.setObjectName(f"{self._name}-{run.generation}")
        run.runner.progressed.connect(self._on_runner_progressed)
        run.runner.finished.connect(self._on_runner_finished)
        run.runner.failed.connect(self._on_runner_failed)
        run.runner.cancelled.connect(self._on_runner_cancelled)
        run.thread.finished.connect(self._on_thread_finished)
        self._runs.append(run)
        run.thread.start()

    def cancel(self) -> None:
        """Ask the newest job to stop; `cancelled` follows once it has stopped."""
        for run in self._runs:
            run.cancel_event.set()

    def shutdown(self) -> None:
        """Cancel every job and wait for its thread to end (blocks the GUI thread)."""
        self.cancel()
        for run in list(self._runs):
            run.thread.wait()
        self._runs.clear()

    def _cancel_requested(self, sender: QObject | None) -> bool:
        return any(run.runner is sender and run.cancel_event.is_set() for run in self._runs)

    def _current(self, sender: QObject | None) -> bool:
        return any(run.runner is sender and run.generation == self._generation for run in self._runs)

    @Slot(object)
    def _on_runner_progressed(self, value: object) -> None:
        if self._current(self.sender()) and self.is_running:
            self.progressed.emit(value)

    @Slot(object)
    def _on_runner_finished(self, result: object) -> None:
        sender = self.sender()
        if self._current(sender) and not self._cancel_requested(sender):
            self.finished.emit(result)
            return
        # The job finished after a cancel request or a newer start: drop its result.
        if self._discard is not None:
            self._discard(result)
        if self._current(sender):
            self.cancelled.emit()

    @Slot(object)
    def _on_runner_failed(self, error: object) -> None:
        if self._current(self.sender()):
            self.failed.emit(error)

    @Slot()
    def _on_runner_cancelled(self) -> None:
        if self._current(self.sender()):
            self.cancelled.emit()

    @Slot()
    def _on_thread_finished(self) -> None:
        thread = self.sender()
        self._runs = [run for run in self._runs if run.thread is not thread or run.thread.isRunning()]
        if not self._runs:
            self.idle.emit()


class SessionComputation(QObject):
    """A `BackgroundWorker` whose results go to the session; the base of the app's computations.

    Subclasses start jobs with `self.worker.start(...)` and implement
    `_on_worker_finished` to store the result. Progress, failures and
    cancellations are passed on unchanged.
    """

    progressed = Signal(object)  # analysis.progress.Progress
    finished = Signal(object)
    failed = Signal(object)
    cancelled = Signal()

    def __init__(self, name: str, parent: QObject | None = None):
        super().__init__(parent)
        self.worker = BackgroundWorker(name, self)
        self.worker.progressed.connect(self.progressed)
        self.worker.finished.connect(self._on_worker_finished)
        self.worker.failed.connect(self.failed)
        self.worker.cancelled.connect(self.cancelled)

    @property
    def is_running(self) -> bool:
        return self.worker.is_running

    def cancel(self) -> None:
        self.worker.cancel()

    def shutdown(self) -> None:
        self.worker.shutdown()

    def _on_worker_finished(self, result: object) -> None:
        raise NotImplementedError
