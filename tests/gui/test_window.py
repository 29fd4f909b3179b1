"""The main window on the bundled sample: opening, computing and what each pane drew."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from annotator_gui.gui.metric_choice import METRICS

from ..conftest import SAMPLE, ZIP, expected
from .conftest import OPEN_TIMEOUT_MS, make_window

EMBEDDING_LEAVES = [3, 4, 0, 1, 2, 5]
PREDICTION_LEAVES = [1, 2, 3, 4, 0, 5]


def test_sample_title_and_summary(window):
    assert "bundled sample" in window.windowTitle()
    summary = window.checkpoint_pane.summary.text()
    assert "legacy" in summary
    assert "8.8 MiB" in summary
    assert "7,973 in split 0" in summary
    assert "task 0: 0.676" in summary
    assert window.checkpoint_pane.split_box.count() == 2
    assert window.checkpoint_pane.task_box.count() == 8


def test_embedding_pane_rows_in_leaf_order(window):
    record = expected("mabe_2split_legacy.split0")
    heatmap = window.embedding_pane.heatmap

    assert heatmap.row_annotators == EMBEDDING_LEAVES
    assert window.embedding_pane.dendrogram.drawn_leaf_order() == EMBEDDING_LEAVES
    np.testing.assert_allclose(heatmap.matrix, np.array(record["embedding"])[EMBEDDING_LEAVES], rtol=1e-6)
    low, high = heatmap.image.getLevels()
    assert low == pytest.approx(-high)


def test_identity_difference_toggle(window):
    record = expected("mabe_2split_legacy.split0")
    window.embedding_pane.difference_box.setChecked(True)
    difference = np.array(record["embedding"]) - np.eye(6)

    np.testing.assert_allclose(window.embedding_pane.heatmap.matrix, difference[EMBEDDING_LEAVES], rtol=1e-6, atol=1e-7)
    assert "minus identity" in window.embedding_pane.caption.text()


def test_both_dendrograms_draw_reference_order(computed):
    record = expected("mabe_2split_legacy.split0")
    trees = computed.dendrogram_pane

    assert trees.embedding_tree.drawn_leaf_order() == EMBEDDING_LEAVES
    assert trees.prediction_tree.drawn_leaf_order() == PREDICTION_LEAVES
    assert computed.distance_pane.dendrogram.drawn_leaf_order() == PREDICTION_LEAVES
    assert set(trees.connector.lines) == set(range(6))
    distances = np.array(record["prediction_distances"])
    np.testing.assert_allclose(
        computed.distance_pane.heatmap.matrix,
        distances[np.ix_(PREDICTION_LEAVES, PREDICTION_LEAVES)],
        rtol=1e-5,
    )


def test_distance_cells_show_values(computed):
    heatmap = computed.distance_pane.heatmap
    texts = [item.toPlainText() for item in heatmap._decorations if hasattr(item, "toPlainText")]

    assert len(texts) == 36
    assert f"{heatmap.matrix[0, 1]:.3f}" in texts


def test_every_metric_redraws_both_trees(computed):
    pane = computed.distance_pane
    for index in range(pane.metric_box.count()):
        pane.metric_box.setCurrentIndex(index)
        view = computed.session.metric_view()
        assert view.metric == pane.metric_box.currentData()
        assert pane.heatmap.row_annotators == view.leaf_order
        assert computed.dendrogram_pane.prediction_tree.drawn_leaf_order() == view.leaf_order
        if view.metric in ("disagreement", "kappa"):
            assert "Ward linkage needs euclidean distances" in pane.note.text()
            assert view.method == "average"
        else:
            assert "Ward linkage needs euclidean distances" not in pane.note.text()
            assert view.method == "ward"
    assert pane.metric_box.count() == len(METRICS)


def test_split_change_keeps_comparison_cache(qtbot, computed):
    session = computed.session
    first = session.comparison

    computed.checkpoint_pane.split_box.setCurrentIndex(1)
    assert session.comparison is None
    assert computed.embedding_pane.heatmap.row_annotators == expected("mabe_2split_legacy.split1")["embedding_leaf_order"]

    computed.checkpoint_pane.split_box.setCurrentIndex(0)
    assert session.comparison is first


def test_task_change_updates_embedding_only(computed):
    comparison = computed.session.comparison
    computed.checkpoint_pane.task_box.setCurrentIndex(3)

    assert computed.session.embedding.task == 3
    assert computed.session.comparison is comparison
    assert "task 3" in computed.embedding_pane.caption.text()


def test_bad_file_reports_its_name(qtbot, settings, tmp_path):
    window = make_window(qtbot, settings)
    bad = tmp_path / "not_a_checkpoint.pt"
    bad.write_bytes(b"this is not a torch file")

    with qtbot.waitSignal(window.errors.reported, timeout=OPEN_TIMEOUT_MS) as blocker:
        window.open_file(bad)

    message = blocker.args[0]
    assert str(bad) in message
    assert "Cannot open not_a_checkpoint.pt" in message
    assert window.errors.dialog is not None
    assert window.errors.dialog.isVisible()
    assert str(bad) in window.errors.dialog.text()
    assert str(bad) in window.statusBar().currentMessage()
    assert settings.recent_files() == []


def test_missing_file_reports_its_name(qtbot, settings, tmp_path):
    window = make_window(qtbot, settings)
    missing = tmp_path / "missing.pt"

    with qtbot.waitSignal(window.errors.reported, timeout=OPEN_TIMEOUT_MS) as blocker:
        window.open_file(missing)

    assert str(missing) in blocker.args[0]
    assert "not found" in blocker.args[0]


def test_recent_files_and_drop(qtbot, settings):
    window = make_window(qtbot, settings)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(ZIP))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)

    with qtbot.waitSignal(window.checkpoint_opened, timeout=OPEN_TIMEOUT_MS):
        window.dropEvent(event)

    assert window.session.checkpoint.format == "zip"
    assert "bundled sample" not in window.windowTitle()
    assert settings.recent_files() == [str(ZIP.resolve())]
    actions = window.recent_menu.actions()
    assert [action.data() for action in actions] == [str(ZIP.resolve())]

    with qtbot.waitSignal(window.checkpoint_opened, timeout=OPEN_TIMEOUT_MS):
        window.open_file(SAMPLE)
    assert settings.recent_files()[0] == str(SAMPLE.resolve())
    assert len(settings.recent_files()) == 2


def test_settings_store_version(settings):
    settings.add_recent_file(SAMPLE)
    assert settings._settings.value("version", type=int) == 1


def test_cell_format_fits_large_and_tiny_values():
    from annotator_gui.gui.heatmap_plot import cell_value_format

    assert cell_value_format("{:.3f}", 493.652).format(493.652) == "494"
    assert cell_value_format("{:.3f}", 27.5).format(27.5) == "27.5"
    assert cell_value_format("{:.3f}", 0.5).format(0.417) == "0.417"
    assert cell_value_format("{:.3f}", 0.0003).format(0.00025) == "2.5e-04"
    assert cell_value_format("{:+.3f}", 1.9).format(-1.6) == "-1.600"


def test_status_line_follows_split_change(computed):
    label = computed.distance_pane.progress_label
    assert label.full_text().startswith("Split 0: 8 sequences")

    computed.checkpoint_pane.split_box.setCurrentIndex(1)
    assert "Split 0" not in label.full_text()

    computed.checkpoint_pane.split_box.setCurrentIndex(0)
    assert label.full_text().startswith("Split 0: 8 sequences")
