"""A comparison and a trust assessment that pause mid-run until released or cancelled."""

from __future__ import annotations

import threading

from PySide6.QtCore import QObject, Signal

from annotator_gui.analysis.pipeline import compare_predictions
from annotator_gui.analysis.trust import assess_trust

#: How often the paused worker thread looks at its cancel flag, in seconds.
POLL_SECONDS = 0.01


class GatedCompare(QObject):
    """Wraps `compare_predictions` so a test can cancel it mid-run without racing it.

    `paused` is emitted from the worker thread (and so delivered queued on
    the GUI thread) once the pass has finished one sequence and waits.
    """

    paused = Signal()

    def __init__(self):
        super().__init__()
        self.release = threading.Event()

    def __call__(self, split, state):
        step = state.step

        def paused_step(done: int, total: int, frames: int) -> None:
            step(done, total, frames)
            if done == 1 and not self.release.is_set():
                self.paused.emit()
                while not self.release.is_set():
                    state.check()
                    state.cancel_event.wait(POLL_SECONDS)

        state.step = paused_step
        return compare_predictions(split, state)


class GatedAssess(QObject):
    """Wraps `assess_trust` so that it pauses at its first bootstrap step until released or cancelled."""

    paused = Signal()

    def __init__(self):
        super().__init__()
        self.release = threading.Event()

    def __call__(self, *args, state, **kwargs):
        step = state.step

        def paused_step(done: int, total: int, frames: int) -> None:
            step(done, total, frames)
            if not self.release.is_set():
                self.paused.emit()
                while not self.release.is_set():
                    state.check()
                    state.cancel_event.wait(POLL_SECONDS)

        state.step = paused_step
        return assess_trust(*args, state=state, **kwargs)
