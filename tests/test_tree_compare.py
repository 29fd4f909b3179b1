"""Tree comparison metrics against hand-worked values and slow obvious implementations."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.cluster import hierarchy
from scipy.spatial.distance import pdist, squareform
from scipy.stats import rankdata, spearmanr

from annotator_gui.analysis import tree_compare as trees
from annotator_gui.analysis.clustering import leaf_order

# Four leaves: {0, 1} merge at 1, {2, 3} at 2, everything at 5.
BALANCED = np.array([[0, 1, 1.0, 2], [2, 3, 2.0, 2], [4, 5, 5.0, 4]])
# Four leaves as a chain: {0, 1} at 1, then 2 joins at 2, then 3 at 3.
CHAIN = np.array([[0, 1, 1.0, 2], [2, 4, 2.0, 3], [3, 5, 3.0, 4]])


def random_tree(seed: int, count: int = 7, method: str = "average") -> np.ndarray:
    points = np.random.default_rng(seed).normal(size=(count, 3))
    return hierarchy.linkage(points, method=method)


def slow_same_cluster(linkage: np.ndarray, clusters: int) -> np.ndarray:
    labels = hierarchy.cut_tree(linkage, n_clusters=clusters).ravel()
    return labels[:, None] == labels[None, :]


def slow_bakers_gamma(first: np.ndarray, second: np.ndarray) -> float:
    count = len(first) + 1
    values = []
    for linkage in (first, second):
        largest = {}
        for i, j in itertools.combinations(range(count), 2):
            largest[i, j] = max(k for k in range(1, count + 1) if slow_same_cluster(linkage, k)[i, j])
        values.append([largest[pair] for pair in sorted(largest)])
    return spearmanr(values[0], values[1]).statistic


def slow_fowlkes_mallows(first: np.ndarray, second: np.ndarray, clusters: int) -> float:
    same_first = slow_same_cluster(first, clusters)
    same_second = slow_same_cluster(second, clusters)
    pairs = list(itertools.combinations(range(len(first) + 1), 2))
    both = sum(same_first[pair] and same_second[pair] for pair in pairs)
    in_first = sum(same_first[pair] for pair in pairs)
    in_second = sum(same_second[pair] for pair in pairs)
    return both / np.sqrt(in_first * in_second)


def test_cut_labels_hand_worked():
    assert trees.cut_labels(BALANCED, 2).tolist() == [0, 0, 1, 1]
    assert trees.cut_labels(CHAIN, 2).tolist() == [0, 0, 0, 1]
    assert trees.cut_labels(CHAIN, 3).tolist() == [0, 0, 1, 2]
    assert trees.cut_labels(CHAIN, 1).tolist() == [0, 0, 0, 0]
    assert trees.cut_labels(CHAIN, 4).tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize("seed", range(5))
def test_cut_labels_match_scipy_cut_tree(seed):
    linkage = random_tree(seed)
    for clusters in range(1, 8):
        ours = trees.cut_labels(linkage, clusters)
        same = ours[:, None] == ours[None, :]
        np.testing.assert_array_equal(same, slow_same_cluster(linkage, clusters))


def test_bakers_gamma_hand_worked():
    # Largest k keeping each pair together. BALANCED: (0,1)->3, (2,3)->2, others 1.
    # CHAIN: (0,1)->3, (0,2),(1,2)->2, pairs with 3 -> 1.
    assert trees.bakers_gamma_matrix(BALANCED)[0, 1] == 3
    assert trees.bakers_gamma_matrix(BALANCED)[2, 3] == 2
    assert trees.bakers_gamma_matrix(CHAIN)[1, 2] == 2
    assert trees.bakers_gamma_matrix(CHAIN)[0, 3] == 1
    assert trees.bakers_gamma(BALANCED, BALANCED) == pytest.approx(1.0)
    expected = spearmanr([3, 1, 1, 1, 1, 2], [3, 2, 1, 2, 1, 1]).statistic
    assert trees.bakers_gamma(BALANCED, CHAIN) == pytest.approx(expected)


@pytest.mark.parametrize("seed", range(4))
def test_bakers_gamma_matches_slow(seed):
    first, second = random_tree(seed), random_tree(seed + 100, method="complete")
    assert trees.bakers_gamma(first, second) == pytest.approx(slow_bakers_gamma(first, second), abs=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_average_ranks_match_scipy(seed):
    # Few distinct values, so most ranks are shared by ties.
    values = np.random.default_rng(seed).integers(0, 5, size=40).astype(float)
    np.testing.assert_array_equal(trees.average_ranks(values), rankdata(values))
    np.testing.assert_array_equal(trees.average_ranks(values[:1]), [1.0])


@pytest.mark.parametrize("seed", range(4))
def test_spearman_matches_scipy(seed):
    rng = np.random.default_rng(seed)
    first, second = rng.integers(0, 4, size=30), rng.normal(size=30)
    assert trees.spearman(first, second) == pytest.approx(spearmanr(first, second).statistic, abs=1e-14)


def test_fowlkes_mallows_hand_worked():
    # k = 2: BALANCED pairs together {01, 23}; CHAIN {01, 02, 12}; shared {01}.
    assert trees.fowlkes_mallows(BALANCED, CHAIN, 2) == pytest.approx(1 / np.sqrt(2 * 3))
    assert trees.fowlkes_mallows(BALANCED, BALANCED, 3) == pytest.approx(1.0)


@pytest.mark.parametrize("seed", range(4))
def test_fowlkes_mallows_matches_slow(seed):
    first, second = random_tree(seed), random_tree(seed + 50, method="single")
    for clusters in range(2, 7):
        expected = slow_fowlkes_mallows(first, second, clusters)
        assert trees.fowlkes_mallows(first, second, clusters) == pytest.approx(expected, abs=1e-12)


def test_entanglement_hand_worked():
    assert trees.entanglement([0, 1, 2, 3], [0, 1, 2, 3]) == 0.0
    assert trees.entanglement([0, 1, 2, 3], [3, 2, 1, 0]) == pytest.approx(1.0)
    worst = 2 * 3 ** 1.5 + 2 * 1 ** 1.5
    assert trees.entanglement([0, 1, 2, 3], [1, 0, 2, 3]) == pytest.approx(2 / worst)


@pytest.mark.parametrize("seed", range(5))
def test_unrotated_order_is_scipy_dendrogram_order(seed):
    linkage = random_tree(seed, count=9)
    assert trees.leaf_order_with_flips(linkage, np.zeros(8, dtype=bool)) == leaf_order(linkage)


@pytest.mark.parametrize("seed", range(3))
def test_flips_for_order_round_trip(seed):
    linkage = random_tree(seed)
    flips = np.random.default_rng(seed).random(6) < 0.5
    order = trees.leaf_order_with_flips(linkage, flips)
    assert trees.leaf_order_with_flips(linkage, trees.flips_for_order(linkage, order)) == order


def test_flips_for_order_rejects_undrawable_order():
    with pytest.raises(ValueError, match="cannot be drawn"):
        trees.flips_for_order(BALANCED, [0, 2, 1, 3])


@pytest.mark.parametrize("seed", range(3))
def test_untangle_exhaustive_finds_minimum(seed):
    left, right = random_tree(seed, count=6), random_tree(seed + 7, count=6)
    result = trees.untangle(left, right, leaf_order(left), leaf_order(right))
    assert result.exhaustive
    brute = min(
        trees.entanglement(trees.leaf_order_with_flips(left, np.array(a)), trees.leaf_order_with_flips(right, np.array(b)))
        for a in itertools.product([False, True], repeat=5)
        for b in itertools.product([False, True], repeat=5)
    )
    assert result.entanglement == pytest.approx(brute, abs=1e-15)
    assert trees.entanglement(result.left_order, result.right_order) == pytest.approx(result.entanglement)
    trees.flips_for_order(left, result.left_order)
    trees.flips_for_order(right, result.right_order)


def test_untangle_greedy_never_worse_than_start():
    left, right = random_tree(1, count=12), random_tree(2, count=12)
    start = trees.entanglement(leaf_order(left), leaf_order(right))
    result = trees.untangle(left, right, leaf_order(left), leaf_order(right))
    assert not result.exhaustive
    assert result.entanglement <= start
    assert trees.entanglement(result.left_order, result.right_order) == pytest.approx(result.entanglement)


def test_cophenetic_correlation_matches_scipy():
    points = np.random.default_rng(3).normal(size=(8, 4))
    linkage = hierarchy.linkage(points, "average")
    expected, _ = hierarchy.cophenet(linkage, pdist(points))
    assert trees.cophenetic_correlation(linkage, squareform(pdist(points))) == pytest.approx(expected)
