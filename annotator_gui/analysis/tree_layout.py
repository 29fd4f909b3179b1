"""Dendrogram layout as plain coordinates, for drawing and hit-testing without Qt.

Leaves sit at positions 0, 1, ..., n - 1 in the given leaf order, and every
merge sits halfway between its two children at the height that the linkage
matrix records. scipy's `dendrogram` uses the same layout scaled as
`5 + 10 * position`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Merge:
    """One row of a linkage matrix, placed: the U-shape joining two clusters."""

    node: int
    left: int
    right: int
    height: float
    #: Four (position, height) corners of the U: left foot, left top, right top, right foot.
    positions: tuple[float, float, float, float]
    heights: tuple[float, float, float, float]


@dataclass(frozen=True)
class TreeLayout:
    """Coordinates of every node of a dendrogram with `leaf_count` leaves.

    Nodes are numbered as in scipy: leaves are 0 .. n - 1 and the merge in
    row r of the linkage matrix is node n + r.
    """

    leaf_count: int
    leaf_order: tuple[int, ...]
    node_position: tuple[float, ...]
    node_height: tuple[float, ...]
    parent: tuple[int, ...]  # -1 for the root
    leaves_under: tuple[frozenset[int], ...]
    merges: tuple[Merge, ...]

    @property
    def root(self) -> int:
        return 2 * self.leaf_count - 2

    @property
    def max_height(self) -> float:
        return self.node_height[self.root]

    def leaf_position(self, leaf: int) -> float:
        return self.node_position[leaf]

    def path_to_root(self, node: int) -> list[int]:
        """Return `node` and every node above it, ending with the root."""
        path = [node]
        while self.parent[path[-1]] >= 0:
            path.append(self.parent[path[-1]])
        return path


def tree_layout(linkage: np.ndarray, leaf_order: list[int]) -> TreeLayout:
    """Place the nodes of a scipy linkage matrix, with leaves in `leaf_order`.

    Raises ValueError when `leaf_order` is not a permutation of the leaves or
    the linkage matrix is not (n - 1) x 4.
    """
    linkage = np.asarray(linkage, dtype=np.float64)
    leaf_count = len(leaf_order)
    if linkage.ndim != 2 or linkage.shape != (leaf_count - 1, 4):
        raise ValueError(f"linkage matrix has shape {linkage.shape}, expected ({leaf_count - 1}, 4)")
    if sorted(leaf_order) != list(range(leaf_count)):
        raise ValueError(f"leaf order {list(leaf_order)} is not a permutation of 0 .. {leaf_count - 1}")

    node_count = 2 * leaf_count - 1
    position = [0.0] * node_count
    height = [0.0] * node_count
    parent = [-1] * node_count
    leaves_under: list[frozenset[int]] = [frozenset()] * node_count
    for rank, leaf in enumerate(leaf_order):
        position[leaf] = float(rank)
        leaves_under[leaf] = frozenset([leaf])

    merges = []
    for row, (first, second, distance, _size) in enumerate(linkage):
        node = leaf_count + row
        first, second = int(first), int(second)
        if not (0 <= first < node and 0 <= second < node):
            raise ValueError(f"linkage row {row} joins node {first} and {second}, which do not exist yet")
        left, right = (first, second) if position[first] <= position[second] else (second, first)
        position[node] = (position[left] + position[right]) / 2.0
        height[node] = float(distance)
        parent[left] = parent[right] = node
        leaves_under[node] = leaves_under[left] | leaves_under[right]
        merges.append(
            Merge(
                node=node,
                left=left,
                right=right,
                height=height[node],
                positions=(position[left], position[left], position[right], position[right]),
                heights=(height[left], height[node], height[node], height[right]),
            )
        )

    return TreeLayout(
        leaf_count=leaf_count,
        leaf_order=tuple(int(leaf) for leaf in leaf_order),
        node_position=tuple(position),
        node_height=tuple(height),
        parent=tuple(parent),
        leaves_under=tuple(leaves_under),
        merges=tuple(merges),
    )


def node_at(layout: TreeLayout, position: float, height: float, position_tolerance: float, height_tolerance: float) -> int | None:
    """Return the node whose branch passes closest to a point, or None.

    A leaf or inner node owns the vertical line from its own height up to its
    parent's merge, and an inner node also owns its horizontal bar. Points
    farther than the tolerances from every line belong to no node.
    """
    best, best_distance = None, float("inf")
    for node in range(len(layout.node_position)):
        node_position = layout.node_position[node]
        low = layout.node_height[node]
        parent = layout.parent[node]
        high = layout.node_height[parent] if parent >= 0 else low
        # The vertical stem above the node, measured across the position axis.
        if low - height_tolerance <= height <= high + height_tolerance:
            distance = abs(position - node_position) / position_tolerance
            if distance <= 1.0 and distance < best_distance:
                best, best_distance = node, distance
    for merge in layout.merges:
        # The horizontal bar of a merge, measured along the height axis.
        if merge.positions[0] - position_tolerance <= position <= merge.positions[2] + position_tolerance:
            distance = abs(height - merge.height) / height_tolerance
            if distance <= 1.0 and distance < best_distance:
                best, best_distance = merge.node, distance
    return best


def highlighted_nodes(layout: TreeLayout, leaves: set[int] | frozenset[int]) -> set[int]:
    """Return every node whose subtree contains at least one of `leaves`."""
    nodes: set[int] = set()
    for leaf in leaves:
        if 0 <= leaf < layout.leaf_count:
            nodes.update(layout.path_to_root(leaf))
    return nodes
