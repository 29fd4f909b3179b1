"""The job that compares annotators' predictions of one split on a worker thread."""

from __future__ import annotations

import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from ..analysis.pipeline import PredictionComparison, compare_predictions
from ..analysis.progress import TaskState
from ..checkpoint import Split
from .session import Session
from .worker import SessionComputation

Compare = Callable[[Split, TaskState], PredictionComparison]


def compare_job(split: Split, compare: Compare = compare_predictions):
    """Build the job for `BackgroundWorker.start`: run `compare(split, state)`.

    Progress arrives as `analysis.progress.Progress`, at most ten times a
    second, and a cancel request stops the pass before the next sequence.
    `compare` is replaceable so that tests can slow the pass down.
    """

    def run(cancel_event: threading.Event, report: Callable[[object], None]) -> PredictionComparison:
        state = TaskState(report, cancel_event=cancel_event)
        return compare(split, state)

    return run


class PredictionComputation(SessionComputation):
    """Runs `compare_predictions` for the session's current split and stores the result.

    The GUI thread hands the job the `Split` object only; the job reads the
    file through it and touches no widget. The finished comparison is put in
    the session's per-split cache on the GUI thread.
    """

    started = Signal(int)  # split index; `finished` carries the PredictionComparison

    def __init__(self, session: Session, compare: Compare = compare_predictions, parent: QObject | None = None):
        super().__init__("compare-predictions", parent)
        self._session = session
        self.compare = compare

    def start(self) -> bool:
        """Start comparing the current split, cancelling a run in progress; False without a split."""
        split = self._session.split
        if split is None:
            return False
        self.worker.start(compare_job(split, self.compare))
        self.started.emit(split.index)
        return True

    def _on_worker_finished(self, comparison: PredictionComparison) -> None:
        self._session.set_comparison(comparison)
        self.finished.emit(comparison)
