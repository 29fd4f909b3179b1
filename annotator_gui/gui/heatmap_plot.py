"""A matrix drawn cell by cell, with annotators labelled, coloured and highlightable."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QCursor, QFont, QFontMetricsF, QPen
from PySide6.QtWidgets import QGraphicsRectItem, QToolTip

from .canvas import InteractivePlot
from .highlight import HighlightModel
from .flat_clusters import cluster_name
from .palette import HIGHLIGHT_PEN_WIDTH, annotator_color, cluster_color, readable_text_color

#: Width of the colour swatch drawn beside each annotator's row or column, in cells.
SWATCH = 0.3
#: Width of the flat-cluster band drawn outside the annotator swatches, in cells.
CLUSTER_BAND = 0.22
#: Above this many cells per side, values are not written into the cells.
MAX_LABELLED_CELLS = 24
#: Space, in pixels, that a value needs between itself and the cell's sides.
VALUE_PADDING_PIXELS = 4.0
#: Narrowest heatmap, in pixels, whose annotator labels stay apart.
HEATMAP_MIN_PIXELS = 140



def cell_value_format(value_format: str, largest: float) -> str:
    """Return a format that fits about six characters in a cell, given the largest magnitude.

    The tooltip keeps `value_format`; cells drop decimals as values grow, and
    switch to scientific notation for matrices of tiny values.
    """
    sign = "+" if "+" in value_format else ""
    if largest >= 100:
        return "{:" + sign + ".0f}"
    if largest >= 10:
        return "{:" + sign + ".1f}"
    if largest >= 0.01 or largest == 0:
        return value_format
    return "{:" + sign + ".1e}"

class HeatmapPlot(InteractivePlot):
    """Draw `matrix[row, column]` with row 0 at the top and column 0 at the left.

    The image item uses row-major axis order explicitly: pyqtgraph's default
    is column-major, which would draw the transpose.
    """

    def __init__(
        self,
        highlight: HighlightModel,
        colormap: pg.ColorMap,
        column_name: str,
        value_format: str = "{:.3f}",
        show_values: bool = False,
    ):
        super().__init__(highlight)
        self.column_name = column_name
        self.colormap = colormap
        self.value_format = value_format
        self.show_values = show_values
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setColorMap(colormap)
        self.addItem(self.image)
        self.invertY(True)
        self.vb.setDefaultPadding(0.0)
        self.matrix = np.zeros((0, 0))
        self.row_annotators: list[int] = []
        self.column_annotators: list[int] | None = None
        self.column_labels: list[str] = []
        self.hover_text = ""
        self._decorations: list[pg.GraphicsObject] = []
        #: The values written into the cells (empty when they are not written).
        self.value_labels: list[pg.TextItem] = []
        self._highlight_items: list[QGraphicsRectItem] = []
        #: Flat cluster of every row and column (display order), or None.
        self.row_clusters: list[int] | None = None
        self.column_clusters: list[int] | None = None
        self._cluster_items: list[QGraphicsRectItem] = []
        highlight.changed.connect(self._on_highlight_changed)
        self.vb.sigResized.connect(self._fit_value_labels)

    def set_matrix(
        self,
        matrix: np.ndarray,
        row_annotators: list[int],
        column_labels: list[str],
        column_annotators: list[int] | None,
        levels: tuple[float, float],
    ) -> None:
        """Show `matrix` (rows x columns, already in display order)."""
        matrix = np.asarray(matrix, dtype=np.float64)
        if matrix.shape != (len(row_annotators), len(column_labels)):
            raise ValueError(f"matrix has shape {matrix.shape}, expected {len(row_annotators)} x {len(column_labels)}")
        self.matrix = matrix
        self.row_annotators = list(row_annotators)
        self.column_annotators = None if column_annotators is None else list(column_annotators)
        self.column_labels = list(column_labels)
        rows, columns = matrix.shape
        if matrix.size:
            self.image.setImage(matrix, levels=levels, autoLevels=False)
            self.image.setRect(QRectF(0, 0, columns, rows))
        else:
            self.image.clear()
        self._draw_decorations(levels)
        self.getAxis("left").setTicks([[(row + 0.5, str(annotator)) for row, annotator in enumerate(row_annotators)]])
        self.getAxis("bottom").setTicks([[(column + 0.5, label) for column, label in enumerate(column_labels)]])
        self.set_clusters(None, None)
        self._on_highlight_changed()

    def set_clusters(self, row_clusters: list[int] | None, column_clusters: list[int] | None) -> None:
        """Draw a band in each row's (and column's) flat-cluster colour outside the annotator swatches."""
        for item in self._cluster_items:
            self.removeItem(item)
        self._cluster_items = []
        rows, columns = self.matrix.shape
        self.row_clusters = None if row_clusters is None or not rows else list(row_clusters)
        self.column_clusters = None if column_clusters is None or self.column_annotators is None else list(column_clusters)
        band_start = -SWATCH - 0.1 - CLUSTER_BAND
        for row, cluster in enumerate(self.row_clusters or []):
            self._add_cluster_band(QRectF(band_start, row, CLUSTER_BAND, 1.0), cluster)
        for column, cluster in enumerate(self.column_clusters or []):
            self._add_cluster_band(QRectF(column, band_start, 1.0, CLUSTER_BAND), cluster)
        left = band_start if self.row_clusters else -SWATCH - 0.05
        top = 0.0
        if self.column_annotators is not None:
            top = band_start if self.column_clusters else -SWATCH - 0.05
        self.vb.setRange(xRange=(left, columns), yRange=(top, rows), padding=0.0)

    def _add_cluster_band(self, rect: QRectF, cluster: int) -> None:
        band = QGraphicsRectItem(rect)
        band.setBrush(QBrush(cluster_color(cluster)))
        band.setPen(QPen(Qt.PenStyle.NoPen))
        band.setToolTip(f"flat cluster {cluster_name(cluster)}")
        self.addItem(band)
        self._cluster_items.append(band)

    def clear_matrix(self) -> None:
        self.set_matrix(np.zeros((0, 0)), [], [], None, (0.0, 1.0))

    def cell_at(self, view_point: QPointF) -> tuple[int, int] | None:
        row, column = int(np.floor(view_point.y())), int(np.floor(view_point.x()))
        rows, columns = self.matrix.shape
        if 0 <= row < rows and 0 <= column < columns:
            return row, column
        return None

    def annotators_at(self, view_point: QPointF) -> frozenset[int]:
        rows, columns = self.matrix.shape
        row, column = int(np.floor(view_point.y())), int(np.floor(view_point.x()))
        annotators = set()
        if 0 <= row < rows and column < columns:
            annotators.add(self.row_annotators[row])  # the cell or the row's swatch
        if self.column_annotators is not None and 0 <= column < columns and row < rows:
            annotators.add(self.column_annotators[column])  # the cell or the column's swatch
        return frozenset(annotators)

    def handle_mouse_moved(self, scene_point: QPointF) -> None:
        super().handle_mouse_moved(scene_point)
        inside = self.contains_scene_point(scene_point)
        self._show_value(self.cell_at(self.vb.mapSceneToView(scene_point)) if inside else None)

    def describe_cell(self, row: int, column: int) -> str:
        value = self.value_format.format(self.matrix[row, column])
        return f"annotator {self.row_annotators[row]}, {self.column_name} {self.column_labels[column]}: {value}"

    def _show_value(self, cell: tuple[int, int] | None) -> None:
        if cell is None:
            if self.hover_text:
                self.hover_text = ""
                self.image.setToolTip("")
                QToolTip.hideText()
            return
        self.hover_text = self.describe_cell(*cell)
        # Once the mouse rests, Qt sends the scene a tooltip event, and the
        # scene hides any tooltip unless an item under the mouse has one.
        self.image.setToolTip(self.hover_text)
        QToolTip.showText(QCursor.pos(), self.hover_text)

    def _draw_decorations(self, levels: tuple[float, float]) -> None:
        for item in self._decorations:
            self.removeItem(item)
        self._decorations = []
        self.value_labels = []
        rows, columns = self.matrix.shape
        for row, annotator in enumerate(self.row_annotators):
            self._add_swatch(QRectF(-SWATCH - 0.05, row + 0.05, SWATCH, 0.9), annotator)
        for column, annotator in enumerate(self.column_annotators or []):
            self._add_swatch(QRectF(column + 0.05, -SWATCH - 0.05, 0.9, SWATCH), annotator)
        if not self.show_values or max(rows, columns) > MAX_LABELLED_CELLS:
            return
        low, high = levels
        font = QFont()
        font.setPointSizeF(8.0 if max(rows, columns) > 10 else 9.0)
        cell_format = cell_value_format(self.value_format, float(np.abs(self.matrix).max(initial=0.0)))
        for row in range(rows):
            for column in range(columns):
                value = self.matrix[row, column]
                fraction = 0.5 if high <= low else float(np.clip((value - low) / (high - low), 0.0, 1.0))
                text = pg.TextItem(cell_format.format(value), anchor=(0.5, 0.5))
                text.setColor(readable_text_color(self.colormap.mapToQColor(fraction)))
                text.setFont(font)
                text.setPos(column + 0.5, row + 0.5)
                self.addItem(text)
                self._decorations.append(text)
                self.value_labels.append(text)
        self._fit_value_labels()

    def _fit_value_labels(self) -> None:
        """Show the cell values only while the widest one fits into a cell; hovering always shows them."""
        if not self.value_labels:
            return
        cell_width = abs(self.vb.mapViewToScene(QPointF(1.0, 0.0)).x() - self.vb.mapViewToScene(QPointF(0.0, 0.0)).x())
        metrics = QFontMetricsF(self.value_labels[0].textItem.font())
        widest = max(metrics.horizontalAdvance(label.toPlainText()) for label in self.value_labels)
        fits = widest + VALUE_PADDING_PIXELS <= cell_width
        for label in self.value_labels:
            label.setVisible(fits)

    def _add_swatch(self, rect: QRectF, annotator: int) -> None:
        swatch = QGraphicsRectItem(rect)
        swatch.setBrush(QBrush(annotator_color(annotator)))
        swatch.setPen(QPen(Qt.PenStyle.NoPen))
        self.addItem(swatch)
        self._decorations.append(swatch)

    def highlighted_rows(self) -> list[int]:
        return [row for row, annotator in enumerate(self.row_annotators) if annotator in self.highlight.highlighted]

    def highlighted_columns(self) -> list[int]:
        if self.column_annotators is None:
            return []
        return [column for column, annotator in enumerate(self.column_annotators) if annotator in self.highlight.highlighted]

    def _on_highlight_changed(self) -> None:
        for item in self._highlight_items:
            self.removeItem(item)
        self._highlight_items = []
        rows, columns = self.matrix.shape
        for row in self.highlighted_rows():
            self._add_outline(QRectF(0, row, columns, 1), self.row_annotators[row])
        for column in self.highlighted_columns():
            self._add_outline(QRectF(column, 0, 1, rows), self.column_annotators[column])

    def _add_outline(self, rect: QRectF, annotator: int) -> None:
        outline = QGraphicsRectItem(rect)
        pen = QPen(annotator_color(annotator), HIGHLIGHT_PEN_WIDTH)
        pen.setCosmetic(True)
        outline.setPen(pen)
        outline.setBrush(QBrush(Qt.BrushStyle.NoBrush))
        outline.setZValue(10)
        self.addItem(outline)
        self._highlight_items.append(outline)


def add_clustered_heatmap(canvas, dendrogram, heatmap: HeatmapPlot, colormap, values, stretch) -> pg.ColorBarItem:
    """Place a dendrogram, its heatmap and a colour bar in one canvas row; return the colour bar.

    `stretch` gives the relative widths of the dendrogram and the heatmap.
    """
    color_bar = pg.ColorBarItem(values=values, colorMap=colormap, interactive=False, width=18)
    color_bar.setImageItem(heatmap.image)
    # ColorBarItem fixes its value axis at 45 px, too narrow for the values and a label.
    # Once labelled, the axis would also rescale small values by an SI factor such as "(x0.001)".
    color_bar.axis.setWidth(None)
    color_bar.axis.enableAutoSIPrefix(False)
    heatmap.setMinimumWidth(HEATMAP_MIN_PIXELS)
    canvas.add_plot(dendrogram, 0, 0)
    canvas.add_plot(heatmap, 0, 1)
    canvas.add_plot(color_bar, 0, 2)
    canvas.ci.layout.setColumnStretchFactor(0, stretch[0])
    canvas.ci.layout.setColumnStretchFactor(1, stretch[1])
    dendrogram.setYLink(heatmap)
    return color_bar
