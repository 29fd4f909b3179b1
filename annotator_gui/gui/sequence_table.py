"""The test sequences that contribute most to the distance between highlighted annotators."""

from __future__ import annotations

from itertools import combinations

from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from ..analysis import metrics
from ..analysis.pipeline import PredictionComparison
from .highlight import HighlightModel

ROWS_SHOWN = 10


def separating_pairs(highlighted: frozenset[int], annotators: list[int]) -> list[tuple[int, int]]:
    """Return the pairs to rank sequences for.

    Two or more highlighted annotators: every pair among them. One: that
    annotator against every other. None: no pairs.
    """
    chosen = sorted(annotator for annotator in highlighted if annotator in annotators)
    if len(chosen) >= 2:
        return list(combinations(chosen, 2))
    if len(chosen) == 1:
        return [(chosen[0], other) for other in annotators if other != chosen[0]]
    return []


class SequenceTable(QWidget):
    """A table of (sequence, pair, share of the pair's squared distance), largest first."""

    def __init__(self, highlight: HighlightModel, parent: QWidget | None = None):
        super().__init__(parent)
        self._highlight = highlight
        self._comparison: PredictionComparison | None = None
        self.caption = QLabel()
        self.caption.setWordWrap(True)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["sequence", "annotators", "share of squared distance"])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.caption)
        layout.addWidget(self.table, 1)
        highlight.changed.connect(self._on_highlight_changed)
        self._on_highlight_changed()

    def set_comparison(self, comparison: PredictionComparison | None) -> None:
        self._comparison = comparison
        self._on_highlight_changed()

    def rows(self) -> list[tuple[str, str, float]]:
        """Return the rows shown: (sequence id, "a-b", share)."""
        comparison = self._comparison
        if comparison is None:
            return []
        ranked = []
        for first, second in separating_pairs(self._highlight.highlighted, comparison.annotators):
            for sequence, share in metrics.top_sequences(comparison.statistics, first, second, ROWS_SHOWN):
                ranked.append((sequence, f"{first} and {second}", share))
        ranked.sort(key=lambda row: -row[2])
        return ranked[:ROWS_SHOWN]

    def _on_highlight_changed(self) -> None:
        if self._comparison is None:
            self.caption.setText("Sequences appear here after Compute.")
        elif not self._highlight.highlighted:
            self.caption.setText("Click a cell of the distance matrix, or annotators anywhere, to list the sequences that separate them most.")
        else:
            names = ", ".join(str(annotator) for annotator in sorted(self._highlight.highlighted))
            self.caption.setText(f"Sequences that separate annotators {names} most (share of each pair's squared distance):")
        rows = self.rows()
        self.table.setRowCount(len(rows))
        for index, (sequence, pair, share) in enumerate(rows):
            self.table.setItem(index, 0, QTableWidgetItem(sequence))
            self.table.setItem(index, 1, QTableWidgetItem(pair))
            self.table.setItem(index, 2, QTableWidgetItem(f"{share:.1%}"))
