"""Render the window's plots to PNG figures, without showing a window (for `annotator-gui analyze`).

Each figure reuses a pane's plot canvas, so it is drawn by the same code as
the window, but it leaves the pane's controls, notes and tables behind and
puts a title line above the plots instead.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QApplication, QLabel, QVBoxLayout, QWidget

from ..analysis.pipeline import ALL_SPLITS, EmbeddingClustering, PredictionComparison
from ..analysis.trust import TrustAssessment
from ..report import write_atomically
from .app import application
from .canvas import Canvas
from .compare_worker import PredictionComputation
from .dendrogram_pane import DendrogramPane
from .distance_pane import DistancePane
from .embedding_pane import EmbeddingPane
from .highlight import HighlightModel
from .metric_choice import METHOD_LABELS
from .qt_check import broken_pyside_message
from .session import Session

FIGURE_SIZE = (1000, 800)


class FigureWidget(QWidget):
    """A title line above the plot canvas taken from a pane; the pane itself is not shown.

    The figure keeps a reference to the pane, whose slots keep the canvas in
    step with the session, until the figure is deleted.
    """

    def __init__(self, title: str, pane: QWidget, canvas: Canvas):
        super().__init__()
        self.setAutoFillBackground(True)
        self.setStyleSheet("background: white; color: black;")
        self.title = QLabel(title)
        self.title.setWordWrap(True)
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        font = QFont(self.title.font())
        font.setBold(True)
        self.title.setFont(font)
        self.canvas = canvas
        self._pane = pane
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.title)
        # Adding the canvas here takes it out of the pane's layout.
        layout.addWidget(canvas, 1)


def describe_split(split: int) -> str:
    """Name a split as titles do: 'split N', or 'all splits averaged' for `ALL_SPLITS`."""
    return "all splits averaged" if split == ALL_SPLITS else f"split {split}"


def figure_titles(
    embedding: EmbeddingClustering,
    predictions: PredictionComparison,
    metric_label: str,
    checkpoint_name: str | None = None,
) -> dict[str, str]:
    """Build the title line of each figure, keyed by file name.

    The prediction distances do not depend on the task: the predictions are
    those of the Task 1/2 head whatever task's embedding is shown.
    """
    method = f"{METHOD_LABELS[predictions.method]} linkage"
    prefix = f"{checkpoint_name}: " if checkpoint_name else ""
    embedding_split = f"{describe_split(embedding.split)}, task {embedding.task}"
    predictions_split = describe_split(predictions.split)
    metric = metric_label[:1].lower() + metric_label[1:]
    # The dendrograms' plot titles already name the metric, so their figure title leaves it out.
    return {
        "embedding_heatmap.png": f"{prefix}learned embedding, {embedding_split}, {method}",
        "prediction_distances.png": f"{prefix}{metric} between predictions, {predictions_split} (Task 1/2 head), {method}",
        "dendrograms.png": f"{prefix}embedding of {embedding_split} vs. predictions of {predictions_split}, {method}",
    }


def build_figures(
    embedding: EmbeddingClustering,
    predictions: PredictionComparison,
    trust: TrustAssessment | None = None,
    checkpoint_name: str | None = None,
) -> dict[str, FigureWidget]:
    """Build the figure widgets, not yet shown, keyed by file name (see `write_figures`)."""
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
    titles = figure_titles(embedding, predictions, session.metric_view().label, checkpoint_name)
    return {name: FigureWidget(titles[name], pane, pane.canvas) for name, pane in panes.items()}


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
    *,
    checkpoint_name: str | None = None,
) -> list[Path]:
    """Write embedding_heatmap.png, prediction_distances.png and dendrograms.png; return their paths.

    Each figure shows only plots, under a title naming the split, task, metric
    and linkage method, and the checkpoint when `checkpoint_name` is given.
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
    written = []
    for name, figure in build_figures(embedding, predictions, trust, checkpoint_name).items():
        path = out_dir / name
        _save(figure, path)
        written.append(path)
        figure.deleteLater()
    return written
