"""The distance metrics and linkage methods offered for the trees (no Qt).

Each metric turns the streaming statistics of `PredictionComparison` into an
annotators x annotators matrix. The original distance and the per-behaviour
distances are euclidean (square roots of sums of squared probability
differences), so every linkage method applies to them. Label disagreement and
1 - Cohen's kappa are not euclidean, and Ward's method, which minimises
within-cluster variance in euclidean space, is not offered for them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..analysis import metrics
from ..analysis.clustering import LINKAGE_METHODS, euclidean_distances, leaf_order, linkage_of_distances
from ..analysis.pipeline import EmbeddingClustering, PredictionComparison
from ..checkpoint import BEHAVIORS

ORIGINAL = "original"
WARD = "ward"
#: The method used instead of Ward for a metric that is not euclidean.
NON_EUCLIDEAN_FALLBACK = "average"

#: Metric keys and their labels, in menu order.
METRICS: dict[str, str] = {
    ORIGINAL: "Original distance (all behaviours)",
    **{f"behavior:{behavior}": f"Distance on {behavior} only" for behavior in BEHAVIORS},
    "disagreement": "Label disagreement (share of frames)",
    "kappa": "1 - Cohen's kappa",
}

#: Linkage method keys (those of `scipy.cluster.hierarchy.linkage`) and their menu labels.
METHOD_LABELS: dict[str, str] = {
    "ward": "Ward",
    "average": "Average (UPGMA)",
    "complete": "Complete",
    "single": "Single",
    "weighted": "Weighted (WPGMA)",
}
assert tuple(METHOD_LABELS) == LINKAGE_METHODS


def is_euclidean(metric: str) -> bool:
    """Return whether `metric`'s distances are euclidean, so that Ward linkage applies."""
    return metric == ORIGINAL or metric.startswith("behavior:")


def effective_method(metric: str, requested: str) -> str:
    """Return the linkage method used for `metric` when the user chose `requested`."""
    if requested == WARD and not is_euclidean(metric):
        return NON_EUCLIDEAN_FALLBACK
    return requested


def ward_unavailable_reason(metric: str) -> str | None:
    """Explain why Ward is not offered for `metric`, or return None when it is."""
    if is_euclidean(metric):
        return None
    return (
        f"Ward linkage needs euclidean distances, and {METRICS[metric]} is not one, "
        f"so both trees use {NON_EUCLIDEAN_FALLBACK} linkage instead. "
        "Ward returns with the original or a per-behaviour distance."
    )


@dataclass(frozen=True)
class MetricView:
    """A distance matrix and its clustering, for one metric of one comparison."""

    metric: str
    label: str
    distances: np.ndarray
    linkage: np.ndarray
    leaf_order: list[int]
    method: str = WARD
    optimal_ordering: bool = False


def metric_distances(comparison: PredictionComparison, metric: str) -> np.ndarray:
    """Compute the square distance matrix of `metric`; raise ValueError for unknown or non-finite values."""
    if metric not in METRICS:
        raise ValueError(f"unknown distance metric {metric!r}; expected one of {', '.join(METRICS)}")
    if metric == ORIGINAL:
        return comparison.distances
    statistics = comparison.statistics
    if metric.startswith("behavior:"):
        behavior = BEHAVIORS.index(metric.split(":", 1)[1])
        distances = metrics.per_behavior_distances(statistics)[behavior]
    elif metric == "disagreement":
        distances = metrics.label_disagreement(statistics)
    else:
        distances = 1.0 - metrics.cohen_kappa(statistics)
    distances = np.array(distances, dtype=np.float64)
    if not np.isfinite(distances).all():
        raise ValueError(f"{METRICS[metric]} is undefined (NaN) for some pair of annotators")
    # squareform reads only the upper triangle, so make the matrix symmetric with a zero diagonal.
    np.fill_diagonal(distances, 0.0)
    return np.clip((distances + distances.T) / 2.0, 0.0, None)


def metric_view(comparison: PredictionComparison, metric: str, method: str = WARD, optimal_ordering: bool = False) -> MetricView:
    """Cluster the distances of `metric` with `method`; raise ValueError for Ward on a non-euclidean metric."""
    distances = metric_distances(comparison, metric)
    if method == WARD and not is_euclidean(metric):
        raise ValueError(f"Ward linkage needs euclidean distances, and {METRICS[metric]} is not one")
    if metric == ORIGINAL and method == comparison.method and optimal_ordering == comparison.optimal_ordering:
        # The comparison's own tree, so that the GUI and `analyze` draw the same tree.
        linkage, order = comparison.linkage, comparison.leaf_order
    else:
        linkage = linkage_of_distances(distances, method, optimal_ordering)
        order = leaf_order(linkage)
    return MetricView(metric, METRICS[metric], distances, linkage, order, method, optimal_ordering)


def squared_per_sequence(comparison: PredictionComparison, metric: str) -> np.ndarray | None:
    """Return each test sequence's contribution to the squared distance of `metric`, or None without one.

    The result is (sequences, annotators, annotators); the bootstrap resamples
    it. Label disagreement and kappa are not sums of squares, so they return None.
    """
    squared = comparison.statistics.squared_distances
    if metric == ORIGINAL:
        return squared.sum(axis=1)
    if metric.startswith("behavior:"):
        return squared[:, BEHAVIORS.index(metric.split(":", 1)[1])]
    return None


def recluster_embedding(clustering: EmbeddingClustering, method: str, optimal_ordering: bool) -> EmbeddingClustering:
    """Return `clustering` with its tree rebuilt by `method` on the euclidean distances of its rows."""
    if method == clustering.method and optimal_ordering == clustering.optimal_ordering:
        return clustering
    linkage = linkage_of_distances(euclidean_distances(clustering.embedding), method, optimal_ordering)
    return replace(
        clustering, linkage=linkage, leaf_order=leaf_order(linkage), method=method, optimal_ordering=optimal_ordering
    )
