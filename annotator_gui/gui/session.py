"""The state behind the window: the open checkpoint, split, task, metric and results.

Panes read this object and redraw on its signals. Setting a value that does
not change anything emits nothing.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal

from ..analysis.pipeline import EmbeddingClustering, PredictionComparison, cluster_embedding
from ..checkpoint import Checkpoint, CheckpointError, Split
from .metric_choice import ORIGINAL, MetricView, metric_view

log = logging.getLogger(__name__)


class Session(QObject):
    """The open checkpoint and everything computed from it, on the GUI thread."""

    checkpoint_changed = Signal()
    #: The split or task changed, so the embedding and its clustering did.
    embedding_changed = Signal()
    #: The prediction comparison of the current split or the metric changed.
    predictions_changed = Signal()
    #: Something could not be computed: (what failed, error, what to do next).
    failed = Signal(str, object, str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.checkpoint: Checkpoint | None = None
        self.summary: dict = {}
        self.is_sample = False
        self.split_index = 0
        self.task = 0
        self.metric = ORIGINAL
        self.embedding: EmbeddingClustering | None = None
        self._comparisons: dict[int, PredictionComparison] = {}
        self._metric_views: dict[tuple[int, str], MetricView] = {}

    @property
    def split(self) -> Split | None:
        return None if self.checkpoint is None else self.checkpoint.splits[self.split_index]

    @property
    def comparison(self) -> PredictionComparison | None:
        return self._comparisons.get(self.split_index)

    @property
    def annotators(self) -> list[int]:
        if self.embedding is not None:
            return self.embedding.annotators
        split = self.split
        return [] if split is None else list(split.annotators)

    def set_checkpoint(self, checkpoint: Checkpoint, summary: dict, is_sample: bool, split_index: int = 0, task: int = 0) -> None:
        """Show `checkpoint`, closing the previous one; the caller has stopped its workers.

        `summary` is `checkpoint_summary(checkpoint)`.
        """
        previous = self.checkpoint
        self.checkpoint = checkpoint
        self.summary = summary
        self.is_sample = is_sample
        self.split_index = min(max(split_index, 0), len(checkpoint.splits) - 1)
        tasks = checkpoint.splits[self.split_index].tasks
        self.task = task if task in tasks or not tasks else tasks[0]
        self._comparisons.clear()
        self._metric_views.clear()
        if previous is not None and previous is not checkpoint:
            previous.close()
        self.checkpoint_changed.emit()
        self._update_embedding()
        self.predictions_changed.emit()

    def close(self) -> None:
        if self.checkpoint is not None:
            self.checkpoint.close()

    def set_split(self, index: int) -> None:
        if self.checkpoint is None or index == self.split_index or not 0 <= index < len(self.checkpoint.splits):
            return
        self.split_index = index
        tasks = self.checkpoint.splits[index].tasks
        if tasks and self.task not in tasks:
            self.task = tasks[0]
        self._update_embedding()
        self.predictions_changed.emit()

    def set_task(self, task: int) -> None:
        if task == self.task:
            return
        self.task = task
        self._update_embedding()

    def set_metric(self, metric: str) -> None:
        if metric == self.metric:
            return
        self.metric = metric
        self.predictions_changed.emit()

    def set_comparison(self, comparison: PredictionComparison) -> None:
        """Store a finished comparison in the per-split cache."""
        self._comparisons[comparison.split] = comparison
        if comparison.split == self.split_index:
            self.predictions_changed.emit()

    def show_results(self, embedding: EmbeddingClustering, comparison: PredictionComparison | None) -> None:
        """Show results computed elsewhere, with no checkpoint open (used to render figures)."""
        self.split_index = embedding.split
        self.task = embedding.task
        self.embedding = embedding
        self._comparisons.clear()
        self._metric_views.clear()
        if comparison is not None:
            self._comparisons[comparison.split] = comparison
        self.embedding_changed.emit()
        self.predictions_changed.emit()

    def metric_view(self) -> MetricView | None:
        """Return the current split's distances under the current metric, or None before Compute."""
        comparison = self.comparison
        if comparison is None:
            return None
        key = (self.split_index, self.metric)
        if key not in self._metric_views:
            try:
                self._metric_views[key] = metric_view(comparison, self.metric)
            except ValueError as error:
                self.failed.emit(f"Cannot cluster by {self.metric}", error, "Choose another metric.")
                self._metric_views[key] = metric_view(comparison, ORIGINAL)
        return self._metric_views[key]

    def _update_embedding(self) -> None:
        self.embedding = None
        split = self.split
        if split is not None and split.tasks:
            try:
                self.embedding = cluster_embedding(split, self.task)
            except (CheckpointError, ValueError) as error:
                self.failed.emit(
                    f"Cannot read the embedding of split {self.split_index}, task {self.task}",
                    error,
                    "Choose another split or task, or check that the file is complete.",
                )
        self.embedding_changed.emit()
