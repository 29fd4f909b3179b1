"""The dendrogram pane: embedding and prediction trees facing each other (a tanglegram)."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QPointF
from PySide6.QtGui import QFont, QPen
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from ..analysis.tree_layout import tree_layout
from .canvas import Canvas, InteractivePlot
from .dendrogram_plot import DendrogramPlot
from .flat_clusters import clusters_at_height, cut_height
from .highlight import HighlightModel
from .palette import HIGHLIGHT_PEN_WIDTH, annotator_color, faded
from .session import Session

#: Horizontal extent of the connecting lines inside the middle plot, which spans x = 0 .. 1.
LINE_START, LINE_END = 0.3, 0.7
#: Narrowest middle plot, in pixels, that keeps the two columns of leaf labels apart.
CONNECTOR_MIN_PIXELS = 64


class ConnectorPlot(InteractivePlot):
    """Leaf labels of both trees and a line joining each annotator's two leaves."""

    def __init__(self, highlight: HighlightModel):
        super().__init__(highlight)
        self.hideAxis("left")
        self.hideAxis("bottom")
        self.invertY(True)
        self.setMinimumWidth(CONNECTOR_MIN_PIXELS)
        self.left_rows: dict[int, float] = {}
        self.right_rows: dict[int, float] = {}
        self._items: list[pg.GraphicsObject] = []
        self.lines: dict[int, pg.PlotCurveItem] = {}
        highlight.changed.connect(self._on_highlight_changed)

    def set_rows(self, left_rows: dict[int, float], right_rows: dict[int, float], row_count: int) -> None:
        """Place annotator labels at the given y of the left and right trees; join those present in both."""
        for item in self._items:
            self.removeItem(item)
        self._items, self.lines = [], {}
        self.left_rows, self.right_rows = dict(left_rows), dict(right_rows)
        font = QFont()
        font.setBold(True)
        for rows, x, anchor in ((left_rows, 0.02, (0.0, 0.5)), (right_rows, 0.98, (1.0, 0.5))):
            for annotator, y in rows.items():
                label = pg.TextItem(str(annotator), color=annotator_color(annotator), anchor=anchor)
                label.setFont(font)
                label.setPos(x, y)
                self.addItem(label)
                self._items.append(label)
        for annotator in left_rows.keys() & right_rows.keys():
            line = pg.PlotCurveItem([LINE_START, LINE_END], [left_rows[annotator], right_rows[annotator]])
            self.addItem(line)
            self._items.append(line)
            self.lines[annotator] = line
        self.vb.setRange(xRange=(0, 1), yRange=(0, max(row_count, 1)), padding=0.0)
        self._on_highlight_changed()

    def annotators_at(self, view_point: QPointF) -> frozenset[int]:
        x, y = view_point.x(), view_point.y()
        rows = self.left_rows if x < 0.5 else self.right_rows
        for annotator, row in rows.items():
            if abs(y - row) <= 0.4:
                return frozenset([annotator])
        return frozenset()

    def highlighted_lines(self) -> set[int]:
        return {annotator for annotator, line in self.lines.items() if line.opts["pen"].widthF() >= HIGHLIGHT_PEN_WIDTH}

    def _on_highlight_changed(self) -> None:
        highlighted = self.highlight.highlighted
        for annotator, line in self.lines.items():
            color = annotator_color(annotator)
            if annotator in highlighted:
                pen = QPen(color, HIGHLIGHT_PEN_WIDTH)
            else:
                pen = QPen(faded(color) if highlighted else color, 1.5)
            pen.setCosmetic(True)
            line.setPen(pen)


class DendrogramPane(QWidget):
    """Embedding dendrogram on the left, prediction dendrogram on the right, leaves facing.

    Both trees are drawn in the session's leaf orders (untangled or not),
    coloured by its flat clusters, and labelled with the support of every
    merge once the trust assessment has arrived.
    """

    def __init__(self, session: Session, highlight: HighlightModel, parent: QWidget | None = None, cut_handle: bool = True):
        """With `cut_handle`, a cut line waits beyond each root for the user to drag it (figures go without)."""
        super().__init__(parent)
        self._session = session
        self._cut_handle = cut_handle
        self.dash_weak = False
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.canvas = Canvas(highlight)
        self.embedding_tree = DendrogramPlot(highlight, root_side="left")
        self.connector = ConnectorPlot(highlight)
        self.prediction_tree = DendrogramPlot(highlight, root_side="right")
        self.embedding_tree.set_title("learned embedding")
        self.prediction_tree.set_title("predictions")
        self.canvas.add_plot(self.embedding_tree, 0, 0)
        self.canvas.add_plot(self.connector, 0, 1)
        self.canvas.add_plot(self.prediction_tree, 0, 2)
        self.canvas.ci.layout.setColumnStretchFactor(0, 3)
        self.canvas.ci.layout.setColumnStretchFactor(1, 2)
        self.canvas.ci.layout.setColumnStretchFactor(2, 3)
        # The middle plot needs a bottom margin like the trees' height axes, so rows line up.
        self.connector.showAxis("bottom")
        self.connector.getAxis("bottom").setStyle(showValues=False)
        self.connector.getAxis("bottom").setPen(pg.mkPen(None))
        self.connector.setTitle(" ")
        self.connector.setYLink(self.embedding_tree)
        self.prediction_tree.setYLink(self.embedding_tree)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.caption)
        layout.addWidget(self.canvas, 1)
        self.embedding_tree.cut_dragged.connect(self._on_embedding_cut_dragged)
        self.prediction_tree.cut_dragged.connect(self._on_prediction_cut_dragged)
        session.embedding_changed.connect(self._on_session_changed)
        session.predictions_changed.connect(self._on_session_changed)
        session.leaf_orders_changed.connect(self._on_session_changed)
        session.flat_clusters_changed.connect(self._on_flat_clusters_changed)
        session.trust_changed.connect(self._on_trust_changed)
        self._on_session_changed()

    def set_dash_weak(self, enabled: bool) -> None:
        """Dash merges found in at most half of the splits or bootstrap replicates."""
        self.dash_weak = enabled
        self.embedding_tree.set_dash_weak(enabled)
        self.prediction_tree.set_dash_weak(enabled)

    def _on_session_changed(self) -> None:
        session = self._session
        left_rows, right_rows = {}, {}
        count = 0
        clustering = session.embedding
        if clustering is not None:
            layout = tree_layout(clustering.linkage, session.embedding_order())
            self.embedding_tree.set_tree(layout, clustering.annotators)
            self.embedding_tree.set_method(session.method)
            left_rows = {clustering.annotators[leaf]: layout.leaf_position(leaf) + 0.5 for leaf in range(layout.leaf_count)}
            count = layout.leaf_count
            self.embedding_tree.set_title(f"learned embedding (task {clustering.task})")
        else:
            self.embedding_tree.set_tree(None, [])
        view = session.metric_view()
        if view is not None:
            annotators = session.comparison.annotators
            layout = tree_layout(view.linkage, session.prediction_order())
            self.prediction_tree.set_tree(layout, annotators)
            self.prediction_tree.set_method(session.method)
            right_rows = {annotators[leaf]: layout.leaf_position(leaf) + 0.5 for leaf in range(layout.leaf_count)}
            count = max(count, layout.leaf_count)
            self.prediction_tree.set_title(f"predictions: {view.label}")
        else:
            self.prediction_tree.set_tree(None, [])
            self.prediction_tree.set_title("predictions (press Compute)")
        self.connector.set_rows(left_rows, right_rows, count)
        if count:
            self.embedding_tree.setYRange(0, count, padding=0.0)
        self._update_caption()
        self._on_flat_clusters_changed()
        self._on_trust_changed()

    def _update_caption(self) -> None:
        session = self._session
        if session.metric_view() is None:
            self.caption.setText("The prediction dendrogram appears after Compute in the distance pane.")
            return
        text = "Each line joins an annotator's leaf in the embedding tree to its leaf in the prediction tree."
        value = session.drawn_entanglement()
        if value is not None:
            order = "untangled" if session.untangle_enabled else "default"
            text += f" Entanglement of the drawn ({order}) leaf orders: {value:.3f} (0 = no crossings, 1 = reversed)."
        trust = session.trust
        if trust is None:
            text += " Support labels appear when the trust assessment has finished."
        else:
            text += " Left: share of splits whose embedding tree contains each cluster."
            if trust.replicates:
                text += f" Right: share of {trust.replicates} bootstrap replicates."
            else:
                text += " Right: bootstrap support is not available for this metric."
        self.caption.setText(text)

    def _on_flat_clusters_changed(self) -> None:
        session = self._session
        embedding_labels, prediction_labels = session.flat_cluster_labels()
        clustering = session.embedding
        if clustering is not None:
            self.embedding_tree.set_clusters(embedding_labels, self._cut_height(clustering.linkage, embedding_labels))
        view = session.metric_view()
        if view is not None:
            self.prediction_tree.set_clusters(prediction_labels, self._cut_height(view.linkage, prediction_labels))

    def _cut_height(self, linkage, labels) -> float | None:
        if labels is None:
            # Without flat clusters the plot parks the line beyond the root, whatever height is given.
            return cut_height(linkage, 1) if self._cut_handle else None
        return cut_height(linkage, self._session.cluster_count)

    def _on_trust_changed(self) -> None:
        self._update_caption()
        trust = self._session.trust
        if trust is None:
            self.embedding_tree.set_support(None)
            self.prediction_tree.set_support(None)
            return
        self.embedding_tree.set_support(trust.split_consensus)
        self.prediction_tree.set_support(trust.bootstrap_support)

    def _on_embedding_cut_dragged(self, height: float) -> None:
        if self._session.embedding is not None:
            self._set_clusters_from_cut(clusters_at_height(self._session.embedding.linkage, height))

    def _on_prediction_cut_dragged(self, height: float) -> None:
        view = self._session.metric_view()
        if view is not None:
            self._set_clusters_from_cut(clusters_at_height(view.linkage, height))

    def _set_clusters_from_cut(self, clusters: int) -> None:
        # A cut above the root leaves one cluster, which means no flat clusters.
        self._session.set_cluster_count(clusters if clusters >= 2 else 0)
        if not (self.embedding_tree.cut_line.moving or self.prediction_tree.cut_line.moving):
            # Released: snap the lines halfway between merges, even if the count did not change.
            self._on_flat_clusters_changed()
