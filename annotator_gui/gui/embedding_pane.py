"""The embedding pane: annotators x dimensions heatmap with the embedding dendrogram beside it."""

from __future__ import annotations

import numpy as np
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ..analysis.tree_layout import tree_layout
from .canvas import Canvas
from .dendrogram_plot import DendrogramPlot
from .heatmap_plot import HeatmapPlot, add_clustered_heatmap
from .highlight import HighlightModel
from .metric_choice import METHOD_LABELS
from .palette import diverging_colormap
from .session import Session


def identity_difference(embedding: np.ndarray) -> np.ndarray:
    """Return the embedding minus its initial value, the identity (annotators x dimensions)."""
    return embedding - np.eye(*embedding.shape)


class EmbeddingPane(QWidget):
    """Heatmap of the learned embedding, rows in the embedding tree's leaf order, centred colour map."""

    def __init__(self, session: Session, highlight: HighlightModel, parent: QWidget | None = None):
        super().__init__(parent)
        self._session = session
        self.difference_box = QCheckBox("Difference from identity")
        self.difference_box.setToolTip(
            "Show the embedding minus the identity matrix it was initialised with. "
            "The row order and dendrogram stay those of the embedding itself."
        )
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.canvas = Canvas(highlight)
        self.dendrogram = DendrogramPlot(highlight, root_side="left")
        self.heatmap = HeatmapPlot(highlight, diverging_colormap(), column_name="dimension", value_format="{:+.3f}")
        self.heatmap.setLabel("left", "annotator")
        self.heatmap.setLabel("bottom", "embedding dimension")
        self.color_bar = add_clustered_heatmap(
            self.canvas, self.dendrogram, self.heatmap, diverging_colormap(), values=(-1, 1), stretch=(1, 3)
        )

        controls = QHBoxLayout()
        controls.addWidget(self.caption, 1)
        controls.addWidget(self.difference_box)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(controls)
        layout.addWidget(self.canvas, 1)

        self.difference_box.toggled.connect(self._on_difference_toggled)
        session.embedding_changed.connect(self._on_embedding_changed)
        session.leaf_orders_changed.connect(self._on_embedding_changed)
        session.predictions_changed.connect(self._on_embedding_changed)
        session.flat_clusters_changed.connect(self._on_flat_clusters_changed)
        self._on_embedding_changed()

    def _on_difference_toggled(self, _checked: bool) -> None:
        self._on_embedding_changed()

    def _on_embedding_changed(self) -> None:
        clustering = self._session.embedding
        if clustering is None:
            self.caption.setText("No embedding to show: open a checkpoint whose split has task heads.")
            self.dendrogram.set_tree(None, [])
            self.heatmap.clear_matrix()
            return
        values = clustering.embedding
        if self.difference_box.isChecked():
            values = identity_difference(values)
        order = self._session.embedding_order()
        matrix = values[order]
        limit = float(np.abs(matrix).max()) or 1.0
        dimensions = matrix.shape[1]
        self.heatmap.set_matrix(
            matrix,
            row_annotators=[clustering.annotators[row] for row in order],
            column_labels=[str(column) for column in range(dimensions)],
            column_annotators=None,
            levels=(-limit, limit),
        )
        self.color_bar.setLevels(low=-limit, high=limit)
        self.color_bar.axis.setLabel("embedding value minus identity" if self.difference_box.isChecked() else "embedding value")
        self.dendrogram.set_tree(tree_layout(clustering.linkage, order), clustering.annotators)
        self.dendrogram.set_method(self._session.method)
        shown = "embedding minus identity" if self.difference_box.isChecked() else "learned embedding"
        method = METHOD_LABELS[self._session.method].split(" ")[0]
        self.caption.setText(
            f"Split {clustering.split}, task {clustering.task}: {shown}, "
            f"{matrix.shape[0]} annotators x {dimensions} dimensions, rows in {method} leaf order."
        )
        self._on_flat_clusters_changed()

    def _on_flat_clusters_changed(self) -> None:
        labels, _ = self._session.flat_cluster_labels()
        self.dendrogram.set_clusters(labels, None)
        if labels is None:
            self.heatmap.set_clusters(None, None)
        else:
            self.heatmap.set_clusters([int(labels[leaf]) for leaf in self._session.embedding_order()], None)
