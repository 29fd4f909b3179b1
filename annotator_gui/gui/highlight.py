"""The one highlight model that every pane reads and writes."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QObject, Signal


class HighlightModel(QObject):
    """Annotators highlighted in every view: the clicked selection plus the hovered ones.

    `changed` is emitted only when the selection or the hovered set really
    changes, so a view that redraws on `changed` and never writes back while
    redrawing cannot start a loop.
    """

    changed = Signal()

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._selection: frozenset[int] = frozenset()
        self._hovered: frozenset[int] = frozenset()
        self._hover_source: object | None = None

    @property
    def selection(self) -> frozenset[int]:
        return self._selection

    @property
    def hovered(self) -> frozenset[int]:
        return self._hovered

    @property
    def highlighted(self) -> frozenset[int]:
        return self._selection | self._hovered

    def set_selection(self, annotators: Iterable[int]) -> None:
        selection = frozenset(int(annotator) for annotator in annotators)
        if selection == self._selection:
            return
        self._selection = selection
        self.changed.emit()

    def toggle(self, annotators: Iterable[int]) -> None:
        """Add `annotators` to the selection, or remove them if all are selected already."""
        annotators = frozenset(annotators)
        if annotators and annotators <= self._selection:
            self.set_selection(self._selection - annotators)
        else:
            self.set_selection(self._selection | annotators)

    def set_hovered(self, annotators: Iterable[int], source: object) -> None:
        """Mark `annotators` as under the mouse in the view `source`."""
        hovered = frozenset(int(annotator) for annotator in annotators)
        self._hover_source = source if hovered else None
        if hovered == self._hovered:
            return
        self._hovered = hovered
        self.changed.emit()

    def clear_hover(self, source: object | None = None) -> None:
        """Forget the hovered annotators; with `source`, only if that view set them."""
        if source is not None and source is not self._hover_source:
            return
        self.set_hovered((), source)

    def clear(self) -> None:
        """Clear the selection and the hover, emitting `changed` at most once."""
        if not self._selection and not self._hovered:
            return
        self._selection = frozenset()
        self._hovered = frozenset()
        self._hover_source = None
        self.changed.emit()
