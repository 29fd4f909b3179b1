"""A dendrogram drawn from `analysis.tree_layout`, with annotators along the vertical axis."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QPointF
from PySide6.QtGui import QColor, QPen

from ..analysis.tree_layout import TreeLayout, highlighted_nodes, node_at
from .canvas import InteractivePlot
from .highlight import HighlightModel
from .palette import HIGHLIGHT_PEN_WIDTH, annotator_color

#: Maximum distance, in screen pixels, between the mouse and a branch that it hovers or clicks.
PICK_DISTANCE_PIXELS = 6.0
_BRANCH_COLOR = QColor("#808080")
_CLUSTER_COLOR = QColor("#202020")


class DendrogramPlot(InteractivePlot):
    """Draw a tree whose leaf at position p sits at y = p + 0.5, level with heatmap row p.

    Heights run along x. With `root_side="left"` the root is at the left and
    the leaves face right, and with "right" the tree is mirrored, so two
    plots can face each other in a tanglegram.
    """

    def __init__(self, highlight: HighlightModel, root_side: str = "left"):
        super().__init__(highlight)
        if root_side not in ("left", "right"):
            raise ValueError(f"root_side must be 'left' or 'right', not {root_side!r}")
        self.root_side = root_side
        self.invertY(True)
        self.invertX(root_side == "left")
        self.hideAxis("left")
        self.setLabel("bottom", "Ward height")
        # Narrow trees beside a heatmap would otherwise crowd the height labels together.
        self.setMinimumWidth(150)
        self.getAxis("bottom").setStyle(maxTickLevel=0)
        self.getAxis("bottom").enableAutoSIPrefix(False)
        self.tree: TreeLayout | None = None
        self.annotators: list[int] = []
        self._branches: dict[int, pg.PlotCurveItem] = {}
        self._leaves = pg.ScatterPlotItem(pxMode=True)
        self._leaves.setZValue(5)
        self.addItem(self._leaves)
        highlight.changed.connect(self._on_highlight_changed)

    def set_tree(self, layout: TreeLayout | None, annotators: list[int]) -> None:
        """Draw `layout`; leaf i of the linkage is annotator `annotators[i]`."""
        for item in self._branches.values():
            self.removeItem(item)
        self._branches = {}
        self.tree = layout
        self.annotators = list(annotators)
        if layout is None:
            self._leaves.setData([], [])
            return
        for node in range(len(layout.node_position)):
            parent = layout.parent[node]
            if parent < 0:
                continue
            # The branch above `node`: up its stem to the parent's height, then
            # along the parent's bar to the parent's position.
            heights = [layout.node_height[node], layout.node_height[parent], layout.node_height[parent]]
            positions = [layout.node_position[node], layout.node_position[node], layout.node_position[parent]]
            curve = pg.PlotCurveItem(heights, [position + 0.5 for position in positions])
            self.addItem(curve)
            self._branches[node] = curve
        top = max(layout.max_height, 1e-12)
        self.vb.setRange(xRange=(-0.03 * top, 1.04 * top), yRange=(0, layout.leaf_count), padding=0.0)
        self._on_highlight_changed()

    def drawn_leaf_order(self) -> list[int]:
        """Return the annotators from top to bottom, as the leaf markers are drawn."""
        points = sorted(self._leaves.points(), key=lambda point: point.pos().y())
        return [point.data() for point in points]

    def highlighted_branches(self) -> set[int]:
        """Return the nodes whose branch is drawn highlighted."""
        return {node for node, curve in self._branches.items() if curve.opts["pen"].widthF() >= HIGHLIGHT_PEN_WIDTH}

    def node_at_view_point(self, view_point: QPointF) -> int | None:
        if self.tree is None:
            return None
        pixel_width, pixel_height = self.vb.viewPixelSize()
        return node_at(
            self.tree,
            view_point.y() - 0.5,
            view_point.x(),
            position_tolerance=max(PICK_DISTANCE_PIXELS * abs(pixel_height), 0.05),
            height_tolerance=max(PICK_DISTANCE_PIXELS * abs(pixel_width), 1e-9),
        )

    def annotators_at(self, view_point: QPointF) -> frozenset[int]:
        node = self.node_at_view_point(view_point)
        if node is None:
            return frozenset()
        return frozenset(self.annotators[leaf] for leaf in self.tree.leaves_under[node])

    def view_point_of_node(self, node: int) -> QPointF:
        """Return a point on the branch above `node` (its stem), halfway up, in data coordinates."""
        layout = self.tree
        parent = layout.parent[node]
        top = layout.node_height[parent] if parent >= 0 else layout.node_height[node]
        return QPointF((layout.node_height[node] + top) / 2.0, layout.node_position[node] + 0.5)

    def _on_highlight_changed(self) -> None:
        layout = self.tree
        if layout is None:
            return
        highlighted = {leaf for leaf, annotator in enumerate(self.annotators) if annotator in self.highlight.highlighted}
        nodes = highlighted_nodes(layout, highlighted)
        for node, curve in self._branches.items():
            if node in nodes:
                under = layout.leaves_under[node] & highlighted
                color = annotator_color(self.annotators[next(iter(under))]) if len(under) == 1 else _CLUSTER_COLOR
                pen = QPen(color, HIGHLIGHT_PEN_WIDTH)
            else:
                pen = QPen(_BRANCH_COLOR, 1.5)
            pen.setCosmetic(True)
            curve.setPen(pen)
        spots = []
        for leaf, annotator in enumerate(self.annotators):
            color = annotator_color(annotator)
            size = 13 if leaf in highlighted else 9
            spots.append(
                {
                    "pos": (0.0, layout.leaf_position(leaf) + 0.5),
                    "size": size,
                    "brush": pg.mkBrush(color),
                    "pen": pg.mkPen("k" if leaf in highlighted else color, width=1.5),
                    "data": annotator,
                }
            )
        self._leaves.setData(spots)
