"""The checkpoint pane: split and task selectors, a summary, and the list of annotators."""

from __future__ import annotations

import html
import os
import re

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFormLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .flat_clusters import cluster_name
from .highlight import HighlightModel
from .palette import annotator_color, cluster_color
from .scrolling import set_scrolling_contents
from .session import Session

TASK_NAMES = {0: "Task 1/2 (attack, investigation, mount, other)"}


def format_size(size: int) -> str:
    """Format a byte count with a binary unit, for example 8.8 MiB."""
    value = float(size)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def task_name(task: int) -> str:
    return TASK_NAMES.get(task, f"Task 3, head {task}")


def _swatch_icon(color: QColor, clusters: tuple[int | None, int | None] = (None, None)) -> QIcon:
    """Draw the annotator's colour, then its embedding and prediction cluster colours as narrower bars."""
    pixmap = QPixmap(_ICON_SIZE)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.fillRect(0, 0, 12, 12, color)
    for index, cluster in enumerate(clusters):
        if cluster is not None:
            painter.fillRect(16 + 9 * index, 1, 6, 10, cluster_color(cluster))
    painter.end()
    return QIcon(pixmap)


_ICON_SIZE = QSize(34, 12)


class AnnotatorList(QListWidget):
    """The annotators of the split, each with its colour; selection mirrors the highlight model."""

    def __init__(self, highlight: HighlightModel, parent: QWidget | None = None):
        super().__init__(parent)
        self._highlight = highlight
        self._updating = False
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setMouseTracking(True)
        self.setIconSize(_ICON_SIZE)
        #: Each annotator's (embedding cluster, prediction cluster); either may be None.
        self.clusters: dict[int, tuple[int | None, int | None]] = {}
        self.itemSelectionChanged.connect(self._on_item_selection_changed)
        self.itemEntered.connect(self._on_item_entered)
        highlight.changed.connect(self._on_highlight_changed)

    def set_annotators(self, annotators: list[int], clusters: dict[int, tuple[int | None, int | None]] | None = None) -> None:
        """List `annotators`, each with its flat clusters in the embedding and prediction trees if given."""
        self._updating = True
        self.clear()
        self.clusters = dict(clusters or {})
        for annotator in annotators:
            embedding, prediction = self.clusters.get(annotator, (None, None))
            text = f"annotator {annotator}"
            names = []
            if embedding is not None:
                names.append(f"embedding cluster {cluster_name(embedding)}")
            if prediction is not None:
                names.append(f"prediction cluster {cluster_name(prediction)}")
            if names:
                text += " (" + ", ".join(names) + ")"
            item = QListWidgetItem(_swatch_icon(annotator_color(annotator), (embedding, prediction)), text)
            item.setData(Qt.ItemDataRole.UserRole, annotator)
            self.addItem(item)
        self._updating = False
        self._on_highlight_changed()

    def annotator_of(self, item: QListWidgetItem) -> int:
        return int(item.data(Qt.ItemDataRole.UserRole))

    def _on_item_selection_changed(self) -> None:
        if not self._updating:
            self._highlight.set_selection(self.annotator_of(item) for item in self.selectedItems())

    def _on_item_entered(self, item: QListWidgetItem) -> None:
        self._highlight.set_hovered([self.annotator_of(item)], self)

    def leaveEvent(self, event) -> None:
        self._highlight.clear_hover(self)
        super().leaveEvent(event)

    def _on_highlight_changed(self) -> None:
        # Mirror the selection only: hover must not select list rows.
        self._updating = True
        selection = self._highlight.selection
        for row in range(self.count()):
            item = self.item(row)
            item.setSelected(self.annotator_of(item) in selection)
        self._updating = False


def breakable(name: str) -> str:
    """Return `name` with a zero-width space after each "_", "." and "-", where a wrapped line may break.

    A long file name has no spaces, so a word-wrapped label could not
    break it and would grow wider than its pane.

    NOTE: text copied from the summary keeps these invisible characters. The
    window title shows the name without them.
    """
    return re.sub(r"([_.-])", "\\1\u200b", name)


class CheckpointPane(QWidget):
    """Shows what the open file contains and selects the split and task to analyse."""

    def __init__(self, session: Session, highlight: HighlightModel, parent: QWidget | None = None):
        super().__init__(parent)
        self._session = session
        self.split_box = QComboBox()
        self.task_box = QComboBox()
        self.task_note = QLabel("The task selects which head's embedding is shown. Predictions always come from the Task 1/2 head.")
        self.task_note.setWordWrap(True)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.annotators = AnnotatorList(highlight)

        form = QFormLayout()
        form.addRow("Split:", self.split_box)
        form.addRow("Task:", self.task_box)
        contents = QWidget()
        layout = QVBoxLayout(contents)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(form)
        layout.addWidget(self.task_note)
        layout.addWidget(self.summary)
        layout.addWidget(QLabel("Annotators (click to highlight, Ctrl+click for several, Esc to clear):"))
        layout.addWidget(self.annotators, 1)
        set_scrolling_contents(self, contents)

        self.split_box.currentIndexChanged.connect(self._on_split_box_changed)
        self.task_box.currentIndexChanged.connect(self._on_task_box_changed)
        session.checkpoint_changed.connect(self._on_checkpoint_changed)
        session.embedding_changed.connect(self._on_embedding_changed)
        session.predictions_changed.connect(self._on_flat_clusters_changed)
        session.flat_clusters_changed.connect(self._on_flat_clusters_changed)
        self._on_checkpoint_changed()

    def _on_split_box_changed(self, index: int) -> None:
        if index >= 0:
            self._session.set_split(self.split_box.itemData(index))

    def _on_task_box_changed(self, index: int) -> None:
        if index >= 0:
            self._session.set_task(self.task_box.itemData(index))

    def _on_checkpoint_changed(self) -> None:
        session = self._session
        checkpoint = session.checkpoint
        self.split_box.blockSignals(True)
        self.split_box.clear()
        if checkpoint is not None:
            for split in checkpoint.splits:
                self.split_box.addItem(f"split {split.index}", split.index)
            self.split_box.setCurrentIndex(session.split_index)
        self.split_box.blockSignals(False)
        self.summary.setText(self._summary_html())

    def _on_embedding_changed(self) -> None:
        session = self._session
        split = session.split
        self.split_box.blockSignals(True)
        self.split_box.setCurrentIndex(session.split_index)
        self.split_box.blockSignals(False)
        self.task_box.blockSignals(True)
        self.task_box.clear()
        for task in [] if split is None else split.tasks:
            self.task_box.addItem(f"{task}: {task_name(task)}", task)
        self.task_box.setCurrentIndex(self.task_box.findData(session.task))
        self.task_box.blockSignals(False)
        self._on_flat_clusters_changed()
        self.summary.setText(self._summary_html())

    def _on_flat_clusters_changed(self) -> None:
        session = self._session
        annotators = session.annotators
        embedding, prediction = session.flat_cluster_labels()
        clusters = {}
        for leaf, annotator in enumerate(annotators):
            clusters[annotator] = (
                None if embedding is None else int(embedding[leaf]),
                None if prediction is None else int(prediction[leaf]),
            )
        self.annotators.set_annotators(annotators, clusters)

    def _summary_html(self) -> str:
        session = self._session
        summary = session.summary
        if session.checkpoint is None or not summary:
            return "No checkpoint open. Use File > Open (Ctrl+O) or drop a file on the window."
        split_entry = summary["per_split"][session.split_index]
        scores = ", ".join(f"task {task}: {score:.3f}" for task, score in split_entry["best_val_f1"].items()) or "none stored"
        rows = [
            ("File", breakable(os.path.basename(summary["checkpoint"])) + (" (bundled sample)" if session.is_sample else "")),
            ("Format", "legacy torch.save" if summary["format"] == "legacy" else "zip torch.save"),
            ("File size", format_size(summary["file_size"])),
            ("Splits", str(summary["splits"])),
            ("Annotators", ", ".join(map(str, split_entry["annotators"]))),
            ("Sequences", f"{split_entry['sequences']} in split {session.split_index}"),
            ("Frames", f"{split_entry['frames']:,} in split {session.split_index}"),
            ("Best validation F1", scores),
        ]
        cells = "".join(f"<tr><td><b>{name}</b>&nbsp;</td><td>{html.escape(value)}</td></tr>" for name, value in rows)
        return f"<table>{cells}</table>"
