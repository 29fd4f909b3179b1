"""Render the window's panes to PNG files, without showing a window (for `annotator-gui analyze`)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QWidget

from ..analysis.pipeline import EmbeddingClustering, PredictionComparison
from ..analysis.trust import TrustAssessment
from ..report import write_atomically
from .app import application
from .compare_worker import PredictionComputation
from .dendrogram_pane import DendrogramPane
from .distance_pane import DistancePane
from .embedding_pane import EmbeddingPane
from .highlight import HighlightModel
from .qt_check import broken_pyside_message
from .session import Session

FIGURE_SIZE = (1000, 800)


def _save(widget: QWidget, path: Path) -> None:
    # Showing with WA_DontShowOnScreen lets the layouts and plots size themselves
    # as in the window, without anything appearing on a display.
    widget.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
    widget.resize(*FIGURE_SIZE)
    widget.show()
    QApplication.processEvents()
    image = widget.grab()
    widget.hide()

    def write(temporary: Path) -> None:
        if not image.save(str(temporary), "PNG"):
            raise OSError(f"Qt could not encode {path.name} as PNG")

    write_atomically(path, write)


def write_figures(
    out_dir: Path,
    embedding: EmbeddingClustering,
    predictions: PredictionComparison,
    trust: TrustAssessment | None = None,
) -> list[Path]:
    """Write embedding_heatmap.png, prediction_distances.png and dendrograms.png; return their paths.

    With `trust`, assessed on these Ward trees and their default leaf orders
    (as `assess_trust` is called by default), dendrograms.png labels every
    merge with its split consensus and bootstrap support. Works without a
    display: the offscreen platform is used when no QApplication exists and
    no display is available.
    """
    application()
    problem = broken_pyside_message()
    if problem is not None:
        raise RuntimeError(problem)
    out_dir = Path(out_dir)
    session = Session()
    highlight = HighlightModel()
    panes = {
        "embedding_heatmap.png": EmbeddingPane(session, highlight),
        "prediction_distances.png": DistancePane(session, highlight, PredictionComputation(session)),
        "dendrograms.png": DendrogramPane(session, highlight, cut_handle=False),
    }
    session.show_results(embedding, predictions)
    if trust is not None:
        if trust.method != session.method:
            raise ValueError(f"the trust assessment used {trust.method} linkage, but the figures show {session.method}")
        session.set_trust(session.trees_key, trust)
    written = []
    for name, pane in panes.items():
        path = out_dir / name
        _save(pane, path)
        written.append(path)
        pane.deleteLater()
    return written
