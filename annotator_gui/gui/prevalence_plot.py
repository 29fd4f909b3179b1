"""Stacked bars: the share of frames each annotator's predictions give each behaviour."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QPen
from PySide6.QtWidgets import QGraphicsRectItem

from ..checkpoint import BEHAVIORS
from .canvas import InteractivePlot
from .highlight import HighlightModel
from .palette import BEHAVIOR_COLORS, HIGHLIGHT_PEN_WIDTH, annotator_color

BAR_WIDTH = 0.7
#: Narrowest plot, in pixels, whose annotator labels stay apart.
PLOT_MIN_PIXELS = 140


class PrevalencePlot(InteractivePlot):
    """One stacked bar per annotator, in the given order, coloured by behaviour."""

    def __init__(self, highlight: HighlightModel):
        super().__init__(highlight)
        self.setMinimumWidth(PLOT_MIN_PIXELS)
        self.setLabel("left", "share of frames")
        self.setLabel("bottom", "annotator")
        # The legend is placed beside the plot by the pane, so it never covers a bar.
        self.legend = pg.LegendItem(labelTextColor="k")
        self.annotators: list[int] = []
        self.shares = np.zeros((0, len(BEHAVIORS)))
        self._items: list[pg.GraphicsObject] = []
        self._outlines: list[QGraphicsRectItem] = []
        highlight.changed.connect(self._on_highlight_changed)

    def set_prevalence(self, shares: np.ndarray, annotators: list[int]) -> None:
        """Show `shares` (annotators x behaviours, rows in `annotators` order)."""
        for item in self._items:
            self.removeItem(item)
        self._items = []
        self.legend.clear()
        self.annotators = list(annotators)
        self.shares = np.asarray(shares, dtype=np.float64)
        positions = np.arange(len(annotators), dtype=np.float64)
        bottom = np.zeros(len(annotators))
        for behavior, color in zip(range(len(BEHAVIORS)), BEHAVIOR_COLORS):
            heights = self.shares[:, behavior] if len(annotators) else np.zeros(0)
            bars = pg.BarGraphItem(x=positions, height=heights, y0=bottom, width=BAR_WIDTH, brush=color, pen=pg.mkPen("w", width=0.5))
            self.addItem(bars)
            self._items.append(bars)
            self.legend.addItem(bars, BEHAVIORS[behavior])
            bottom = bottom + heights
        for position, annotator in zip(positions, annotators):
            swatch = QGraphicsRectItem(QRectF(position - BAR_WIDTH / 2, -0.07, BAR_WIDTH, 0.04))
            swatch.setBrush(QBrush(annotator_color(annotator)))
            swatch.setPen(QPen(Qt.PenStyle.NoPen))
            self.addItem(swatch)
            self._items.append(swatch)
        self.getAxis("bottom").setTicks([[(position, str(annotator)) for position, annotator in zip(positions, annotators)]])
        self.vb.setRange(xRange=(-0.6, max(len(annotators), 1) - 0.4), yRange=(-0.08, 1.0), padding=0.02)
        self._on_highlight_changed()

    def annotators_at(self, view_point: QPointF) -> frozenset[int]:
        index = int(round(view_point.x()))
        if 0 <= index < len(self.annotators) and abs(view_point.x() - index) <= BAR_WIDTH / 2 and -0.08 <= view_point.y() <= 1.0:
            return frozenset([self.annotators[index]])
        return frozenset()

    def highlighted_bars(self) -> list[int]:
        return [annotator for annotator in self.annotators if annotator in self.highlight.highlighted]

    def _on_highlight_changed(self) -> None:
        for item in self._outlines:
            self.removeItem(item)
        self._outlines = []
        for annotator in self.highlighted_bars():
            position = self.annotators.index(annotator)
            outline = QGraphicsRectItem(QRectF(position - BAR_WIDTH / 2 - 0.05, -0.08, BAR_WIDTH + 0.1, 1.1))
            pen = QPen(annotator_color(annotator), HIGHLIGHT_PEN_WIDTH)
            pen.setCosmetic(True)
            outline.setPen(pen)
            outline.setZValue(10)
            self.addItem(outline)
            self._outlines.append(outline)
