"""The state behind the window: the open checkpoint, split, task, metric, clustering and results.

Panes read this object and redraw on its signals. Setting a value that does
not change anything emits nothing.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Signal

import numpy as np

from ..analysis.pipeline import EmbeddingClustering, PredictionComparison, cluster_embedding
from ..analysis.tree_compare import Untangled, entanglement, untangle
from ..analysis.trust import TrustAssessment
from ..checkpoint import Checkpoint, CheckpointError, Split
from .flat_clusters import flat_clusters
from .metric_choice import LINKAGE_METHODS, ORIGINAL, WARD, MetricView, effective_method, metric_view, recluster_embedding

log = logging.getLogger(__name__)


class Session(QObject):
    """The open checkpoint and everything computed from it, on the GUI thread."""

    checkpoint_changed = Signal()
    #: The split or task changed, so the embedding and its clustering did.
    embedding_changed = Signal()
    #: The prediction comparison of the current split or the metric changed.
    predictions_changed = Signal()
    #: The trees were redrawn in another leaf order (untangled or back to the default).
    leaf_orders_changed = Signal()
    #: The number of flat clusters changed.
    flat_clusters_changed = Signal()
    #: The trust assessment of the current trees arrived or was dropped.
    trust_changed = Signal()
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
        #: The linkage method the user chose; `method` is the one used for the current metric.
        self.requested_method = WARD
        self.optimal_ordering = False
        #: Whether the trees are drawn in the leaf orders that minimise entanglement.
        self.untangle_enabled = False
        #: Number of flat clusters that both trees are cut into; 0 for none.
        self.cluster_count = 0
        self.embedding: EmbeddingClustering | None = None
        self._read_embedding: EmbeddingClustering | None = None
        self._comparisons: dict[int, PredictionComparison] = {}
        self._metric_views: dict[tuple, MetricView] = {}
        self._untangled: tuple[tuple, Untangled] | None = None
        self._trust: tuple[tuple, TrustAssessment] | None = None

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

    @property
    def method(self) -> str:
        """The linkage method of both trees: the requested one, unless Ward does not apply to the metric."""
        return effective_method(self.metric, self.requested_method)

    @property
    def trees_key(self) -> tuple:
        """Identifies the two trees on screen; results computed for another key are stale."""
        task = None if self.embedding is None else self.embedding.task
        return (id(self.checkpoint), self.split_index, task, self.metric, self.method, self.optimal_ordering)

    @property
    def trees_comparable(self) -> bool:
        """Whether both trees exist and have the same annotators, so they can be compared."""
        return (
            self.embedding is not None
            and self.comparison is not None
            and self.embedding.annotators == list(self.comparison.annotators)
        )

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
        method = self.method
        self.metric = metric
        if self.method != method:
            # Ward became unavailable or available again, so the embedding tree changes too.
            self._recluster_embedding()
        self.predictions_changed.emit()

    def set_linkage(self, method: str, optimal_ordering: bool) -> None:
        """Cluster both trees with `method` (Ward falls back to average for non-euclidean metrics)."""
        if method not in LINKAGE_METHODS:
            raise ValueError(f"unknown linkage method {method!r}; choose one of {', '.join(LINKAGE_METHODS)}")
        if method == self.requested_method and optimal_ordering == self.optimal_ordering:
            return
        self.requested_method = method
        self.optimal_ordering = bool(optimal_ordering)
        self._recluster_embedding()
        self.predictions_changed.emit()

    def set_untangle_enabled(self, enabled: bool) -> None:
        if enabled == self.untangle_enabled:
            return
        self.untangle_enabled = enabled
        self.leaf_orders_changed.emit()

    def set_cluster_count(self, count: int) -> None:
        """Cut both trees into `count` flat clusters (0 for none); out-of-range counts are clamped."""
        leaves = len(self.annotators)
        count = 0 if count <= 0 or leaves < 3 else min(max(count, 2), leaves - 1)
        if count == self.cluster_count:
            return
        self.cluster_count = count
        self.flat_clusters_changed.emit()

    def set_trust(self, key: tuple, assessment: TrustAssessment) -> None:
        """Store the assessment of the trees identified by `key`; one for other trees is ignored."""
        if key != self.trees_key:
            return
        self._trust = (key, assessment)
        self.trust_changed.emit()

    @property
    def trust(self) -> TrustAssessment | None:
        """The trust assessment of the trees on screen, or None while it is missing or stale."""
        if self._trust is None or self._trust[0] != self.trees_key:
            return None
        return self._trust[1]

    def untangled(self) -> Untangled | None:
        """Return the leaf orders of both trees that minimise entanglement, or None without both trees."""
        view = self.metric_view()
        if view is None or not self.trees_comparable:
            return None
        key = self.trees_key
        if self._untangled is None or self._untangled[0] != key:
            result = untangle(self.embedding.linkage, view.linkage, self.embedding.leaf_order, view.leaf_order)
            self._untangled = (key, result)
        return self._untangled[1]

    def embedding_order(self) -> list[int]:
        """Return the embedding tree's leaves from top to bottom, as every view draws them."""
        if self.embedding is None:
            return []
        untangled = self.untangled() if self.untangle_enabled else None
        return list(untangled.left_order) if untangled is not None else list(self.embedding.leaf_order)

    def prediction_order(self) -> list[int]:
        """Return the prediction tree's leaves from top to bottom, as every view draws them."""
        view = self.metric_view()
        if view is None:
            return []
        untangled = self.untangled() if self.untangle_enabled else None
        return list(untangled.right_order) if untangled is not None else list(view.leaf_order)

    def drawn_entanglement(self) -> float | None:
        """Entanglement of the leaf orders on screen (0 = the lines do not cross), or None."""
        if not self.trees_comparable or self.metric_view() is None:
            return None
        return entanglement(self.embedding_order(), self.prediction_order())

    def flat_cluster_labels(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        """Return the flat cluster of every leaf of the embedding and prediction trees, or None for each.

        The prediction clusters are numbered after the embedding cluster they
        overlap most, so a cluster found in both trees has one colour.
        """
        if self.cluster_count == 0 or self.embedding is None:
            return None, None
        count = len(self.embedding.annotators)
        if not 2 <= self.cluster_count < count:
            return None, None
        view = self.metric_view()
        prediction = view.linkage if view is not None and self.trees_comparable else None
        return flat_clusters(self.embedding.linkage, prediction, self.cluster_count)

    def set_comparison(self, comparison: PredictionComparison) -> None:
        """Store a finished comparison in the per-split cache."""
        self._comparisons[comparison.split] = comparison
        if comparison.split == self.split_index:
            self.predictions_changed.emit()

    def show_results(self, embedding: EmbeddingClustering, comparison: PredictionComparison | None) -> None:
        """Show results computed elsewhere, with no checkpoint open (used to render figures).

        The trees are drawn as `embedding` was clustered, so its linkage method
        becomes the session's. A comparison of all splits' averaged predictions
        is shown beside the embedding of `embedding.split`.
        """
        self.split_index = embedding.split
        self.task = embedding.task
        self.requested_method = embedding.method
        self.optimal_ordering = embedding.optimal_ordering
        self._read_embedding = embedding
        self.embedding = recluster_embedding(embedding, self.method, self.optimal_ordering)
        self._comparisons.clear()
        self._metric_views.clear()
        if comparison is not None:
            self._comparisons[self.split_index] = comparison
        self.embedding_changed.emit()
        self.predictions_changed.emit()

    def metric_view(self) -> MetricView | None:
        """Return the current split's distances under the current metric, or None before Compute."""
        comparison = self.comparison
        if comparison is None:
            return None
        key = (self.split_index, self.metric, self.method, self.optimal_ordering)
        if key not in self._metric_views:
            try:
                self._metric_views[key] = metric_view(comparison, self.metric, self.method, self.optimal_ordering)
            except ValueError as error:
                self.failed.emit(f"Cannot cluster by {self.metric}", error, "Choose another metric.")
                self._metric_views[key] = metric_view(comparison, ORIGINAL, self.method, self.optimal_ordering)
        return self._metric_views[key]

    def _update_embedding(self) -> None:
        self._read_embedding = None
        split = self.split
        if split is not None and split.tasks:
            try:
                self._read_embedding = cluster_embedding(split, self.task)
            except (CheckpointError, ValueError) as error:
                self.failed.emit(
                    f"Cannot read the embedding of split {self.split_index}, task {self.task}",
                    error,
                    "Choose another split or task, or check that the file is complete.",
                )
        self._recluster_embedding()

    def _recluster_embedding(self) -> None:
        base = self._read_embedding
        self.embedding = None if base is None else recluster_embedding(base, self.method, self.optimal_ordering)
        self.embedding_changed.emit()
