"""Bootstrap support, split consensus and permutation p-values."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.cluster import hierarchy
from scipy.spatial.distance import squareform
from scipy.stats import spearmanr

from annotator_gui.analysis import support
from annotator_gui.analysis import tree_compare as trees
from annotator_gui.analysis.clustering import euclidean_distances, leaf_order, linkage_of_distances

BALANCED = np.array([[0, 1, 1.0, 2], [2, 3, 2.0, 2], [4, 5, 5.0, 4]])
CHAIN = np.array([[0, 1, 1.0, 2], [2, 4, 2.0, 3], [3, 5, 3.0, 4]])


def per_sequence_squares(seed: int, sequences: int = 40, annotators: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(annotators, 3))
    squares = np.zeros((sequences, annotators, annotators))
    for index in range(sequences):
        points = centres + 0.3 * rng.normal(size=centres.shape)
        squares[index] = euclidean_distances(points) ** 2
    return squares


def test_split_consensus_hand_worked():
    # BALANCED's clusters: {0,1}, {2,3}, root. CHAIN contains {0,1} and the root only.
    shares = support.split_consensus([BALANCED, CHAIN, BALANCED, CHAIN], BALANCED)
    np.testing.assert_allclose(shares, [1.0, 0.5, 1.0])


def test_majority_clusters_hand_worked():
    majority = support.majority_clusters([BALANCED, CHAIN, CHAIN])
    assert [sorted(cluster) for cluster, _ in majority] == [[0, 1], [0, 1, 2], [0, 1, 2, 3]]
    assert [share for _, share in majority] == pytest.approx([1.0, 2 / 3, 1.0])


def test_bootstrap_identical_sequences_give_full_support():
    one = per_sequence_squares(0, sequences=1)[0]
    squares = np.repeat(one[None], 30, axis=0)
    reference = linkage_of_distances(np.sqrt(squares.sum(axis=0)))
    shares = support.bootstrap_support(squares, reference, replicates=200)
    np.testing.assert_array_equal(shares, np.ones(len(reference)))


def test_bootstrap_matches_slow_loop():
    squares = per_sequence_squares(4)
    reference = linkage_of_distances(np.sqrt(squares.sum(axis=0)))
    replicates, seed = 120, 9
    shares = support.bootstrap_support(squares, reference, replicates=replicates, seed=seed)

    rng = np.random.default_rng(seed)
    weights = rng.multinomial(len(squares), np.full(len(squares), 1 / len(squares)), size=replicates)
    reference_sets = []
    members = {leaf: {leaf} for leaf in range(5)}
    for row, (left, right, _, _) in enumerate(reference):
        members[5 + row] = members[int(left)] | members[int(right)]
        reference_sets.append(frozenset(members[5 + row]))
    hits = np.zeros(len(reference_sets))
    for draw in weights:
        total = sum(count * squares[index] for index, count in enumerate(draw))
        tree = hierarchy.linkage(np.sqrt(total)[np.triu_indices(5, 1)], "ward")
        found = set()
        nodes = {leaf: {leaf} for leaf in range(5)}
        for row, (left, right, _, _) in enumerate(tree):
            nodes[5 + row] = nodes[int(left)] | nodes[int(right)]
            found.add(frozenset(nodes[5 + row]))
        hits += [cluster in found for cluster in reference_sets]
    np.testing.assert_allclose(shares, hits / replicates)


def test_bootstrap_is_reproducible_with_seed():
    squares = per_sequence_squares(2)
    reference = linkage_of_distances(np.sqrt(squares.sum(axis=0)))
    first = support.bootstrap_support(squares, reference, replicates=100, seed=1)
    second = support.bootstrap_support(squares, reference, replicates=100, seed=1)
    np.testing.assert_array_equal(first, second)


def _comparison(first_points, second_points, permutations=999):
    first_distances = euclidean_distances(first_points)
    second_distances = euclidean_distances(second_points)
    first = linkage_of_distances(first_distances)
    second = linkage_of_distances(second_distances)
    return support.compare_trees(
        first, first_distances, leaf_order(first), second, second_distances, leaf_order(second),
        permutations=permutations,
    )


def test_identical_trees_agree_significantly():
    points = np.random.default_rng(5).normal(size=(8, 3))
    result = _comparison(points, points)
    assert result.cophenetic_correlation_between == pytest.approx(1.0)
    assert result.bakers_gamma == pytest.approx(1.0)
    assert result.entanglement == 0.0
    assert result.entanglement_untangled == 0.0
    assert all(value == pytest.approx(1.0) for value in result.fowlkes_mallows.values())
    assert result.p_values["cophenetic_correlation_between"] < 0.01
    assert result.p_values["bakers_gamma"] < 0.01
    assert result.p_values["entanglement"] < 0.01
    assert sorted(result.fowlkes_mallows) == list(range(2, 8))


def test_p_values_lie_in_range_and_repeat():
    rng = np.random.default_rng(6)
    first, second = rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
    result = _comparison(first, second)
    again = _comparison(first, second)
    assert result.p_values == again.p_values
    for key, value in result.p_values.items():
        assert 1 / 1000 <= value <= 1.0, key


def test_permutation_null_matches_slow_loop():
    # Relabel the prediction tree's leaves one permutation at a time, the
    # obvious way, and recompute every statistic from scratch.
    rng = np.random.default_rng(9)
    first_distances = euclidean_distances(rng.normal(size=(6, 3)))
    second_distances = euclidean_distances(rng.normal(size=(6, 3)))
    first, second = linkage_of_distances(first_distances), linkage_of_distances(second_distances)
    first_order, second_order = leaf_order(first), leaf_order(second)
    coph_first, coph_second = trees.cophenetic_matrix(first), trees.cophenetic_matrix(second)
    gamma_first, gamma_second = trees.bakers_gamma_matrix(first), trees.bakers_gamma_matrix(second)
    permutations = np.array([rng.permutation(6) for _ in range(40)])

    def relabel(square, permutation):
        result = np.empty_like(square)
        result[np.ix_(permutation, permutation)] = square
        return squareform(result, checks=False)

    def condensed(square):
        return squareform(square, checks=False)

    slow = {key: [] for key in ("embedding", "prediction", "between", "gamma", "entanglement")}
    for permutation in permutations:
        slow["embedding"].append(trees.pearson(condensed(coph_first), relabel(first_distances, permutation)))
        slow["prediction"].append(trees.pearson(condensed(coph_second), relabel(second_distances, permutation)))
        slow["between"].append(trees.pearson(condensed(coph_first), relabel(coph_second, permutation)))
        slow["gamma"].append(spearmanr(condensed(gamma_first), relabel(gamma_second, permutation)).statistic)
        relabelled_order = [int(permutation[leaf]) for leaf in second_order]
        slow["entanglement"].append(trees.entanglement(first_order, relabelled_order))

    relabelled = support._Relabelling(permutations)
    fast = {
        "embedding": trees.pearson_rows(condensed(coph_first), relabelled.condensed(first_distances)),
        "prediction": trees.pearson_rows(condensed(coph_second), relabelled.condensed(second_distances)),
        "between": trees.pearson_rows(condensed(coph_first), relabelled.condensed(coph_second)),
        "gamma": trees.pearson_rows(
            trees.average_ranks(condensed(gamma_first)),
            relabelled.condensed(squareform(trees.average_ranks(condensed(gamma_second)))),
        ),
        "entanglement": relabelled.entanglement(first_order, second_order),
    }
    for key, values in slow.items():
        np.testing.assert_allclose(fast[key], values, rtol=0, atol=1e-13, err_msg=key)


def test_pearson_rows_constant_row_is_nan():
    rows = np.array([[1.0, 2.0, 3.0], [2.0, 2.0, 2.0]])
    result = trees.pearson_rows(np.array([1.0, 2.0, 4.0]), rows)
    assert result[0] == pytest.approx(trees.pearson(np.array([1.0, 2.0, 4.0]), rows[0]))
    assert np.isnan(result[1])


def test_untangled_p_value_matches_slow_enumeration():
    # The vectorised table must give, for a relabelling, the same minimum as
    # untangling the relabelled tree directly.
    rng = np.random.default_rng(8)
    first = linkage_of_distances(euclidean_distances(rng.normal(size=(5, 2))))
    second = linkage_of_distances(euclidean_distances(rng.normal(size=(5, 2))))
    table = support._min_entanglement_table(first, second)
    for permutation in itertools.islice(itertools.permutations(range(5)), 0, 120, 7):
        permutation = np.array(permutation)
        relabelled_orders = [
            [int(permutation[leaf]) for leaf in trees.leaf_order_with_flips(second, np.array(bits))]
            for bits in itertools.product([False, True], repeat=4)
        ]
        slow = min(
            trees.entanglement(trees.leaf_order_with_flips(first, np.array(bits)), order)
            for bits in itertools.product([False, True], repeat=4)
            for order in relabelled_orders
        )
        assert table(permutation)[0] == pytest.approx(slow, abs=1e-15)


def test_untangled_null_blocks_agree(monkeypatch):
    # A block of one permutation at a time must give what one block of all gives.
    rng = np.random.default_rng(10)
    first = linkage_of_distances(euclidean_distances(rng.normal(size=(6, 2))))
    second = linkage_of_distances(euclidean_distances(rng.normal(size=(6, 2))))
    permutations = np.array([rng.permutation(6) for _ in range(25)])
    together = support._min_entanglement_table(first, second)(permutations)
    monkeypatch.setattr(support, "_MAX_OFFSETS_AT_ONCE", 1)
    one_by_one = support._min_entanglement_table(first, second)(permutations)
    np.testing.assert_array_equal(together, one_by_one)
    assert together.shape == (25,)


def test_record_keys():
    rng = np.random.default_rng(7)
    record = _comparison(rng.normal(size=(6, 2)), rng.normal(size=(6, 2)), permutations=99).record()
    scalars = {
        "cophenetic_correlation_embedding", "cophenetic_correlation_prediction",
        "cophenetic_correlation_between", "bakers_gamma", "entanglement", "entanglement_untangled",
    }
    assert set(record) == scalars | {"fowlkes_mallows", "p_values"}
    assert set(record["p_values"]) == scalars
    assert set(record["fowlkes_mallows"]) == {"2", "3", "4", "5"}


def test_split_consensus_undefined_for_one_split():
    shares = support.split_consensus([BALANCED], BALANCED)
    assert np.isnan(shares).all()
    assert support.majority_clusters([BALANCED]) == []
