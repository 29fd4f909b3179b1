"""Layout details visible to the user: long texts, axis labels, cell values, and narrow or short windows."""

from __future__ import annotations

import shutil

from PySide6.QtWidgets import QScrollArea

from annotator_gui.gui.dendrogram_pane import CONNECTOR_MIN_PIXELS
from annotator_gui.gui.heatmap_plot import HEATMAP_MIN_PIXELS
from annotator_gui.gui.prevalence_plot import PLOT_MIN_PIXELS

from ..conftest import SAMPLE
from .conftest import OPEN_TIMEOUT_MS, make_window

LONG_TEXT = "460/460 sequences, 1,459,954 frames/s, about 1 s left " * 6


def test_long_progress_text_keeps_width(qtbot, window):
    width = window.width()
    label = window.distance_pane.progress_label
    label.setText(LONG_TEXT)
    qtbot.wait(50)

    assert window.width() == width
    assert label.full_text() == LONG_TEXT
    assert label.toolTip() == LONG_TEXT
    assert label.text().endswith("…")
    assert len(label.text()) < len(LONG_TEXT)


def test_axes_show_no_scale_factor(window):
    pane = window.distance_pane
    for plot in (pane.heatmap, pane.prevalence, pane.dendrogram):
        for side in ("left", "bottom"):
            assert "(x" not in plot.getAxis(side).labelString()


def test_long_tree_title_fits_its_pane(qtbot, computed):
    canvas = computed.dendrogram_pane.canvas
    tree = computed.dendrogram_pane.prediction_tree
    qtbot.wait(50)
    text = tree.titleLabel.item

    assert tree.title() == "predictions: Original distance (all behaviours)"
    assert tree.titleLabel.toolTip() == tree.title()
    assert text.mapRectToScene(text.boundingRect()).right() <= canvas.width()
    assert tree.mapRectToScene(tree.boundingRect()).right() <= canvas.width()


def test_narrow_window_keeps_trees_inside(qtbot, computed):
    pane = computed.dendrogram_pane
    computed.resize(1000, 700)
    qtbot.wait(100)
    tree = pane.prediction_tree

    assert tree.mapRectToScene(tree.boundingRect()).right() <= pane.canvas.width()
    assert pane.connector.width() >= CONNECTOR_MIN_PIXELS


def test_short_window_keeps_summary_whole(qtbot, window):
    summary = window.checkpoint_pane.summary
    window.resize(1300, 500)
    qtbot.wait(100)

    assert summary.height() >= summary.heightForWidth(summary.width())


def test_cell_values_never_overlap(qtbot, computed):
    heatmap = computed.distance_pane.heatmap
    assert all(label.isVisible() for label in heatmap.value_labels)

    for size in ((1280, 760), (1150, 700)):
        computed.resize(*size)
        qtbot.wait(100)
        rects = [label.mapRectToScene(label.boundingRect()) for label in heatmap.value_labels if label.isVisible()]
        overlaps = [(a, b) for index, a in enumerate(rects) for b in rects[index + 1:] if a.intersects(b)]

        assert overlaps == []


def test_long_file_name_wraps_in_its_pane(qtbot, settings, tmp_path):
    path = tmp_path / ("mabe_1split_2epochs_460seq_2000235rows_legacy_" * 2 + "copy.pt")
    shutil.copy(SAMPLE, path)
    window = make_window(qtbot, settings)
    window.resize(1280, 760)
    with qtbot.waitSignal(window.checkpoint_opened, timeout=OPEN_TIMEOUT_MS):
        window.open_file(str(path))
    qtbot.wait(100)
    scroll = window.checkpoint_pane.findChild(QScrollArea)

    assert scroll.widget().width() <= scroll.viewport().width()
    assert "2000235rows" in window.checkpoint_pane.summary.text()


def test_narrow_window_keeps_distance_plots_readable(qtbot, computed):
    pane = computed.distance_pane
    computed.resize(1150, 700)
    qtbot.wait(100)

    assert pane.heatmap.width() >= HEATMAP_MIN_PIXELS
    assert pane.prevalence.width() >= PLOT_MIN_PIXELS


def test_hovered_cell_keeps_its_tooltip(computed):
    heatmap = computed.distance_pane.heatmap
    heatmap._show_value((0, 1))

    assert heatmap.image.toolTip() == heatmap.describe_cell(0, 1)

    heatmap._show_value(None)

    assert heatmap.image.toolTip() == ""


def test_column_swatches_stay_in_view(qtbot, computed):
    heatmap = computed.distance_pane.heatmap
    computed.resize(1300, 900)
    qtbot.wait(100)
    top = heatmap.vb.viewRange()[1][0]

    assert top < 0
