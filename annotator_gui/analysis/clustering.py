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
    # checks=False: the diagonal is exactly zero and symmetry holds by construction.
    return hierarchy.linkage(squareform(distances, checks=False), method="ward")


def leaf_order(linkage: np.ndarray) -> list[int]:
    """Return the left-to-right leaf order that `scipy.cluster.hierarchy.dendrogram` draws."""
    return [int(leaf) for leaf in hierarchy.dendrogram(linkage, no_plot=True)["leaves"]]
