"""The distance pane: compute prediction distances, show them as a matrix, prevalence and sequences."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ..analysis import metrics
from ..analysis.progress import Progress
from ..analysis.tree_layout import tree_layout
from .canvas import Canvas
from .compare_worker import PredictionComputation
from .dendrogram_plot import DendrogramPlot
from .elided_label import ElidedLabel
from .heatmap_plot import HeatmapPlot, add_clustered_heatmap
from .highlight import HighlightModel
from .metric_choice import METHOD_LABELS, METRICS, ward_unavailable_reason
from .palette import sequential_colormap
from .prevalence_plot import PrevalencePlot
from .sequence_table import SequenceTable
from .session import Session



def describe_progress(progress: Progress) -> str:
    """Format progress as 'done/total sequences, frames per second, time left'."""
    text = f"{progress.done}/{progress.total} sequences, {progress.frames_per_second:,.0f} frames/s"
    if progress.seconds_left is not None:
        text += f", about {progress.seconds_left:.0f} s left"
    return text


class DistancePane(QWidget):
    """Runs the prediction comparison and shows its results for the current split."""

    def __init__(self, session: Session, highlight: HighlightModel, computation: PredictionComputation, parent: QWidget | None = None):
        super().__init__(parent)
        self._session = session
        self._computation = computation

        self.compute_button = QPushButton("Compute")
        self.compute_button.setToolTip("Compare every annotator's predicted probabilities on all test sequences of the split")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.progress_bar = QProgressBar()
        self.progress_bar.setTextVisible(False)
        self.progress_bar.setMaximumHeight(14)
        self.progress_label = ElidedLabel()
        self.metric_box = QComboBox()
        for key, label in METRICS.items():
            self.metric_box.addItem(label, key)
        self.note = QLabel()
        self.note.setWordWrap(True)

        self.canvas = Canvas(highlight)
        self.dendrogram = DendrogramPlot(highlight, root_side="left")
        self.heatmap = HeatmapPlot(highlight, sequential_colormap(), column_name="annotator", show_values=True)
        self.heatmap.setLabel("left", "annotator")
        self.heatmap.setLabel("bottom", "annotator")
        self.color_bar = add_clustered_heatmap(
            self.canvas, self.dendrogram, self.heatmap, sequential_colormap(), values=(0, 1), stretch=(2, 5)
        )

        self.prevalence_canvas = Canvas(highlight)
        self.prevalence = PrevalencePlot(highlight)
        self.prevalence_canvas.add_plot(self.prevalence, 0, 0)
        self.prevalence_canvas.add_plot(self.prevalence.legend, 0, 1)
        self.sequences = SequenceTable(highlight)

        buttons = QHBoxLayout()
        buttons.addWidget(self.compute_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.progress_bar, 1)
        buttons.addWidget(self.progress_label)
        metric_row = QHBoxLayout()
        metric_row.addWidget(QLabel("Metric:"))
        metric_row.addWidget(self.metric_box, 1)
        lower = QSplitter(Qt.Orientation.Horizontal)
        lower.addWidget(self.prevalence_canvas)
        lower.addWidget(self.sequences)
        lower.setStretchFactor(0, 1)
        lower.setStretchFactor(1, 1)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.canvas)
        splitter.addWidget(lower)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(buttons)
        layout.addLayout(metric_row)
        layout.addWidget(self.note)
        layout.addWidget(splitter, 1)

        self.compute_button.clicked.connect(self._on_compute_clicked)
        self.cancel_button.clicked.connect(self._on_cancel_clicked)
        self.metric_box.currentIndexChanged.connect(self._on_metric_box_changed)
        computation.started.connect(self._on_computation_started)
        computation.progressed.connect(self._on_computation_progressed)
        computation.finished.connect(self._on_computation_finished)
        computation.failed.connect(self._on_computation_stopped)
        computation.cancelled.connect(self._on_computation_cancelled)
        session.predictions_changed.connect(self._on_predictions_changed)
        session.leaf_orders_changed.connect(self._on_predictions_changed)
        session.embedding_changed.connect(self._on_flat_clusters_changed)
        session.flat_clusters_changed.connect(self._on_flat_clusters_changed)
        session.checkpoint_changed.connect(self._on_checkpoint_changed)
        self._on_checkpoint_changed()

    def _on_compute_clicked(self) -> None:
        self._computation.start()

    def _on_cancel_clicked(self) -> None:
        self._computation.cancel()

    def _on_metric_box_changed(self, _index: int) -> None:
        self._session.set_metric(self.metric_box.currentData())

    def _on_checkpoint_changed(self) -> None:
        self.compute_button.setEnabled(self._session.checkpoint is not None)
        self._on_predictions_changed()

    def _on_computation_started(self, split_index: int) -> None:
        self.cancel_button.setEnabled(True)
        self.progress_bar.setRange(0, 0)
        self.progress_label.setText(f"Comparing predictions of split {split_index}...")

    def _on_computation_progressed(self, progress: Progress) -> None:
        self.progress_bar.setRange(0, progress.total)
        self.progress_bar.setValue(progress.done)
        self.progress_label.setText(describe_progress(progress))

    def _on_computation_finished(self, comparison) -> None:
        self._on_computation_stopped()
        self._describe_shown_comparison()

    def _describe_shown_comparison(self) -> None:
        """Say which split's comparison is on screen, so the line never names another split."""
        comparison = self._session.comparison
        if comparison is None:
            self.progress_label.setText("")
            return
        statistics = comparison.statistics
        self.progress_label.setText(
            f"Split {comparison.split}: {len(statistics.sequence_ids)} sequences, "
            f"{statistics.total_frames:,} frames compared."
        )

    def _on_computation_cancelled(self) -> None:
        self._on_computation_stopped()
        self.progress_label.setText("Cancelled; press Compute to start again.")

    def _on_computation_stopped(self, _error: object = None) -> None:
        self.cancel_button.setEnabled(False)
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.progress_label.setText("")

    def _on_predictions_changed(self) -> None:
        session = self._session
        if not self._computation.is_running:
            self._describe_shown_comparison()
        index = self.metric_box.findData(session.metric)
        if index != self.metric_box.currentIndex():
            self.metric_box.blockSignals(True)
            self.metric_box.setCurrentIndex(index)
            self.metric_box.blockSignals(False)
        view = session.metric_view()
        comparison = session.comparison
        self.sequences.set_comparison(comparison)
        if view is None:
            self.dendrogram.set_tree(None, [])
            self.heatmap.clear_matrix()
            self.prevalence.set_prevalence(np.zeros((0, 4)), [])
            split = session.split
            self.note.setText(
                "Press Compute to compare the annotators' predicted behaviour probabilities"
                + (f" on the {len(split.sequence_ids)} test sequences of split {split.index}." if split is not None else ".")
                + " The predictions come from the Task 1/2 head, so they do not depend on the task selector."
            )
            return
        annotators = comparison.annotators
        order = session.prediction_order()
        shown = [annotators[index] for index in order]
        matrix = view.distances[np.ix_(order, order)]
        high = float(matrix.max()) or 1.0
        self.heatmap.set_matrix(matrix, shown, [str(annotator) for annotator in shown], shown, levels=(0.0, high))
        self.color_bar.setLevels(low=0.0, high=high)
        self.color_bar.axis.setLabel(view.label)
        self.dendrogram.set_tree(tree_layout(view.linkage, order), annotators)
        self.dendrogram.set_method(view.method)
        self.prevalence.set_prevalence(metrics.prevalence(comparison.statistics)[order], shown)
        method = METHOD_LABELS[view.method].split(" ")[0]
        reason = ward_unavailable_reason(view.metric)
        kappa_caution = ""
        if view.metric == "kappa":
            disagreement = metrics.label_disagreement(comparison.statistics)
            kappa_caution = (
                " Kappa corrects for chance agreement, so when one behaviour fills almost every frame it"
                " swings widely on a few frames: read it beside label disagreement, which is at most"
                f" {disagreement.max():.3%} of frames here."
            )
        self.note.setText(
            f"Split {comparison.split}: {view.label}, rows and columns in {method} leaf order."
            + ("" if reason is None or session.requested_method != "ward" else " " + reason)
            + kappa_caution
        )
        self._on_flat_clusters_changed()

    def _on_flat_clusters_changed(self) -> None:
        session = self._session
        _, labels = session.flat_cluster_labels()
        if session.metric_view() is None:
            return
        self.dendrogram.set_clusters(labels, None)
        if labels is None:
            self.heatmap.set_clusters(None, None)
            return
        shown = [int(labels[leaf]) for leaf in session.prediction_order()]
        self.heatmap.set_clusters(shown, shown)
