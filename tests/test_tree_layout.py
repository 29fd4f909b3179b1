"""Tree layout against scipy's own dendrogram coordinates."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.cluster import hierarchy

from annotator_gui.analysis.clustering import leaf_order, ward_linkage_of_points
from annotator_gui.analysis.tree_layout import highlighted_nodes, node_at, tree_layout

from .conftest import expected


def _scipy_shapes(linkage):
    reference = hierarchy.dendrogram(linkage, no_plot=True)
    shapes = []
    for xs, ys in zip(reference["icoord"], reference["dcoord"]):
        positions = tuple(round((x - 5.0) / 10.0, 9) for x in xs)
        shapes.append((positions, tuple(round(y, 9) for y in ys)))
    return reference["leaves"], sorted(shapes)


def _our_shapes(layout):
    return sorted(
        (tuple(round(p, 9) for p in merge.positions), tuple(round(h, 9) for h in merge.heights))
        for merge in layout.merges
    )


def _random_linkages():
    generator = np.random.default_rng(20210)
    for count in (2, 3, 5, 8, 13, 30):
        points = generator.normal(size=(count, 4))
        yield ward_linkage_of_points(points)
    # Ties in merge heights: scipy still orders the children by the linkage row.
    yield hierarchy.linkage(np.array([[0.0], [1.0], [2.0], [3.0]]), method="single")


@pytest.mark.parametrize("linkage", list(_random_linkages()))
def test_layout_matches_scipy_dendrogram(linkage):
    leaves, reference = _scipy_shapes(linkage)
    layout = tree_layout(linkage, leaf_order(linkage))

    assert list(layout.leaf_order) == leaves
    assert _our_shapes(layout) == reference
    for rank, leaf in enumerate(leaves):
        assert layout.leaf_position(leaf) == rank


def test_layout_of_published_embedding():
    record = expected("mabe_2split_legacy.split0")
    linkage = np.array(record["embedding_ward_linkage"])
    layout = tree_layout(linkage, record["embedding_leaf_order"])

    assert layout.leaf_order == (3, 4, 0, 1, 2, 5)
    assert _our_shapes(layout) == _scipy_shapes(linkage)[1]
    assert layout.max_height == pytest.approx(3.6465492772984476, rel=1e-12)


def test_leaves_under_every_node():
    record = expected("mabe_2split_legacy.split0")
    linkage = np.array(record["embedding_ward_linkage"])
    layout = tree_layout(linkage, record["embedding_leaf_order"])

    # Rows of the published linkage: (0, 1), (3, 4), (2, 5), (6, 8), (7, 9).
    assert layout.leaves_under[6] == {0, 1}
    assert layout.leaves_under[7] == {3, 4}
    assert layout.leaves_under[8] == {2, 5}
    assert layout.leaves_under[9] == {0, 1, 2, 5}
    assert layout.leaves_under[layout.root] == set(range(6))
    # A slow check: each node's leaves are the union of its children's.
    for merge in layout.merges:
        assert layout.leaves_under[merge.node] == layout.leaves_under[merge.left] | layout.leaves_under[merge.right]


def test_path_to_root_and_highlighted_nodes():
    record = expected("mabe_2split_legacy.split0")
    layout = tree_layout(np.array(record["embedding_ward_linkage"]), record["embedding_leaf_order"])

    assert layout.path_to_root(2) == [2, 8, 9, 10]
    assert highlighted_nodes(layout, {2}) == {2, 8, 9, 10}
    assert highlighted_nodes(layout, {3, 5}) == {3, 7, 10, 5, 8, 9}
    assert highlighted_nodes(layout, set()) == set()


def test_node_at_finds_stems_and_bars():
    record = expected("mabe_2split_legacy.split0")
    layout = tree_layout(np.array(record["embedding_ward_linkage"]), record["embedding_leaf_order"])
    merge = layout.merges[0]  # joins leaves 0 and 1 at height 2.19

    # On leaf 0's stem, halfway up.
    assert node_at(layout, layout.leaf_position(0) + 0.05, 1.0, 0.2, 0.1) == 0
    # On the horizontal bar of the merge of 0 and 1.
    middle = layout.node_position[merge.node]
    assert node_at(layout, middle, merge.height + 0.02, 0.2, 0.1) == merge.node
    # Far from every line.
    assert node_at(layout, 2.5, 0.5, 0.2, 0.1) is None
    # On the root's bar.
    root_position = layout.node_position[layout.root]
    assert node_at(layout, root_position, layout.max_height, 0.2, 0.1) == layout.root


def test_layout_rejects_bad_input():
    linkage = ward_linkage_of_points(np.eye(3))
    with pytest.raises(ValueError, match="not a permutation"):
        tree_layout(linkage, [0, 0, 1])
    with pytest.raises(ValueError, match="expected"):
        tree_layout(linkage, [0, 1, 2, 3])
