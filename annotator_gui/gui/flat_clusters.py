"""Flat clusters from a cut through a dendrogram, and colours that match across two trees (no Qt)."""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..analysis.tree_compare import cut_labels


def merge_heights(linkage: np.ndarray) -> np.ndarray:
    """Return the merge heights in ascending order."""
    return np.sort(np.asarray(linkage, dtype=np.float64)[:, 2])


def cut_height(linkage: np.ndarray, clusters: int) -> float:
    """Return the height halfway between the merges that a cut into `clusters` clusters separates.

    The cut undoes the last `clusters - 1` merges, as `cut_labels` does, so it
    lies between the highest kept merge and the lowest undone one (or below
    every merge when each leaf is its own cluster).
    """
    heights = merge_heights(linkage)
    count = len(heights) + 1
    if not 1 <= clusters <= count:
        raise ValueError(f"cannot cut {count} leaves into {clusters} clusters")
    kept = heights[count - 1 - clusters] if clusters < count else 0.0
    undone = heights[count - clusters] if clusters > 1 else heights[-1] * 1.05
    return float((kept + undone) / 2.0)


def clusters_at_height(linkage: np.ndarray, height: float) -> int:
    """Return the number of clusters that a cut at `height` leaves (merges above it are undone)."""
    return 1 + int(np.count_nonzero(merge_heights(linkage) > height))


def matched_labels(reference: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Renumber `labels` so that each cluster takes the number of the `reference` cluster it overlaps most.

    The matching maximises the total overlap (the Hungarian method). Clusters
    left without a partner get numbers after those of `reference`.
    """
    reference = np.asarray(reference)
    labels = np.asarray(labels)
    overlap = np.zeros((labels.max() + 1, reference.max() + 1), dtype=np.int64)
    np.add.at(overlap, (labels, reference), 1)
    rows, columns = linear_sum_assignment(-overlap)
    mapping = dict(zip(rows.tolist(), columns.tolist()))
    next_label = reference.max() + 1
    for label in range(overlap.shape[0]):
        if label not in mapping:
            mapping[label] = next_label
            next_label += 1
    return np.array([mapping[label] for label in labels], dtype=np.int64)


def cluster_name(label: int) -> str:
    """Name flat cluster `label` by a letter (A, B, ...), so it is not mistaken for an annotator number."""
    name = ""
    label += 1
    while label:
        label, remainder = divmod(label - 1, 26)
        name = chr(ord("A") + remainder) + name
    return name


def flat_clusters(embedding_linkage: np.ndarray, prediction_linkage: np.ndarray | None, clusters: int):
    """Cut both trees into `clusters` clusters; the prediction clusters are numbered to match the embedding's.

    Returns (embedding labels, prediction labels or None), each one label per leaf.
    """
    embedding = cut_labels(embedding_linkage, clusters)
    if prediction_linkage is None:
        return embedding, None
    return embedding, matched_labels(embedding, cut_labels(prediction_linkage, clusters))
