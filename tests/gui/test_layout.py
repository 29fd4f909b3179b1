"""Layout details visible to the user: long status text and titles, and axis labels."""

from __future__ import annotations

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
