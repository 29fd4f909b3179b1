"""`write_figures` renders the panes to PNG files, also without a display."""

from __future__ import annotations

import subprocess
import sys

from PySide6.QtGui import QImage

from annotator_gui.analysis.pipeline import cluster_embedding, compare_predictions
from annotator_gui.analysis.trust import assess_trust
from annotator_gui.checkpoint import open_checkpoint
from annotator_gui.gui.figures import write_figures

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
