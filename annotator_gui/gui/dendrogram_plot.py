"""A dendrogram drawn from `analysis.tree_layout`, with annotators along the vertical axis.

Besides the tree it draws flat clusters as branch colours, a movable cut
line, and the support of every merge as a percentage beside it.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPen

from ..analysis.tree_layout import TreeLayout, highlighted_nodes, node_at
from .canvas import InteractivePlot
from .highlight import HighlightModel
from .flat_clusters import cluster_name
from .metric_choice import METHOD_LABELS
from .palette import HIGHLIGHT_PEN_WIDTH, annotator_color, cluster_color

#: Room beyond the root, in pixels, for the root's support label and the parked cut line.
ROOT_MARGIN_PIXELS = 46.0
#: Shortest stem, in pixels, that gets its cluster's letter.
CLUSTER_NAME_PIXELS = 16.0
#: Merges whose support is at most this share are weak, and the consensus view dashes them.
WEAK_SUPPORT = 0.5

#: Maximum distance, in screen pixels, between the mouse and a branch that it hovers or clicks.
PICK_DISTANCE_PIXELS = 6.0
#: Point size of the title above the tree (pyqtgraph's default for plot titles).
TITLE_POINT_SIZE = 11.0
#: Room, in pixels, that the title label keeps around its text.
TITLE_PADDING_PIXELS = 12.0
_BRANCH_COLOR = QColor("#808080")
_CLUSTER_COLOR = QColor("#202020")


class DendrogramPlot(InteractivePlot):
    """Draw a tree whose leaf at position p sits at y = p + 0.5, level with heatmap row p.

    Heights run along x. With `root_side="left"` the root is at the left and
    the leaves face right, and with "right" the tree is mirrored, so two
    plots can face each other in a tanglegram.
    """

    #: The user dragged the cut line to this height (emitted while dragging and when released).
    cut_dragged = Signal(float)
    # The title as set, or None for a plot without one, whose title row stays
    # hidden. A class attribute, because pyqtgraph resizes the plot before
    # __init__ returns.
    _title: str | None = None

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
        self.tree: TreeLayout | None = None
        self.annotators: list[int] = []
        self._branches: dict[int, pg.PlotCurveItem] = {}
        self._leaves = pg.ScatterPlotItem(pxMode=True)
        self._leaves.setZValue(5)
        self.addItem(self._leaves)
        #: Flat cluster of every leaf (in linkage leaf numbering), or None.
        self.cluster_labels: np.ndarray | None = None
        #: Support share of every linkage row, or None. Rows with NaN get no label.
        self.support: np.ndarray | None = None
        self.dash_weak = False
        self.support_labels: dict[int, pg.TextItem] = {}
        #: Cluster letters drawn beside the cut line, by cluster number.
        self.cluster_names: dict[int, pg.TextItem] = {}
        cut_pen = pg.mkPen("#8C8C8C", width=1.5, style=Qt.PenStyle.DashLine)
        self.cut_line = pg.InfiniteLine(angle=90, movable=True, pen=cut_pen, hoverPen=pg.mkPen("#000000", width=2.5))
        self.cut_line.setZValue(8)
        self.cut_line.setToolTip("Drag to cut the tree into flat clusters")
        self.cut_line.hide()
        self.addItem(self.cut_line, ignoreBounds=True)
        self.cut_line.sigDragged.connect(self._on_cut_line_dragged)
        self.cut_line.sigPositionChangeFinished.connect(self._on_cut_line_dragged)
        highlight.changed.connect(self._on_highlight_changed)
        self.vb.sigResized.connect(self._on_view_resized)

    def _on_view_resized(self, _view_box: pg.ViewBox) -> None:
        self._fit_range()

    def set_title(self, text: str) -> None:
        """Show `text` above the tree, shortened with an ellipsis to the plot's width; the tooltip has all of it."""
        self._title = text
        self.titleLabel.setToolTip(text)
        self._fit_title()

    def title(self) -> str | None:
        """Return the whole title, before shortening (None when none was set)."""
        return self._title

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        self._fit_title()

    def _fit_title(self) -> None:
        if self._title is None:
            return
        font = QFont(self.titleLabel.item.font())
        font.setPointSizeF(TITLE_POINT_SIZE)
        width = max(0.0, self.width() - TITLE_PADDING_PIXELS)
        elided = QFontMetricsF(font).elidedText(self._title, Qt.TextElideMode.ElideRight, width)
        self.setTitle(elided, color="k", size=f"{TITLE_POINT_SIZE:g}pt")
        # The label sets its minimum width to that of its text. Left there, the
        # title elided for a wider plot would keep the column from narrowing.
        self.titleLabel.setMinimumWidth(0)

    def set_method(self, method: str) -> None:
        """Name the linkage method on the height axis."""
        self.setLabel("bottom", f"{METHOD_LABELS[method].split(' ')[0]} height")

    def set_tree(self, layout: TreeLayout | None, annotators: list[int]) -> None:
        """Draw `layout`; leaf i of the linkage is annotator `annotators[i]`.

        Clusters, support and the cut line belong to the previous tree, so they are removed.
        """
        for item in self._branches.values():
            self.removeItem(item)
        self._branches = {}
        self.tree = layout
        self.annotators = list(annotators)
        self.cluster_labels = None
        self.cut_line.hide()
        self.set_support(None)
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
        self._fit_range()
        self._on_highlight_changed()

    def set_clusters(self, labels: np.ndarray | None, cut_height: float | None) -> None:
        """Colour each flat cluster's branches (None: no clusters) and put the cut line at `cut_height` (None hides it)."""
        self.cluster_labels = None if labels is None or self.tree is None else np.asarray(labels)
        if self.tree is None or cut_height is None:
            self.cut_line.hide()
        else:
            self.cut_line.show()
        self._fit_range()
        if self.cut_line.isVisible():
            self.cut_line.setBounds((0.0, self.parked_cut_height()))
            if not self.cut_line.moving:
                # Leave a line the user is dragging where the mouse is.
                self.cut_line.setValue(cut_height if self.cluster_labels is not None else self.parked_cut_height())
        self._draw_cluster_names()
        self._on_highlight_changed()

    def _draw_cluster_names(self) -> None:
        """Write each cluster's letter below the stem of its top node, between its bar and the parent's.

        There it touches neither bar, nor the support label above the stem, nor
        the cut line. A stem too short for the letter gets none, and its colour
        still shows the cluster.
        """
        for item in self.cluster_names.values():
            self.removeItem(item)
        self.cluster_names = {}
        layout = self.tree
        if self.cluster_labels is None or layout is None:
            return
        font = QFont()
        font.setBold(True)
        font.setPointSizeF(8.0)
        pixel_width, _ = self.vb.viewPixelSize()
        (_, right_edge), _ = self.vb.viewRange()
        for node in range(len(layout.node_position)):
            cluster = self.node_cluster(node)
            parent = layout.parent[node]
            if cluster is None or (parent >= 0 and self.node_cluster(parent) is not None):
                continue
            bottom = layout.node_height[node]
            top = layout.node_height[parent] if parent >= 0 else right_edge
            # The cut line crosses the stem, so take the longer part on either side of it.
            cut = self.cut_line.value() if self.cut_line.isVisible() else None
            if cut is not None and bottom < cut < top:
                bottom, top = (bottom, cut) if cut - bottom >= top - cut else (cut, top)
            if (top - bottom) / max(pixel_width, 1e-12) < CLUSTER_NAME_PIXELS:
                continue
            name = pg.TextItem(cluster_name(cluster), color=cluster_color(cluster), anchor=(0.5, 0.0))
            name.setFont(font)
            name.setPos((bottom + top) / 2.0, layout.node_position[node] + 0.5)
            name.setZValue(6)
            self.addItem(name)
            self.cluster_names[cluster] = name

    def node_cluster(self, node: int) -> int | None:
        """Return the flat cluster that contains all of `node`'s leaves, or None above the cut."""
        if self.cluster_labels is None or self.tree is None:
            return None
        labels = {int(self.cluster_labels[leaf]) for leaf in self.tree.leaves_under[node]}
        return labels.pop() if len(labels) == 1 else None

    def set_support(self, shares: np.ndarray | None) -> None:
        """Label each merge with its share of support, e.g. "87%" (None removes the labels)."""
        for label in self.support_labels.values():
            self.removeItem(label)
        self.support_labels = {}
        self.support = None if shares is None or self.tree is None else np.asarray(shares, dtype=np.float64)
        if self.support is not None:
            layout = self.tree
            if len(self.support) != layout.leaf_count - 1:
                raise ValueError(f"{len(self.support)} support values for a tree with {layout.leaf_count - 1} merges")
            font = QFont()
            font.setPointSizeF(7.5)
            for row, share in enumerate(self.support):
                if np.isnan(share):
                    continue
                node = layout.leaf_count + row
                label = pg.TextItem(format_share(share), color="#303030")
                label.setFont(font)
                label.setPos(layout.node_height[node], layout.node_position[node] + 0.5)
                label.setZValue(9)
                self.addItem(label)
                self.support_labels[node] = label
        self._fit_range()
        self._on_highlight_changed()

    def _fit_range(self) -> None:
        if self.tree is None:
            return
        top = max(self.tree.max_height, 1e-12)
        margin = 0.04 * top
        if self.support_labels or self.cut_line.isVisible():
            # Leave room beyond the root for its support label and the parked cut line.
            # A margin of m data units takes m / (span + m) of the width, which must hold ROOT_MARGIN_PIXELS.
            width = self.vb.width()
            span = 1.03 * top
            margin = span * ROOT_MARGIN_PIXELS / (width - ROOT_MARGIN_PIXELS) if width > 3 * ROOT_MARGIN_PIXELS else 0.2 * top
        if self.vb.linkedView(pg.ViewBox.YAxis) is None:
            self.vb.setRange(xRange=(-0.03 * top, top + margin), yRange=(0, self.tree.leaf_count), padding=0.0)
        else:
            # The plot this one is linked to owns the rows: a heatmap's range
            # also shows its column swatches above the first row.
            self.vb.setXRange(-0.03 * top, top + margin, padding=0.0)
        if self.cut_line.isVisible() and self.cluster_labels is None:
            self.cut_line.setValue(self.parked_cut_height())
        self._place_support_labels()
        self._draw_cluster_names()

    def parked_cut_height(self) -> float:
        """Return where the cut line waits when there are no flat clusters: at the edge beyond the root."""
        (_, high), _ = self.vb.viewRange()
        pixel_width, _ = self.vb.viewPixelSize()
        return high - 4.0 * pixel_width

    def _place_support_labels(self) -> None:
        """Put each label above its merge's stem, on the root's side of the merge bar if it fits there.

        On the root's side the label touches neither the bar nor the children's
        branches. When the parent merges too close for the label's width, it
        would cross the parent's bar, so it goes inside the merge, on the leaves' side.
        """
        layout = self.tree
        pixel_width, _ = self.vb.viewPixelSize()
        root_side = (1.0, 1.0) if self.root_side == "left" else (0.0, 1.0)
        leaf_side = (0.0, 1.0) if self.root_side == "left" else (1.0, 1.0)
        for node, label in self.support_labels.items():
            parent = layout.parent[node]
            gap = float("inf") if parent < 0 else (layout.node_height[parent] - layout.node_height[node]) / max(pixel_width, 1e-12)
            fits = gap >= label.boundingRect().width() + 2.0
            label.setAnchor(root_side if fits else leaf_side)

    def set_dash_weak(self, enabled: bool) -> None:
        """Dash the branches of merges whose support is at most `WEAK_SUPPORT` (the consensus view)."""
        self.dash_weak = enabled
        self._on_highlight_changed()

    def weak_merges(self) -> set[int]:
        """Return the merge nodes whose support is at most `WEAK_SUPPORT`."""
        if self.support is None or self.tree is None:
            return set()
        leaves = self.tree.leaf_count
        return {leaves + row for row, share in enumerate(self.support) if share <= WEAK_SUPPORT}

    def dashed_branches(self) -> set[int]:
        """Return the nodes whose branch is drawn dashed."""
        return {node for node, curve in self._branches.items() if curve.opts["pen"].style() == Qt.PenStyle.DashLine}

    def branch_color(self, node: int) -> QColor:
        return self._branches[node].opts["pen"].color()

    def _on_cut_line_dragged(self, _line: pg.InfiniteLine) -> None:
        self.cut_dragged.emit(float(self.cut_line.value()))

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
        weak = self.weak_merges() if self.dash_weak else set()
        for node, curve in self._branches.items():
            cluster = self.node_cluster(node)
            if node in nodes:
                under = layout.leaves_under[node] & highlighted
                if len(under) == 1:
                    color = annotator_color(self.annotators[next(iter(under))])
                else:
                    color = _CLUSTER_COLOR if cluster is None else cluster_color(cluster)
                pen = QPen(color, HIGHLIGHT_PEN_WIDTH)
            else:
                pen = QPen(_BRANCH_COLOR if cluster is None else cluster_color(cluster), 1.5 if cluster is None else 2.0)
            # A branch belongs to the U of its parent's merge, so it is dashed when that merge is weak.
            if layout.parent[node] in weak:
                pen.setStyle(Qt.PenStyle.DashLine)
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


def format_share(share: float) -> str:
    """Format a support share as a whole percentage, e.g. 0.867 as "87%"."""
    return f"{100.0 * share:.0f}%"
