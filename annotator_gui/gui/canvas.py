"""A pyqtgraph layout widget that routes mouse movement and clicks to its plots."""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import QPointF, QSize, Qt

from .highlight import HighlightModel


class InteractivePlot(pg.PlotItem):
    """A plot that turns hovering and clicking into highlight changes.

    Subclasses implement `annotators_at(view_point)`, which returns the
    annotators under a point in data coordinates (or an empty set).
    """

    def __init__(self, highlight: HighlightModel, **kwargs):
        super().__init__(**kwargs)
        self.highlight = highlight
        self.setMenuEnabled(False)
        self.vb.setMouseEnabled(x=False, y=False)
        self.hideButtons()
        # Axes show annotators, shares or heights as they are: a scale such as
        # "(x0.001)" after the label would be easy to miss when citing values.
        for side in ("left", "bottom", "right", "top"):
            self.getAxis(side).enableAutoSIPrefix(False)

    def annotators_at(self, view_point: QPointF) -> frozenset[int]:
        raise NotImplementedError

    def contains_scene_point(self, scene_point: QPointF) -> bool:
        return self.vb.sceneBoundingRect().contains(scene_point)

    def handle_mouse_moved(self, scene_point: QPointF) -> None:
        if not self.contains_scene_point(scene_point):
            self.highlight.clear_hover(self)
            return
        annotators = self.annotators_at(self.vb.mapSceneToView(scene_point))
        if annotators:
            self.highlight.set_hovered(annotators, self)
        else:
            self.highlight.clear_hover(self)

    def handle_mouse_clicked(self, event) -> None:
        scene_point = event.scenePos()
        if event.button() != pg.QtCore.Qt.MouseButton.LeftButton or not self.contains_scene_point(scene_point):
            return
        annotators = self.annotators_at(self.vb.mapSceneToView(scene_point))
        if not annotators:
            return
        event.accept()
        if event.modifiers() & pg.QtCore.Qt.KeyboardModifier.ControlModifier:
            self.highlight.toggle(annotators)
        else:
            self.highlight.set_selection(annotators)


class Canvas(pg.GraphicsLayoutWidget):
    """A white layout of plots whose hover highlight ends when the mouse leaves it."""

    def __init__(self, highlight: HighlightModel, parent=None):
        super().__init__(parent)
        self.setBackground("w")
        self._highlight = highlight
        self.interactive_plots: list[InteractivePlot] = []

    def add_plot(self, plot: pg.GraphicsItem, row: int, column: int, **kwargs) -> None:
        self.ci.addItem(plot, row, column, **kwargs)
        if isinstance(plot, InteractivePlot):
            self.interactive_plots.append(plot)
            self.scene().sigMouseMoved.connect(plot.handle_mouse_moved)
            self.scene().sigMouseClicked.connect(plot.handle_mouse_clicked)

    def view_point_to_widget(self, plot: pg.PlotItem, x: float, y: float):
        """Map a point in `plot`'s data coordinates to this widget's viewport (for tests and tools)."""
        return self.mapFromScene(plot.vb.mapViewToScene(QPointF(x, y)))

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        # The plots' minimum sizes are in the scene's layout, which the dock
        # layout does not see. Without this, a narrow dock would cut plots off.
        minimum = self.ci.effectiveSizeHint(Qt.SizeHint.MinimumSize)
        return QSize(math.ceil(minimum.width()), math.ceil(minimum.height())).expandedTo(super().minimumSizeHint())

    def leaveEvent(self, event) -> None:
        self._highlight.clear_hover()
        super().leaveEvent(event)
