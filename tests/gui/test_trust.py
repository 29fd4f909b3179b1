"""The cluster trust pane: linkage choices, the assessment, untangling, support labels and flat clusters."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from annotator_gui.analysis.clustering import euclidean_distances, leaf_order, linkage_of_distances
from annotator_gui.analysis.tree_compare import cut_labels, entanglement, untangle
from annotator_gui.analysis.trust import assess_trust
from annotator_gui.gui.dendrogram_plot import format_share
from annotator_gui.gui.flat_clusters import cut_height
from annotator_gui.gui.metric_choice import squared_per_sequence
from annotator_gui.gui.palette import cluster_color
from annotator_gui.gui.trust_texts import COMPARISON_ROWS, format_value

from .conftest import COMPUTE_TIMEOUT_MS, make_window
from .gate import GatedAssess

ASSESS_TIMEOUT_MS = 60_000


def wait_for_trust(qtbot, window):
    """Wait until the trees on screen have their assessment (the signal may have come already)."""
    if window.session.trust is None:
        with qtbot.waitSignal(window.session.trust_changed, timeout=ASSESS_TIMEOUT_MS):
            pass
        qtbot.waitUntil(lambda: window.session.trust is not None, timeout=ASSESS_TIMEOUT_MS)
    return window.session.trust


def choose_metric(qtbot, window, metric):
    box = window.distance_pane.metric_box
    box.setCurrentIndex(box.findData(metric))
    return wait_for_trust(qtbot, window)


@pytest.fixture
def assessed(qtbot, computed):
    wait_for_trust(qtbot, computed)
    return computed


def reference_assessment(window):
    session = window.session
    view = session.metric_view()
    embedding = session.embedding
    return assess_trust(
        session.checkpoint,
        embedding.task,
        embedding.embedding,
        embedding.linkage,
        embedding.leaf_order,
        squared_per_sequence(session.comparison, session.metric),
        view.distances,
        view.linkage,
        view.leaf_order,
        method=session.method,
    )


def table_rows(pane):
    table = pane.table
    return {table.item(row, 0).text(): (table.item(row, 1).text(), table.item(row, 2).text()) for row in range(table.rowCount())}


def test_panel_matches_assess_trust(assessed):
    record = reference_assessment(assessed).record()["tree_comparison"]
    rows = table_rows(assessed.trust_pane)

    for key, name, _tooltip in COMPARISON_ROWS:
        value, p_value = rows[name]
        assert value == format_value(record[key]), name
        assert p_value == format_value(record["p_values"][key]), name
    for k, value in record["fowlkes_mallows"].items():
        assert rows[f"Fowlkes-Mallows B_{k} (k = {k})"][0] == format_value(value)
    assert len(rows) == len(COMPARISON_ROWS) + len(record["fowlkes_mallows"])
    footnote = assessed.trust_pane.footnote.text()
    assert "999 permutations" in footnote
    assert "seed 20210" in footnote
    assert "1000 bootstrap replicates" in footnote


def test_panel_tooltips_explain_direction(assessed):
    table = assessed.trust_pane.table
    for row in range(table.rowCount()):
        tooltip = table.item(row, 1).toolTip()
        assert "better" in tooltip or "Higher" in tooltip, table.item(row, 0).text()
    assert "permutation" in table.item(0, 2).toolTip()


def test_support_labels_on_every_merge(assessed):
    reference = reference_assessment(assessed)
    trees = assessed.dendrogram_pane
    leaves = 6
    # Text items place themselves when painted, so render once before measuring them.
    trees.canvas.grab()

    for tree, shares in ((trees.prediction_tree, reference.bootstrap_support), (trees.embedding_tree, reference.split_consensus)):
        assert sorted(tree.support_labels) == list(range(leaves, 2 * leaves - 1))
        for row, share in enumerate(shares):
            assert tree.support_labels[leaves + row].toPlainText() == format_share(share)
        rectangles = [label.sceneBoundingRect() for label in tree.support_labels.values()]
        for index, first in enumerate(rectangles):
            assert tree.vb.sceneBoundingRect().contains(first), "a support label is clipped"
            for second in rectangles[index + 1:]:
                assert not first.intersects(second), "two support labels overlap"
        layout = tree.tree
        for node, label in tree.support_labels.items():
            rectangle = label.sceneBoundingRect()
            merge_x = tree.vb.mapViewToScene(QPointF(layout.node_height[node], 0)).x()
            assert not rectangle.left() < merge_x < rectangle.right(), f"label of node {node} crosses its merge bar"
            parent = layout.parent[node]
            if parent >= 0:
                parent_x = tree.vb.mapViewToScene(QPointF(layout.node_height[parent], 0)).x()
                assert not rectangle.left() < parent_x < rectangle.right(), f"label of node {node} crosses its parent's bar"


def test_consensus_view_dashes_weak_merges(assessed):
    trust = assessed.session.trust
    tree = assessed.dendrogram_pane.embedding_tree
    assert tree.dashed_branches() == set()

    assessed.trust_pane.dash_box.setChecked(True)

    weak = {6 + row for row, share in enumerate(trust.split_consensus) if share <= 0.5}
    assert weak
    expected = {node for node, parent in enumerate(tree.tree.parent) if parent in weak}
    assert tree.dashed_branches() == expected
    items = [assessed.trust_pane.consensus_list.item(row).text() for row in range(assessed.trust_pane.consensus_list.count())]
    assert "{0, 1}: 100% of 2 splits" in items


def test_ward_disabled_for_kappa(qtbot, assessed):
    pane = assessed.trust_pane
    ward = pane.method_box.model().item(pane.method_box.findData("ward"))

    choose_metric(qtbot, assessed, "kappa")

    assert not ward.isEnabled()
    assert pane.method_box.currentData() == "average"
    assert assessed.session.method == "average"
    assert pane.method_note.isVisibleTo(assessed)
    assert "Ward linkage needs euclidean distances" in pane.method_note.text()
    assert "Ward linkage needs euclidean distances" in ward.toolTip()

    choose_metric(qtbot, assessed, "disagreement")
    assert not ward.isEnabled()

    choose_metric(qtbot, assessed, "behavior:attack")
    assert ward.isEnabled()
    assert pane.method_box.currentData() == "ward"
    assert not pane.method_note.isVisibleTo(assessed)


def test_kappa_has_no_bootstrap_labels(qtbot, assessed):
    trust = choose_metric(qtbot, assessed, "kappa")
    trees = assessed.dendrogram_pane

    assert trust.replicates == 0
    assert trees.prediction_tree.support_labels == {}
    assert len(trees.embedding_tree.support_labels) == 5
    assert "not available" in assessed.trust_pane.footnote.text()
    assert "not available" in trees.caption.text()


def test_linkage_choice_applies_and_persists(qtbot, assessed, settings):
    pane = assessed.trust_pane
    pane.method_box.setCurrentIndex(pane.method_box.findData("complete"))
    pane.optimal_box.setChecked(True)
    session = assessed.session

    embedding = linkage_of_distances(euclidean_distances(session.embedding.embedding), "complete", optimal_ordering=True)
    prediction = linkage_of_distances(session.comparison.distances, "complete", optimal_ordering=True)
    np.testing.assert_allclose(session.embedding.linkage, embedding)
    np.testing.assert_allclose(session.metric_view().linkage, prediction)
    assert assessed.dendrogram_pane.embedding_tree.drawn_leaf_order() == leaf_order(embedding)
    assert assessed.embedding_pane.heatmap.row_annotators == leaf_order(embedding)
    assert assessed.dendrogram_pane.prediction_tree.drawn_leaf_order() == leaf_order(prediction)
    assert assessed.distance_pane.heatmap.row_annotators == leaf_order(prediction)
    assert "Complete height" == assessed.dendrogram_pane.prediction_tree.getAxis("bottom").labelText
    assert wait_for_trust(qtbot, assessed).method == "complete"

    assert settings.linkage_method() == "complete"
    assert settings.optimal_ordering()
    reopened = make_window(qtbot, settings)
    assert reopened.session.requested_method == "complete"
    assert reopened.trust_pane.optimal_box.isChecked()


def test_untangle_redraws_in_untangled_order(assessed):
    session = assessed.session
    view = session.metric_view()
    embedding = session.embedding
    expected = untangle(embedding.linkage, view.linkage, embedding.leaf_order, view.leaf_order)
    trees = assessed.dendrogram_pane
    before = entanglement(trees.embedding_tree.drawn_leaf_order(), trees.prediction_tree.drawn_leaf_order())
    assert f"{before:.3f}" in assessed.trust_pane.drawn_label.text()

    assessed.trust_pane.untangle_button.click()

    assert trees.embedding_tree.drawn_leaf_order() == expected.left_order
    assert trees.prediction_tree.drawn_leaf_order() == expected.right_order
    assert assessed.embedding_pane.heatmap.row_annotators == expected.left_order
    assert assessed.distance_pane.heatmap.row_annotators == expected.right_order
    for annotator, line in trees.connector.lines.items():
        _, ys = line.getData()
        assert ys[0] == expected.left_order.index(annotator) + 0.5
        assert ys[1] == expected.right_order.index(annotator) + 0.5
    assert f"{expected.entanglement:.3f}" in assessed.trust_pane.drawn_label.text()
    assert expected.entanglement < before

    assessed.trust_pane.untangle_button.click()
    assert trees.embedding_tree.drawn_leaf_order() == embedding.leaf_order
    assert trees.prediction_tree.drawn_leaf_order() == view.leaf_order
    assert f"{before:.3f}" in assessed.trust_pane.drawn_label.text()


def test_cluster_count_colours_every_view(assessed):
    session = assessed.session
    assessed.trust_pane.cluster_spin.setValue(2)
    embedding_labels = cut_labels(session.embedding.linkage, 2)
    prediction_labels = cut_labels(session.metric_view().linkage, 2)

    annotator_list = assessed.checkpoint_pane.annotators
    for annotator in range(6):
        assert annotator_list.clusters[annotator][0] == embedding_labels[annotator]
    drawn = np.array([annotator_list.clusters[annotator][1] for annotator in range(6)])
    np.testing.assert_array_equal(drawn[:, None] == drawn[None, :], prediction_labels[:, None] == prediction_labels[None, :])
    assert "embedding cluster" in annotator_list.item(0).text()

    order = session.embedding_order()
    assert assessed.embedding_pane.heatmap.row_clusters == [embedding_labels[leaf] for leaf in order]
    prediction_order = session.prediction_order()
    assert assessed.distance_pane.heatmap.row_clusters == [drawn[leaf] for leaf in prediction_order]
    assert assessed.distance_pane.heatmap.column_clusters == [drawn[leaf] for leaf in prediction_order]
    tree = assessed.dendrogram_pane.embedding_tree
    for leaf in range(6):
        assert tree.branch_color(leaf) == cluster_color(int(embedding_labels[leaf]))
    assert tree.cut_line.value() == pytest.approx(cut_height(session.embedding.linkage, 2))
    assert sorted(tree.cluster_names) == sorted(set(embedding_labels.tolist()))

    assessed.trust_pane.cluster_spin.setValue(1)
    assert session.cluster_count == 0
    assert assessed.embedding_pane.heatmap.row_clusters is None
    assert annotator_list.clusters[0] == (None, None)


def _send_mouse(widget, kind, point, buttons):
    button = Qt.MouseButton.LeftButton if kind != QEvent.Type.MouseMove else Qt.MouseButton.NoButton
    event = QMouseEvent(kind, QPointF(point), QPointF(widget.mapToGlobal(point)), button, buttons, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)


def test_dragging_cut_line_changes_count(qtbot, assessed):
    trees = assessed.dendrogram_pane
    tree = trees.prediction_tree
    linkage = assessed.session.metric_view().linkage
    viewport = trees.canvas.viewport()
    start = trees.canvas.view_point_to_widget(tree, tree.cut_line.value(), 0.3)
    target_height = cut_height(linkage, 3)
    end = trees.canvas.view_point_to_widget(tree, target_height, 0.3)

    with qtbot.waitSignal(assessed.session.flat_clusters_changed, timeout=5000):
        _send_mouse(viewport, QEvent.Type.MouseButtonPress, start, Qt.MouseButton.LeftButton)
        for step in range(1, 11):
            point = start + (end - start) * (step / 10)
            _send_mouse(viewport, QEvent.Type.MouseMove, point, Qt.MouseButton.LeftButton)
        _send_mouse(viewport, QEvent.Type.MouseButtonRelease, end, Qt.MouseButton.NoButton)

    assert assessed.session.cluster_count == 3
    assert assessed.trust_pane.cluster_spin.value() == 3
    # Released, the line snaps halfway between the merges that the cut separates.
    assert tree.cut_line.value() == pytest.approx(target_height)
    embedding_line = trees.embedding_tree.cut_line.value()
    assert embedding_line == pytest.approx(cut_height(assessed.session.embedding.linkage, 3))


def test_new_assessment_supersedes_running_one(qtbot, computed):
    wait_for_trust(qtbot, computed)
    gate = GatedAssess()
    computed.trust.assess = gate
    with qtbot.waitSignal(gate.paused, timeout=COMPUTE_TIMEOUT_MS):
        computed.trust_pane.assess_button.click()
    assert computed.trust_pane.cancel_button.isEnabled()

    with qtbot.waitSignal(computed.trust.cancelled, timeout=COMPUTE_TIMEOUT_MS):
        computed.trust_pane.cancel_button.click()
    assert "Cancelled" in computed.trust_pane.status_label.text()

    gate.release.set()
    with qtbot.waitSignal(computed.trust.finished, timeout=ASSESS_TIMEOUT_MS):
        computed.trust_pane.untangle_button.click()
        computed.trust_pane.method_box.setCurrentIndex(computed.trust_pane.method_box.findData("single"))
    assert computed.session.trust.method == "single"
    qtbot.waitUntil(lambda: computed.trust.worker.thread_count == 0, timeout=ASSESS_TIMEOUT_MS)
