"""Panes whose contents scroll vertically when their dock is too short for them."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QFrame, QScrollArea, QVBoxLayout, QWidget


class VerticalScrollArea(QScrollArea):
    """A scroll area that scrolls only vertically and is never narrower than its contents allow."""

    def __init__(self, contents: QWidget):
        super().__init__()
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setWidget(contents)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        # A plain scroll area can be narrower than its contents and then cuts
        # their right side off, so it takes the contents' minimum width and
        # room for the vertical scroll bar.
        hint = super().minimumSizeHint()
        width = self.widget().minimumSizeHint().width() + self.verticalScrollBar().sizeHint().width()
        return QSize(max(hint.width(), width), hint.height())


def set_scrolling_contents(pane: QWidget, contents: QWidget) -> None:
    """Show `contents` in `pane` inside a vertical scroll area.

    In a short dock the pane then scrolls instead of squeezing its rows,
    which would cut word-wrapped text off.
    """
    outer = QVBoxLayout(pane)
    outer.setContentsMargins(0, 0, 0, 0)
    outer.addWidget(VerticalScrollArea(contents))
