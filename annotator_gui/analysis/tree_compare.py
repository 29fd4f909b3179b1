"""Compare two dendrograms over the same annotators, with permutation p-values.

Definitions follow the R package dendextend (Galili, 2015), which most
readers of a tanglegram know:

- cophenetic correlation: Pearson correlation between cophenetic distances
  (of a tree and its own distance matrix, or of two trees);
- Baker's gamma: Spearman correlation, over leaf pairs, of the largest
  number of clusters k at which the pair still shares a cluster;
- Fowlkes-Mallows index B_k: for the cuts of both trees into k clusters,
  pairs together in both / sqrt(pairs together in one * pairs together in the other);
- entanglement: sum over leaves of |position in left order - position in
  right order| ** 1.5, divided by the same sum for two reversed orders, so
  that 0 is a perfect match and 1 the worst.

Trees are scipy linkage matrices. Cuts into k clusters undo the last k - 1
merges, which is what `scipy.cluster.hierarchy.cut_tree` does for a
monotone linkage.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
from scipy.cluster.hierarchy import cophenet
from scipy.spatial.distance import squareform

ENTANGLEMENT_POWER = 1.5
#: Above this many rotation pairs, untangling switches from exhaustive to greedy search.
EXHAUSTIVE_ROTATIONS = 1 << 14


def merge_rank(linkage: np.ndarray) -> np.ndarray:
    """Square matrix: for each leaf pair, the linkage row at which they first share a cluster."""
    linkage = np.asarray(linkage)
    count = linkage.shape[0] + 1
    members: list[list[int]] = [[leaf] for leaf in range(count)]
    rank = np.full((count, count), -1, dtype=np.int64)
    for row, (left, right) in enumerate(linkage[:, :2].astype(np.int64)):
        for i in members[left]:
            for j in members[right]:
                rank[i, j] = rank[j, i] = row
        members.append(members[left] + members[right])
    return rank


def cut_labels(linkage: np.ndarray, clusters: int) -> np.ndarray:
    """Flat cluster label of every leaf when the tree is cut into `clusters` clusters."""
    linkage = np.asarray(linkage)
    count = linkage.shape[0] + 1
    if not 1 <= clusters <= count:
        raise ValueError(f"cannot cut {count} leaves into {clusters} clusters")
    rank = merge_rank(linkage)
    together = rank <= count - 1 - clusters
    np.fill_diagonal(together, True)
    labels = np.full(count, -1, dtype=np.int64)
    next_label = 0
    for leaf in range(count):
        if labels[leaf] < 0:
            labels[together[leaf]] = next_label
            next_label += 1
    return labels


def cophenetic_correlation(linkage: np.ndarray, distances: np.ndarray) -> float:
    """Pearson correlation between a tree's cophenetic distances and a square distance matrix."""
    correlation, _ = cophenet(np.asarray(linkage, dtype=np.float64), squareform(distances, checks=False))
    return float(correlation)


def _condensed(square: np.ndarray) -> np.ndarray:
    return squareform(np.asarray(square, dtype=np.float64), checks=False)


def cophenetic_matrix(linkage: np.ndarray) -> np.ndarray:
    return squareform(cophenet(np.asarray(linkage, dtype=np.float64)))


def pearson(first: np.ndarray, second: np.ndarray) -> float:
    return float(pearson_rows(first, np.asarray(second)[None, :])[0])


def pearson_rows(first: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Return the Pearson correlation of `first` with every row of `rows` (NaN where a variance is 0)."""
    first = first - first.mean()
    rows = rows - rows.mean(axis=1, keepdims=True)
    denominator = np.sqrt((first @ first) * np.einsum("ij,ij->i", rows, rows))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, (rows @ first) / denominator, np.nan)


def bakers_gamma_matrix(linkage: np.ndarray) -> np.ndarray:
    """For each leaf pair, the largest k at which the pair still shares a cluster."""
    count = np.asarray(linkage).shape[0] + 1
    return (count - 1 - merge_rank(linkage)).astype(np.float64)


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Rank `values` from 1 to n, giving tied values the mean of their ranks.

    These are the ranks of Spearman's correlation, as `scipy.stats.rankdata`
    computes them. They are computed here because importing scipy.stats
    took about a second of `analyze`'s start-up.
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    ends = np.r_[starts[1:], values.size]
    ranks = np.empty(values.size)
    # A run of ties at sorted positions start..end-1 takes ranks start+1..end.
    ranks[order] = np.repeat((starts + 1 + ends) / 2.0, ends - starts)
    return ranks


def spearman(first: np.ndarray, second: np.ndarray) -> float:
    """Spearman's rank correlation: the Pearson correlation of the average ranks."""
    return pearson(average_ranks(first), average_ranks(second))


def bakers_gamma(first: np.ndarray, second: np.ndarray) -> float:
    return spearman(_condensed(bakers_gamma_matrix(first)), _condensed(bakers_gamma_matrix(second)))


def fowlkes_mallows(first: np.ndarray, second: np.ndarray, clusters: int) -> float:
    a = cut_labels(first, clusters)
    b = cut_labels(second, clusters)
    same_a = _condensed(a[:, None] == a[None, :])
    same_b = _condensed(b[:, None] == b[None, :])
    both = float((same_a * same_b).sum())
    denominator = np.sqrt(same_a.sum() * same_b.sum())
    return both / denominator if denominator > 0 else 0.0


def entanglement(left_order, right_order, power: float = ENTANGLEMENT_POWER) -> float:
    """dendextend's entanglement of two drawn leaf orders (0 = perfect match, 1 = worst)."""
    left_order = list(left_order)
    count = len(left_order)
    position_right = {leaf: index for index, leaf in enumerate(right_order)}
    offsets = np.array([abs(index - position_right[leaf]) for index, leaf in enumerate(left_order)], dtype=float)
    worst = np.abs(np.arange(count) - np.arange(count)[::-1]) ** power
    return float((offsets ** power).sum() / worst.sum())


# -- rotations and untangling ------------------------------------------------


def leaf_order_with_flips(linkage: np.ndarray, flips: np.ndarray) -> list[int]:
    """Leaf order of the tree after swapping the children of every merge row where `flips` is set."""
    linkage = np.asarray(linkage)
    count = linkage.shape[0] + 1
    order: list[int] = []
    stack = [2 * count - 2]
    while stack:
        node = stack.pop()
        if node < count:
            order.append(node)
            continue
        row = node - count
        left, right = int(linkage[row, 0]), int(linkage[row, 1])
        if flips[row]:
            left, right = right, left
        stack.append(right)
        stack.append(left)
    return order


def flips_for_order(linkage: np.ndarray, order: list[int]) -> np.ndarray:
    """The flips that turn the tree's unrotated leaf order into `order` (which must be drawable)."""
    linkage = np.asarray(linkage)
    count = linkage.shape[0] + 1
    position = {leaf: index for index, leaf in enumerate(order)}
    first_position = list(position.get(node, 0) for node in range(count)) + [0] * (count - 1)
    flips = np.zeros(count - 1, dtype=bool)
    for row, (left, right) in enumerate(linkage[:, :2].astype(np.int64)):
        flips[row] = first_position[left] > first_position[right]
        first_position[count + row] = min(first_position[left], first_position[right])
    if leaf_order_with_flips(linkage, flips) != list(order):
        raise ValueError(f"leaf order {order} cannot be drawn from this tree")
    return flips


@dataclass
class Untangled:
    """Leaf orders after rotating branches to minimise entanglement."""

    left_order: list[int]
    right_order: list[int]
    entanglement: float
    exhaustive: bool
    evaluated: int = field(default=0)


def all_orders(linkage: np.ndarray) -> list[list[int]]:
    rows = np.asarray(linkage).shape[0]
    orders = {}
    for bits in itertools.product((False, True), repeat=rows):
        order = leaf_order_with_flips(linkage, np.array(bits))
        orders[tuple(order)] = order
    return list(orders.values())


def positions(orders: list[list[int]]) -> np.ndarray:
    return np.array([np.argsort(order) for order in orders], dtype=np.int16)


def entanglement_of_positions(left_positions: np.ndarray, right_positions: np.ndarray) -> np.ndarray:
    """Entanglement of every (left, right) pair of position rows; offsets are looked up, not powered.

    `left_positions` is (L, leaves) and `right_positions` (..., R, leaves);
    the result is (..., L, R).
    """
    count = left_positions.shape[1]
    powers = np.arange(count, dtype=float) ** ENTANGLEMENT_POWER
    worst = powers[np.abs(np.arange(count) - np.arange(count)[::-1])].sum()
    offsets = np.abs(left_positions[:, None, :] - right_positions[..., None, :, :])
    return powers[offsets].sum(axis=-1) / worst


def entanglement_table(left_orders: list[list[int]], right_orders: list[list[int]]) -> np.ndarray:
    """Entanglement of every pair (left order, right order), vectorised."""
    return entanglement_of_positions(positions(left_orders), positions(right_orders))


def untangle(left: np.ndarray, right: np.ndarray, left_order: list[int], right_order: list[int]) -> Untangled:
    """Rotate branches of both trees to minimise entanglement.

    Searches every rotation of both trees while there are at most
    `EXHAUSTIVE_ROTATIONS` combinations. Beyond that, it flips one merge at a
    time, alternating trees, while that lowers the entanglement (a local
    optimum, not guaranteed to be the global one).
    """
    rows = np.asarray(left).shape[0]
    best = (entanglement(left_order, right_order), list(left_order), list(right_order))
    if 4 ** rows <= EXHAUSTIVE_ROTATIONS:
        left_orders, right_orders = all_orders(left), all_orders(right)
        table = entanglement_table(left_orders, right_orders)
        first, second = np.unravel_index(np.argmin(table), table.shape)
        if table[first, second] < best[0] - 1e-15:
            best = (float(table[first, second]), left_orders[first], right_orders[second])
        return Untangled(best[1], best[2], best[0], exhaustive=True, evaluated=table.size)

    flips = [flips_for_order(left, left_order), flips_for_order(right, right_order)]
    trees = [left, right]
    evaluated = 0
    improved = True
    while improved:
        improved = False
        for side in (0, 1):
            for row in range(rows):
                flips[side][row] = ~flips[side][row]
                orders = [leaf_order_with_flips(trees[index], flips[index]) for index in (0, 1)]
                value = entanglement(*orders)
                evaluated += 1
                if value < best[0] - 1e-15:
                    best = (value, orders[0], orders[1])
                    improved = True
                else:
                    flips[side][row] = ~flips[side][row]
    return Untangled(best[1], best[2], best[0], exhaustive=False, evaluated=evaluated)
