"""Linked highlighting: one model, every pane, no echoes."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, Qt

from annotator_gui.gui.canvas import Canvas
from annotator_gui.gui.heatmap_plot import HeatmapPlot
from annotator_gui.gui.highlight import HighlightModel
from annotator_gui.gui.palette import HIGHLIGHT_PEN_WIDTH, diverging_colormap


def test_model_unchanged_value_emits_nothing(qtbot):
    model = HighlightModel()
    with qtbot.waitSignal(model.changed):
        model.set_selection({2})
    with qtbot.assertNotEmitted(model.changed):
        model.set_selection([2])
        model.clear_hover()
    with qtbot.waitSignal(model.changed):
        model.clear()
    with qtbot.assertNotEmitted(model.changed):
        model.clear()


def test_model_hover_belongs_to_its_view(qtbot):
    model = HighlightModel()
    first, second = object(), object()
    model.set_hovered({1}, first)
    model.set_hovered({4}, second)
    model.clear_hover(first)

    assert model.hovered == {4}
    model.clear_hover(second)
    assert model.hovered == frozenset()


def test_highlight_reaches_every_pane(computed):
    highlight = computed.highlight
    annotator = 2
    highlight.set_selection({annotator})

    embedding_tree = computed.dendrogram_pane.embedding_tree
    prediction_tree = computed.dendrogram_pane.prediction_tree
    for tree in (embedding_tree, prediction_tree, computed.embedding_pane.dendrogram, computed.distance_pane.dendrogram):
        path = set(tree.tree.path_to_root(annotator)) - {tree.tree.root}
        assert tree.highlighted_branches() == path
    assert computed.dendrogram_pane.connector.highlighted_lines() == {annotator}

    embedding_heatmap = computed.embedding_pane.heatmap
    assert [embedding_heatmap.row_annotators[row] for row in embedding_heatmap.highlighted_rows()] == [annotator]
    distance_heatmap = computed.distance_pane.heatmap
    assert [distance_heatmap.row_annotators[row] for row in distance_heatmap.highlighted_rows()] == [annotator]
    assert [distance_heatmap.column_annotators[c] for c in distance_heatmap.highlighted_columns()] == [annotator]
    assert computed.distance_pane.prevalence.highlighted_bars() == [annotator]

    selected = [computed.checkpoint_pane.annotators.annotator_of(item) for item in computed.checkpoint_pane.annotators.selectedItems()]
    assert selected == [annotator]
    assert len(computed.distance_pane.sequences.rows()) > 0
    assert all(str(annotator) in pair for _sequence, pair, _share in computed.distance_pane.sequences.rows())


def test_list_click_selects_without_echo(qtbot, window):
    annotators = window.checkpoint_pane.annotators
    emitted = []
    window.highlight.changed.connect(lambda: emitted.append(window.highlight.selection))

    annotators.setCurrentRow(4)

    assert window.highlight.selection == {4}
    assert emitted == [frozenset({4})]


def test_clicking_branch_selects_cluster(qtbot, computed):
    pane = computed.dendrogram_pane
    tree = pane.embedding_tree
    # The merge of annotators 0 and 1 (row 0 of the published linkage) is node 6.
    point = tree.view_point_of_node(6)
    position = pane.canvas.view_point_to_widget(tree, point.x(), point.y())

    qtbot.mouseClick(pane.canvas.viewport(), Qt.MouseButton.LeftButton, pos=position)

    assert computed.highlight.selection == {0, 1}
    assert tree.highlighted_branches() >= {0, 1, 6}


def test_clicking_leaf_selects_annotator(qtbot, computed):
    pane = computed.dendrogram_pane
    tree = pane.prediction_tree
    point = tree.view_point_of_node(3)
    position = pane.canvas.view_point_to_widget(tree, point.x(), point.y())

    qtbot.mouseClick(pane.canvas.viewport(), Qt.MouseButton.LeftButton, pos=position)

    assert computed.highlight.selection == {3}


def test_clicking_distance_cell_selects_pair(qtbot, computed):
    pane = computed.distance_pane
    heatmap = pane.heatmap
    position = pane.canvas.view_point_to_widget(heatmap, 2.5, 0.5)  # row 0, column 2

    qtbot.mouseClick(pane.canvas.viewport(), Qt.MouseButton.LeftButton, pos=position)

    expected_pair = {heatmap.row_annotators[0], heatmap.column_annotators[2]}
    assert computed.highlight.selection == expected_pair
    rows = pane.sequences.rows()
    first, second = sorted(expected_pair)
    assert rows and all(pair == f"{first} and {second}" for _sequence, pair, _share in rows)


def test_hover_shows_value_and_highlights(qtbot, computed):
    heatmap = computed.embedding_pane.heatmap
    scene_point = heatmap.vb.mapViewToScene(QPointF(4.5, 1.5))  # row 1, dimension 4

    heatmap.handle_mouse_moved(scene_point)

    annotator = heatmap.row_annotators[1]
    assert computed.highlight.hovered == {annotator}
    assert heatmap.hover_text == f"annotator {annotator}, dimension 4: {heatmap.matrix[1, 4]:+.3f}"
    assert computed.dendrogram_pane.connector.highlighted_lines() == {annotator}

    heatmap.handle_mouse_moved(QPointF(-1000.0, -1000.0))
    assert computed.highlight.hovered == frozenset()
    assert heatmap.hover_text == ""


def test_escape_clears_highlight(qtbot, computed):
    computed.highlight.set_selection({1, 5})
    computed.activateWindow()
    qtbot.waitUntil(computed.isActiveWindow)

    qtbot.keyClick(computed, Qt.Key.Key_Escape)

    assert computed.highlight.highlighted == frozenset()
    assert computed.dendrogram_pane.connector.highlighted_lines() == set()


def test_heatmap_orientation_asymmetric_matrix(qtbot):
    highlight = HighlightModel()
    canvas = Canvas(highlight)
    heatmap = HeatmapPlot(highlight, diverging_colormap(), column_name="dimension")
    canvas.add_plot(heatmap, 0, 0)
    qtbot.addWidget(canvas)
    canvas.resize(400, 300)
    canvas.show()
    # Two rows, three columns, and one hot cell at row 0, column 2.
    matrix = np.array([[0.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    heatmap.set_matrix(matrix, [7, 8], ["0", "1", "2"], None, levels=(-1.0, 1.0))

    assert heatmap.image.image.shape == (2, 3)
    assert heatmap.image.axisOrder == "row-major"
    assert heatmap.cell_at(QPointF(2.5, 0.5)) == (0, 2)

    # The hot cell is drawn in the top-right corner of the image: the top row and the right column.
    image = canvas.grab().toImage()
    top_right = canvas.view_point_to_widget(heatmap, 2.5, 0.5)
    bottom_left = canvas.view_point_to_widget(heatmap, 0.5, 1.5)
    bottom_right = canvas.view_point_to_widget(heatmap, 2.5, 1.5)
    scale = image.devicePixelRatio()
    hot_color = image.pixelColor(int(top_right.x() * scale), int(top_right.y() * scale))
    cold_color = image.pixelColor(int(bottom_left.x() * scale), int(bottom_left.y() * scale))
    other_color = image.pixelColor(int(bottom_right.x() * scale), int(bottom_right.y() * scale))
    assert hot_color.red() > 150
    assert hot_color.blue() < 100
    assert abs(cold_color.red() - cold_color.blue()) < 20
    assert abs(other_color.red() - other_color.blue()) < 20
