"""Hierarchical clustering of annotators, as the original MABe analysis does it."""

from __future__ import annotations

import numpy as np
from scipy.cluster import hierarchy
from scipy.spatial.distance import squareform


def ward_linkage_of_points(points: np.ndarray) -> np.ndarray:
    """Ward linkage on euclidean distances between the rows of `points`."""
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[0] < 2:
        raise ValueError(f"need at least two rows to cluster, got shape {points.shape}")
    return hierarchy.linkage(points, method="ward", metric="euclidean")


def ward_linkage_of_distances(distances: np.ndarray) -> np.ndarray:
    """Ward linkage on a square, symmetric matrix of euclidean distances."""
    distances = np.asarray(distances, dtype=np.float64)
    if distances.ndim != 2 or distances.shape[0] != distances.shape[1] or distances.shape[0] < 2:
        raise ValueError(f"need a square matrix of at least 2 x 2, got shape {distances.shape}")
    # checks=False: callers pass matrices built symmetric with a zero diagonal.
    return hierarchy.linkage(squareform(distances, checks=False), method="ward")


def leaf_order(linkage: np.ndarray) -> list[int]:
    """Return the left-to-right leaf order that `scipy.cluster.hierarchy.dendrogram` draws."""
    return [int(leaf) for leaf in hierarchy.dendrogram(linkage, no_plot=True)["leaves"]]


#: Linkage methods offered to the user; Ward is valid only for euclidean distances.
LINKAGE_METHODS = ("ward", "average", "complete", "single", "weighted")


def linkage_of_distances(distances: np.ndarray, method: str = "ward", optimal_ordering: bool = False) -> np.ndarray:
    """Linkage of a square distance matrix with any of `LINKAGE_METHODS`.

    With `optimal_ordering`, children are swapped so that neighbouring leaves
    are as close as possible (Bar-Joseph et al., 2001); the merges stay the same.
    """
    if method not in LINKAGE_METHODS:
        raise ValueError(f"unknown linkage method {method!r}; choose one of {', '.join(LINKAGE_METHODS)}")
    distances = np.asarray(distances, dtype=np.float64)
    if distances.ndim != 2 or distances.shape[0] != distances.shape[1] or distances.shape[0] < 2:
        raise ValueError(f"need a square matrix of at least 2 x 2, got shape {distances.shape}")
    condensed = squareform(distances, checks=False)
    linkage = hierarchy.linkage(condensed, method=method)
    if optimal_ordering:
        linkage = hierarchy.optimal_leaf_ordering(linkage, condensed)
    return linkage


def euclidean_distances(points: np.ndarray) -> np.ndarray:
    """Square matrix of euclidean distances between the rows of `points`."""
    points = np.asarray(points, dtype=np.float64)
    difference = points[:, None, :] - points[None, :, :]
    return np.sqrt((difference * difference).sum(axis=-1))


def cluster_sets(linkage: np.ndarray) -> list[frozenset[int]]:
    """Return the leaf set of every merge, in linkage-row order."""
    count = len(linkage) + 1
    members: list[frozenset[int]] = [frozenset([leaf]) for leaf in range(count)]
    for left, right in np.asarray(linkage)[:, :2].astype(np.int64):
        members.append(members[left] | members[right])
    return members[count:]
