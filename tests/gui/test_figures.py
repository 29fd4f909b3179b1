"""`write_figures` renders the panes' plots to PNG figures, also without a display."""

from __future__ import annotations

import subprocess
import sys

import pyqtgraph as pg
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QAbstractButton, QAbstractItemView, QComboBox, QLabel, QProgressBar, QSplitter

from annotator_gui.analysis.pipeline import cluster_embedding, compare_predictions, compare_predictions_all_splits
from annotator_gui.analysis.trust import assess_trust
from annotator_gui.checkpoint import open_checkpoint
from annotator_gui.gui.figures import build_figures, write_figures
from annotator_gui.gui.sequence_table import SequenceTable

from ..conftest import ROOT, SAMPLE

NAMES = ["embedding_heatmap.png", "prediction_distances.png", "dendrograms.png"]


def test_write_figures_three_pngs(qapp, tmp_path):
    with open_checkpoint(SAMPLE) as checkpoint:
        split = checkpoint.split(0)
        written = write_figures(tmp_path, cluster_embedding(split, 0), compare_predictions(split))

    assert [path.name for path in written] == NAMES
    for name in NAMES:
        image = QImage(str(tmp_path / name))
        assert not image.isNull(), name
        assert image.width() >= 800, name
        # A blank render is a single colour; a drawn pane has many.
        colors = {image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)}
        assert len(colors) > 20, name


def color_bar_labels(figure) -> list[str]:
    return [item.axis.labelText for item in figure.canvas.ci.items if isinstance(item, pg.ColorBarItem)]


def test_figures_omit_pane_controls(qapp):
    with open_checkpoint(SAMPLE) as checkpoint:
        split = checkpoint.split(0)
        figures = build_figures(cluster_embedding(split, 0), compare_predictions(split), checkpoint_name=SAMPLE.name)

    assert list(figures) == NAMES
    controls = (QAbstractButton, QComboBox, QProgressBar, QAbstractItemView, QSplitter, SequenceTable)
    for name, figure in figures.items():
        for control in controls:
            assert figure.findChildren(control) == [], f"{name} contains a {control.__name__}"
        assert figure.findChildren(QLabel) == [figure.title], name
        assert figure.canvas.parent() is figure, name
        figure.deleteLater()


def test_figure_titles_name_what_is_shown(qapp):
    with open_checkpoint(SAMPLE) as checkpoint:
        split = checkpoint.split(0)
        figures = build_figures(cluster_embedding(split, 0), compare_predictions(split), checkpoint_name=SAMPLE.name)

    for name, figure in figures.items():
        title = figure.title.text()
        assert title.startswith("sample_checkpoint.pt: "), title
        assert "split 0" in title, title
        assert "Ward linkage" in title, title
        figure.deleteLater()
    assert "task 0" in figures["embedding_heatmap.png"].title.text()
    assert "task 0" in figures["dendrograms.png"].title.text()
    assert "original distance (all behaviours)" in figures["prediction_distances.png"].title.text()


def test_figure_titles_all_splits_averaged(qapp):
    with open_checkpoint(SAMPLE) as checkpoint:
        embedding = cluster_embedding(checkpoint.split(1), 0)
        figures = build_figures(embedding, compare_predictions_all_splits(checkpoint))

    distances_title = figures["prediction_distances.png"].title.text()
    assert "all splits averaged" in distances_title
    assert "split -1" not in distances_title
    assert "checkpoint" not in distances_title
    dendrograms_title = figures["dendrograms.png"].title.text()
    assert "split 1, task 0" in dendrograms_title
    assert "all splits averaged" in dendrograms_title
    for figure in figures.values():
        figure.deleteLater()


def test_figure_color_bars_labelled(qapp):
    with open_checkpoint(SAMPLE) as checkpoint:
        split = checkpoint.split(0)
        figures = build_figures(cluster_embedding(split, 0), compare_predictions(split))

    assert color_bar_labels(figures["embedding_heatmap.png"]) == ["embedding value"]
    assert color_bar_labels(figures["prediction_distances.png"]) == ["Original distance (all behaviours)"]
    for name, figure in figures.items():
        for item in figure.canvas.ci.items:
            if isinstance(item, pg.ColorBarItem):
                # An SI factor would show distances below 1 as e.g. 0..700 "(x0.001)".
                assert not item.axis.autoSIPrefix, name
    for figure in figures.values():
        figure.deleteLater()


def test_write_figures_with_support_labels(qapp, tmp_path):
    with open_checkpoint(SAMPLE) as checkpoint:
        split = checkpoint.split(0)
        embedding = cluster_embedding(split, 0)
        predictions = compare_predictions(split)
        trust = assess_trust(
            checkpoint,
            0,
            embedding.embedding,
            embedding.linkage,
            embedding.leaf_order,
            predictions.statistics.squared_distances.sum(axis=1),
            predictions.distances,
            predictions.linkage,
            predictions.leaf_order,
            replicates=100,
            permutations=99,
        )
        write_figures(tmp_path / "plain", embedding, predictions)
        write_figures(tmp_path / "labelled", embedding, predictions, trust=trust)

    plain = QImage(str(tmp_path / "plain" / "dendrograms.png"))
    labelled = QImage(str(tmp_path / "labelled" / "dendrograms.png"))
    assert plain.size() == labelled.size()
    assert plain != labelled
    # The other figures do not show support.
    assert QImage(str(tmp_path / "plain" / "embedding_heatmap.png")) == QImage(str(tmp_path / "labelled" / "embedding_heatmap.png"))


def test_analyze_without_display(tmp_path):
    environment = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-m", "annotator_gui", "analyze", str(SAMPLE), "--out", str(tmp_path / "out")],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr
    for name in NAMES:
        assert (tmp_path / "out" / name).stat().st_size > 10_000
