"""Flat clusters from cuts, and cluster numbers matched across two trees (no Qt)."""

from __future__ import annotations

import numpy as np
import pytest

from annotator_gui.analysis.clustering import linkage_of_distances
from annotator_gui.analysis.tree_compare import cut_labels
from annotator_gui.gui.flat_clusters import (
    cluster_name,
    clusters_at_height,
    cut_height,
    flat_clusters,
    matched_labels,
)

# Heights 1, 2, 4, 8: ((0, 1), (2, 3)) then 4, then 5.
LINKAGE = np.array(
    [
        [0, 1, 1.0, 2],
        [2, 3, 2.0, 2],
        [6, 7, 4.0, 4],
        [4, 8, 8.0, 5],
        [5, 9, 16.0, 6],
    ]
)


@pytest.mark.parametrize("clusters", range(1, 7))
def test_cut_height_round_trip(clusters):
    height = cut_height(LINKAGE, clusters)

    assert clusters_at_height(LINKAGE, height) == clusters
    assert len(set(cut_labels(LINKAGE, clusters))) == clusters


def test_cut_height_between_merges():
    assert cut_height(LINKAGE, 2) == pytest.approx(12.0)
    assert cut_height(LINKAGE, 4) == pytest.approx(3.0)
    assert cut_height(LINKAGE, 6) == pytest.approx(0.5)


def test_cut_height_rejects_bad_count():
    with pytest.raises(ValueError, match="into 7 clusters"):
        cut_height(LINKAGE, 7)


def test_matched_labels_maximise_overlap():
    reference = np.array([0, 0, 1, 1, 2])
    labels = np.array([2, 2, 0, 1, 1])

    np.testing.assert_array_equal(matched_labels(reference, labels), [0, 0, 1, 2, 2])


def test_matched_labels_extra_clusters_numbered_after():
    reference = np.array([0, 0, 0, 0])
    labels = np.array([1, 1, 0, 2])

    np.testing.assert_array_equal(matched_labels(reference, labels), [0, 0, 1, 2])


def test_flat_clusters_same_partition_as_cut():
    rng = np.random.default_rng(7)
    points = rng.normal(size=(7, 3))
    distances = np.sqrt(((points[:, None] - points[None]) ** 2).sum(-1))
    left = linkage_of_distances(distances, "average")
    right = linkage_of_distances(distances, "complete")

    embedding, prediction = flat_clusters(left, right, 3)

    np.testing.assert_array_equal(embedding, cut_labels(left, 3))
    expected = cut_labels(right, 3)
    same_expected = expected[:, None] == expected[None, :]
    same_drawn = prediction[:, None] == prediction[None, :]
    np.testing.assert_array_equal(same_drawn, same_expected)


def test_cluster_names_are_letters():
    assert [cluster_name(label) for label in (0, 1, 25, 26, 27)] == ["A", "B", "Z", "AA", "AB"]
