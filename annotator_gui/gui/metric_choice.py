"""The distance metrics offered for the prediction heatmap and dendrogram (no Qt).

Each metric turns the streaming statistics of `PredictionComparison` into an
annotators x annotators matrix. Only the original distance keeps the
comparison's own Ward linkage. The others are re-clustered with Ward, which
assumes euclidean distances, so their trees are a guide only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..analysis import metrics
from ..analysis.clustering import leaf_order, ward_linkage_of_distances
from ..analysis.pipeline import PredictionComparison
from ..checkpoint import BEHAVIORS

ORIGINAL = "original"

#: Metric keys and their labels, in menu order.
METRICS: dict[str, str] = {
    ORIGINAL: "Original distance (all behaviours)",
    **{f"behavior:{behavior}": f"Distance on {behavior} only" for behavior in BEHAVIORS},
    "disagreement": "Label disagreement (share of frames)",
    "kappa": "1 - Cohen's kappa",
}


@dataclass(frozen=True)
class MetricView:
    """A distance matrix and its Ward clustering, for one metric of one comparison."""

    metric: str
    label: str
    distances: np.ndarray
    linkage: np.ndarray
    leaf_order: list[int]


def metric_view(comparison: PredictionComparison, metric: str) -> MetricView:
    """Compute the matrix and clustering of `metric`; raise ValueError for unknown or non-finite values."""
    if metric not in METRICS:
        raise ValueError(f"unknown distance metric {metric!r}; expected one of {', '.join(METRICS)}")
    if metric == ORIGINAL:
        return MetricView(metric, METRICS[metric], comparison.distances, comparison.linkage, comparison.leaf_order)

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
    distances = np.clip((distances + distances.T) / 2.0, 0.0, None)
    linkage = ward_linkage_of_distances(distances)
    return MetricView(metric, METRICS[metric], distances, linkage, leaf_order(linkage))
