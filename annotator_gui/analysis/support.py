"""How far to trust each cluster: bootstrap support, cross-split consensus, p-values."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.spatial.distance import squareform

from . import tree_compare as trees
from .clustering import cluster_sets, linkage_of_distances
from .progress import TaskState

DEFAULT_PERMUTATIONS = 999
DEFAULT_REPLICATES = 1000
DEFAULT_SEED = 20210


def node_support(reference: np.ndarray, replicate_trees: Sequence[np.ndarray]) -> np.ndarray:
    """Share of `replicate_trees` that contain each merge's leaf set of `reference`."""
    wanted = cluster_sets(reference)
    hits = np.zeros(len(wanted))
    for linkage in replicate_trees:
        present = set(cluster_sets(linkage))
        hits += [cluster in present for cluster in wanted]
    return hits / max(len(replicate_trees), 1)


def bootstrap_support(
    squared_per_sequence: np.ndarray,
    reference: np.ndarray,
    method: str = "ward",
    replicates: int = DEFAULT_REPLICATES,
    seed: int = DEFAULT_SEED,
    state: TaskState | None = None,
) -> np.ndarray:
    """Bootstrap support of every merge of `reference`, resampling test sequences.

    `squared_per_sequence` is (sequences, annotators, annotators): each
    sequence's contribution to the squared distance. A replicate draws as many
    sequences as there are, with replacement, sums their contributions, takes
    the square root and clusters with `method`. One matrix product gives all
    replicates' distances at once, so the logits are never read again.
    """
    sequences, count, _ = squared_per_sequence.shape
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(sequences, np.full(sequences, 1.0 / sequences), size=replicates)
    flat = squared_per_sequence.reshape(sequences, count * count)
    distances = np.sqrt(np.maximum(weights @ flat, 0.0)).reshape(replicates, count, count)
    replicate_trees = []
    for index in range(replicates):
        if state is not None and index % 50 == 0:
            state.step(index, replicates, 0)
        replicate_trees.append(linkage_of_distances(distances[index], method))
    return node_support(reference, replicate_trees)


def split_consensus(split_trees: Sequence[np.ndarray], reference: np.ndarray) -> np.ndarray:
    """Share of splits whose own tree contains each merge's leaf set of `reference`.

    With fewer than two splits every share would be 1 by construction, which
    reads as strong support, so the shares are NaN instead.
    """
    if len(split_trees) < 2:
        return np.full(len(reference), np.nan)
    return node_support(reference, split_trees)


def majority_clusters(split_trees: Sequence[np.ndarray]) -> list[tuple[frozenset[int], float]]:
    """Clusters found in more than half of the trees, with their shares (a majority-rule consensus)."""
    counts: dict[frozenset[int], int] = {}
    for linkage in split_trees:
        for cluster in cluster_sets(linkage):
            counts[cluster] = counts.get(cluster, 0) + 1
    total = len(split_trees)
    if total < 2:
        return []
    majority = [(cluster, hits / total) for cluster, hits in counts.items() if hits * 2 > total]
    return sorted(majority, key=lambda item: (len(item[0]), sorted(item[0])))


# -- tree comparison with permutation p-values --------------------------------


@dataclass
class TreeComparison:
    """Agreement between the embedding tree and the prediction tree."""

    cophenetic_correlation_embedding: float
    cophenetic_correlation_prediction: float
    cophenetic_correlation_between: float
    bakers_gamma: float
    entanglement: float
    entanglement_untangled: float
    fowlkes_mallows: dict[int, float]
    p_values: dict[str, float]
    untangled: trees.Untangled
    permutations: int

    def record(self) -> dict:
        return {
            "cophenetic_correlation_embedding": self.cophenetic_correlation_embedding,
            "cophenetic_correlation_prediction": self.cophenetic_correlation_prediction,
            "cophenetic_correlation_between": self.cophenetic_correlation_between,
            "bakers_gamma": self.bakers_gamma,
            "entanglement": self.entanglement,
            "entanglement_untangled": self.entanglement_untangled,
            "fowlkes_mallows": {str(k): float(value) for k, value in self.fowlkes_mallows.items()},
            # A p-value that could not be computed is written as null, not NaN.
            "p_values": {key: (None if np.isnan(value) else value) for key, value in self.p_values.items()},
        }


def _p_value(observed: float, null: np.ndarray, larger_is_extreme: bool = True) -> float:
    """One-sided permutation p-value, counting the observed labelling as one permutation."""
    if larger_is_extreme:
        extreme = np.count_nonzero(null >= observed - 1e-12)
    else:
        extreme = np.count_nonzero(null <= observed + 1e-12)
    return float((1 + extreme) / (1 + len(null)))


# Offsets computed at once by the untangled-entanglement null, which bounds its memory.
_MAX_OFFSETS_AT_ONCE = 1 << 21


def _min_entanglement_table(left: np.ndarray, right: np.ndarray) -> Callable[[np.ndarray], np.ndarray] | None:
    """Return f(permutations) = the untangled entanglement after each relabelling of the right tree.

    Every drawable order of both trees is enumerated once, and the minimum
    over all pairs of orders is taken for a block of permutations at a
    time. Returns None when that is too many orders.
    """
    rows = np.asarray(left).shape[0]
    if 4 ** rows > trees.EXHAUSTIVE_ROTATIONS:
        return None
    left_positions = trees.positions(trees.all_orders(left))
    right_positions = trees.positions(trees.all_orders(right))
    block = max(1, _MAX_OFFSETS_AT_ONCE // right_positions.size // len(left_positions))

    def minimum(permutations: np.ndarray) -> np.ndarray:
        # Relabelling leaf i as permutations[p, i] puts leaf j of the
        # relabelled tree where leaf inverse[p, j] was.
        inverse = np.argsort(np.atleast_2d(permutations), axis=1)
        result = np.empty(len(inverse))
        for start in range(0, len(inverse), block):
            relabelled = np.moveaxis(right_positions[:, inverse[start:start + block]], 1, 0)
            table = trees.entanglement_of_positions(left_positions, relabelled)
            result[start:start + block] = table.min(axis=(1, 2))
        return result

    return minimum


class _Relabelling:
    """Views of a tree's data under many relabellings of its leaves at once.

    Row p of `permutations` relabels leaf i as permutations[p, i].
    """

    def __init__(self, permutations: np.ndarray):
        self.permutations = permutations
        self.inverse = np.argsort(permutations, axis=1)
        self.first, self.second = np.triu_indices(permutations.shape[1], 1)

    def condensed(self, square: np.ndarray) -> np.ndarray:
        """Condensed form of the relabelled `square`, one row per permutation."""
        # Entry (i, j) of a relabelled matrix is entry (inverse[i], inverse[j]) of the original.
        return square[self.inverse[:, self.first], self.inverse[:, self.second]]

    def entanglement(self, left_order: list[int], right_order: list[int]) -> np.ndarray:
        """Entanglement of `left_order` with every relabelling of `right_order`."""
        left_positions = np.argsort(np.asarray(left_order))[None, :]
        right_positions = np.argsort(self.permutations[:, np.asarray(right_order)], axis=1)
        return trees.entanglement_of_positions(left_positions, right_positions)[0]


def compare_trees(
    embedding_linkage: np.ndarray,
    embedding_distances: np.ndarray,
    embedding_order: list[int],
    prediction_linkage: np.ndarray,
    prediction_distances: np.ndarray,
    prediction_order: list[int],
    permutations: int = DEFAULT_PERMUTATIONS,
    seed: int = DEFAULT_SEED,
) -> TreeComparison:
    """Compute every tree-comparison metric and its permutation p-value.

    The null hypothesis is that annotator labels are exchangeable: each
    permutation relabels the leaves of the prediction tree (for the
    within-tree correlations, the rows and columns of the distance matrix).
    """
    count = len(embedding_order)
    rng = np.random.default_rng(seed)
    shuffles = np.array([rng.permutation(count) for _ in range(permutations)])

    coph_embedding = trees.cophenetic_matrix(embedding_linkage)
    coph_prediction = trees.cophenetic_matrix(prediction_linkage)
    gamma_embedding = squareform(trees.bakers_gamma_matrix(embedding_linkage), checks=False)
    gamma_prediction = trees.bakers_gamma_matrix(prediction_linkage)

    def condensed(square: np.ndarray) -> np.ndarray:
        return squareform(square, checks=False)

    observed = {
        "cophenetic_correlation_embedding": trees.pearson(condensed(coph_embedding), condensed(embedding_distances)),
        "cophenetic_correlation_prediction": trees.pearson(condensed(coph_prediction), condensed(prediction_distances)),
        "cophenetic_correlation_between": trees.pearson(condensed(coph_embedding), condensed(coph_prediction)),
        "bakers_gamma": trees.bakers_gamma(embedding_linkage, prediction_linkage),
        "entanglement": trees.entanglement(embedding_order, prediction_order),
    }
    untangled = trees.untangle(embedding_linkage, prediction_linkage, embedding_order, prediction_order)
    observed["entanglement_untangled"] = untangled.entanglement

    # Relabelling the leaves only permutes the entries of a condensed matrix,
    # so the ranks of a relabelled gamma matrix are the relabelled ranks.
    gamma_prediction_ranks = squareform(trees.average_ranks(condensed(gamma_prediction)))
    relabelled = _Relabelling(shuffles)
    null = {
        "cophenetic_correlation_embedding": trees.pearson_rows(
            condensed(coph_embedding), relabelled.condensed(embedding_distances)
        ),
        "cophenetic_correlation_prediction": trees.pearson_rows(
            condensed(coph_prediction), relabelled.condensed(prediction_distances)
        ),
        "cophenetic_correlation_between": trees.pearson_rows(
            condensed(coph_embedding), relabelled.condensed(coph_prediction)
        ),
        "bakers_gamma": trees.pearson_rows(trees.average_ranks(gamma_embedding), relabelled.condensed(gamma_prediction_ranks)),
        "entanglement": relabelled.entanglement(embedding_order, prediction_order),
    }
    minimum_entanglement = _min_entanglement_table(embedding_linkage, prediction_linkage)
    if minimum_entanglement is None:
        null["entanglement_untangled"] = np.array([])
    else:
        null["entanglement_untangled"] = minimum_entanglement(shuffles)

    p_values = {}
    for key, value in observed.items():
        values = null[key]
        if len(values) == 0:
            p_values[key] = float("nan")
            continue
        p_values[key] = _p_value(value, values, larger_is_extreme=not key.startswith("entanglement"))

    fowlkes_mallows = {k: trees.fowlkes_mallows(embedding_linkage, prediction_linkage, k) for k in range(2, count)}
    return TreeComparison(
        **observed,
        fowlkes_mallows=fowlkes_mallows,
        p_values=p_values,
        untangled=untangled,
        permutations=permutations,
    )
