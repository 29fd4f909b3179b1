"""The dendrogram pane: embedding and prediction trees facing each other (a tanglegram)."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QPointF
from PySide6.QtGui import QFont, QPen
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from ..analysis.tree_layout import tree_layout
from .canvas import Canvas, InteractivePlot
from .dendrogram_plot import DendrogramPlot
from .highlight import HighlightModel
from .palette import HIGHLIGHT_PEN_WIDTH, annotator_color, faded
from .session import Session

#: Horizontal extent of the connecting lines inside the middle plot, which spans x = 0 .. 1.
LINE_START, LINE_END = 0.3, 0.7


class ConnectorPlot(InteractivePlot):
    """Leaf labels of both trees and a line joining each annotator's two leaves."""

    def __init__(self, highlight: HighlightModel):
        super().__init__(highlight)
        self.hideAxis("left")
        self.hideAxis("bottom")
        self.invertY(True)
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
    """Embedding dendrogram on the left, prediction dendrogram on the right, leaves facing."""

    def __init__(self, session: Session, highlight: HighlightModel, parent: QWidget | None = None):
        super().__init__(parent)
        self._session = session
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.canvas = Canvas(highlight)
        self.embedding_tree = DendrogramPlot(highlight, root_side="left")
        self.connector = ConnectorPlot(highlight)
        self.prediction_tree = DendrogramPlot(highlight, root_side="right")
        self.embedding_tree.setTitle("learned embedding", color="k")
        self.prediction_tree.setTitle("predictions", color="k")
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
        session.embedding_changed.connect(self._on_session_changed)
        session.predictions_changed.connect(self._on_session_changed)
        self._on_session_changed()

    def _on_session_changed(self) -> None:
        session = self._session
        left_rows, right_rows = {}, {}
        count = 0
        clustering = session.embedding
        if clustering is not None:
            layout = tree_layout(clustering.linkage, clustering.leaf_order)
            self.embedding_tree.set_tree(layout, clustering.annotators)
            left_rows = {clustering.annotators[leaf]: layout.leaf_position(leaf) + 0.5 for leaf in range(layout.leaf_count)}
            count = layout.leaf_count
            self.embedding_tree.setTitle(f"learned embedding (task {clustering.task})", color="k")
        else:
            self.embedding_tree.set_tree(None, [])
        view = session.metric_view()
        if view is not None:
            annotators = session.comparison.annotators
            layout = tree_layout(view.linkage, view.leaf_order)
            self.prediction_tree.set_tree(layout, annotators)
            right_rows = {annotators[leaf]: layout.leaf_position(leaf) + 0.5 for leaf in range(layout.leaf_count)}
            count = max(count, layout.leaf_count)
            self.prediction_tree.setTitle(f"predictions: {view.label}", color="k")
            self.caption.setText("Each line joins an annotator's leaf in the embedding tree to its leaf in the prediction tree.")
        else:
            self.prediction_tree.set_tree(None, [])
            self.prediction_tree.setTitle("predictions (press Compute)", color="k")
            self.caption.setText("The prediction dendrogram appears after Compute in the distance pane.")
        self.connector.set_rows(left_rows, right_rows, count)
        if count:
            self.embedding_tree.setYRange(0, count, padding=0.0)
