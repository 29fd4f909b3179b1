"""Colours shared by every view: one per annotator, one per behaviour, and the colour maps."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor

# Okabe and Ito's colour-blind-safe qualitative palette without its yellow
# and black (too faint on white and too close to the text), followed by
# darker extra hues for files with more annotators.
_ANNOTATOR_COLORS = (
    "#0072B2",  # blue
    "#D55E00",  # vermillion
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#E69F00",  # orange
    "#56B4E9",  # sky blue
    "#8C564B",  # brown
    "#7F7F7F",  # grey
    "#4B0092",  # violet
    "#117733",  # dark green
    "#882255",  # wine
    "#332288",  # indigo
)

# Flat clusters use dark hues chosen to differ from the first six annotator
# colours (blue, vermillion, bluish green, pink, orange, sky blue), so a
# cluster's branches are not mistaken for one annotator's highlight.
_CLUSTER_COLORS = (
    "#6A3D9A",  # deep purple
    "#A50026",  # crimson
    "#4D9221",  # leaf green
    "#253494",  # navy
    "#8C510A",  # brown
    "#C51B7D",  # magenta
    "#01665E",  # dark teal
    "#4D4D4D",  # dark grey
)

#: Colours of attack, investigation, mount and other, in `checkpoint.BEHAVIORS` order.
BEHAVIOR_COLORS = ("#B2182B", "#4393C3", "#F4A582", "#D9D9D9")

HIGHLIGHT_PEN_WIDTH = 3.0
FADED_ALPHA = 70


def annotator_color(annotator: int) -> QColor:
    """Return the fixed colour of an annotator; it is the same in every view."""
    return QColor(_ANNOTATOR_COLORS[annotator % len(_ANNOTATOR_COLORS)])


def cluster_color(cluster: int) -> QColor:
    """Return the colour of flat cluster number `cluster`, the same in every view."""
    return QColor(_CLUSTER_COLORS[cluster % len(_CLUSTER_COLORS)])


def faded(color: QColor, alpha: int = FADED_ALPHA) -> QColor:
    result = QColor(color)
    result.setAlpha(alpha)
    return result


def diverging_colormap() -> pg.ColorMap:
    """Blue for negative, white at zero, red for positive values."""
    positions = np.array([0.0, 0.25, 0.5, 0.75, 1.0])
    colors = np.array(
        [
            [33, 102, 172],
            [146, 197, 222],
            [247, 247, 247],
            [244, 165, 130],
            [178, 24, 43],
        ],
        dtype=np.ubyte,
    )
    return pg.ColorMap(positions, colors)


def sequential_colormap() -> pg.ColorMap:
    """Light for small values, dark for large ones (pyqtgraph's bundled viridis, reversed)."""
    # `pg.colormap.get` returns a cached instance, so reverse a copy of its stops.
    positions, colors = pg.colormap.get("viridis").getStops(mode=pg.ColorMap.BYTE)
    return pg.ColorMap(1.0 - positions[::-1], colors[::-1])


def readable_text_color(background: QColor) -> QColor:
    """Return black or white, whichever contrasts more with `background`."""
    luminance = 0.299 * background.redF() + 0.587 * background.greenF() + 0.114 * background.blueF()
    return QColor("black") if luminance > 0.55 else QColor("white")
