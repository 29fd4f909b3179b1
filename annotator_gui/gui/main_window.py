"""The main window: dockable panes, file opening, the shared highlight and clean shutdown."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QFileDialog, QLabel, QMainWindow, QProgressBar, QPushButton, QWidget

from ..analysis.pipeline import compare_predictions
from ..analysis.trust import assess_trust
from ..resources import sample_checkpoint_path
from .checkpoint_pane import CheckpointPane
from .compare_worker import Compare, PredictionComputation
from .dendrogram_pane import DendrogramPane
from .distance_pane import DistancePane
from .embedding_pane import EmbeddingPane
from .errors import ErrorReporter
from .highlight import HighlightModel
from .open_worker import BytesRead, OpenedCheckpoint, open_job
from .session import Session
from .settings import AppSettings
from .trust_pane import TrustPane
from .trust_worker import Assess, TrustComputation
from .worker import BackgroundWorker

APP_NAME = "Annotator Style Explorer"
FILE_FILTER = "Checkpoints (*.pt *.pth *.ckpt);;All files (*)"


def _close_opened(opened: OpenedCheckpoint) -> None:
    opened.checkpoint.close()


class MainWindow(QMainWindow):
    """Owns the session, the highlight model and every worker; panes only display them."""

    #: Emitted after a file has been opened and every pane shows it.
    checkpoint_opened = Signal(str)

    def __init__(
        self,
        settings: AppSettings,
        compare: Compare = compare_predictions,
        show_dialogs: bool = True,
        assess: Assess = assess_trust,
    ):
        super().__init__()
        self.settings = settings
        self.session = Session(self)
        self.session.set_linkage(settings.linkage_method(), settings.optimal_ordering())
        self.highlight = HighlightModel(self)
        self.errors = ErrorReporter(self, self.statusBar(), show_dialogs=show_dialogs)
        self.opener = BackgroundWorker("open-checkpoint", self, discard=_close_opened)
        self.computation = PredictionComputation(self.session, compare, self)
        self.trust = TrustComputation(self.session, assess, self)
        # The session often changes both trees in a row, so start one assessment after both.
        self._trust_timer = QTimer(self)
        self._trust_timer.setSingleShot(True)
        self._trust_timer.setInterval(0)
        self._trust_timer.timeout.connect(self._on_trust_timer_timeout)
        self._opening_path: str | None = None
        self._pending_selection: tuple[int, int] | None = None

        self.checkpoint_pane = CheckpointPane(self.session, self.highlight)
        self.embedding_pane = EmbeddingPane(self.session, self.highlight)
        self.dendrogram_pane = DendrogramPane(self.session, self.highlight)
        self.distance_pane = DistancePane(self.session, self.highlight, self.computation)
        self.trust_pane = TrustPane(self.session, self.trust, self.dendrogram_pane)
        self._build_docks()
        self._build_status_bar()
        self._build_menus()
        self.setAcceptDrops(True)
        self._update_title()

        self.opener.progressed.connect(self._on_opener_progressed)
        self.opener.finished.connect(self._on_opener_finished)
        self.opener.failed.connect(self._on_opener_failed)
        self.opener.cancelled.connect(self._on_opener_cancelled)
        self.computation.failed.connect(self._on_computation_failed)
        self.trust.failed.connect(self._on_trust_failed)
        self.trust_pane.linkage_chosen.connect(self._on_trust_pane_linkage_chosen)
        self.session.embedding_changed.connect(self._trust_timer.start)
        self.session.predictions_changed.connect(self._trust_timer.start)
        self.session.failed.connect(self.errors.report)

    # Layout -------------------------------------------------------------

    def _dock(self, title: str, widget: QWidget, name: str) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        return dock

    def _build_docks(self) -> None:
        self.setDockNestingEnabled(True)
        self.checkpoint_dock = self._dock("Checkpoint", self.checkpoint_pane, "checkpoint")
        self.embedding_dock = self._dock("Embedding", self.embedding_pane, "embedding")
        self.dendrogram_dock = self._dock("Dendrograms", self.dendrogram_pane, "dendrograms")
        self.distance_dock = self._dock("Prediction distances", self.distance_pane, "distances")
        self.trust_dock = self._dock("Cluster trust", self.trust_pane, "trust")
        self.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.checkpoint_dock)
        self.splitDockWidget(self.checkpoint_dock, self.trust_dock, Qt.Orientation.Vertical)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.embedding_dock)
        self.splitDockWidget(self.embedding_dock, self.distance_dock, Qt.Orientation.Horizontal)
        self.splitDockWidget(self.embedding_dock, self.dendrogram_dock, Qt.Orientation.Vertical)
        self.resizeDocks([self.checkpoint_dock, self.embedding_dock, self.distance_dock], [360, 600, 600], Qt.Orientation.Horizontal)
        self.resizeDocks([self.checkpoint_dock, self.trust_dock], [400, 600], Qt.Orientation.Vertical)

    def _build_status_bar(self) -> None:
        self.open_label = QLabel()
        self.open_progress = QProgressBar()
        self.open_progress.setMaximumWidth(200)
        self.open_cancel = QPushButton("Cancel")
        self.open_cancel.clicked.connect(self._on_open_cancel_clicked)
        for widget in (self.open_label, self.open_progress, self.open_cancel):
            self.statusBar().addPermanentWidget(widget)
            widget.hide()

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        open_action = QAction("&Open...", self)
        open_action.setShortcut(QKeySequence.StandardKey.Open)
        open_action.triggered.connect(self._on_open_triggered)
        file_menu.addAction(open_action)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        sample_action = QAction("Open the Bundled &Sample", self)
        sample_action.triggered.connect(self._on_open_sample_triggered)
        file_menu.addAction(sample_action)
        file_menu.addSeparator()
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addAction(quit_action)

        view_menu = self.menuBar().addMenu("&View")
        for dock in (self.checkpoint_dock, self.trust_dock, self.embedding_dock, self.dendrogram_dock, self.distance_dock):
            view_menu.addAction(dock.toggleViewAction())

        highlight_menu = self.menuBar().addMenu("&Highlight")
        self.clear_highlight_action = QAction("&Clear Highlight", self)
        self.clear_highlight_action.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        self.clear_highlight_action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self.clear_highlight_action.triggered.connect(self.highlight.clear)
        highlight_menu.addAction(self.clear_highlight_action)
        self.addAction(self.clear_highlight_action)
        self._update_recent_menu()

    def _update_recent_menu(self) -> None:
        self.recent_menu.clear()
        files = self.settings.recent_files()
        for path in files:
            action = self.recent_menu.addAction(path)
            action.setData(path)
            action.triggered.connect(self._on_recent_file_triggered)
        self.recent_menu.setEnabled(bool(files))

    def _update_title(self) -> None:
        session = self.session
        if session.checkpoint is None:
            self.setWindowTitle(APP_NAME)
            return
        name = os.path.basename(session.checkpoint.path)
        suffix = " (bundled sample)" if session.is_sample else ""
        self.setWindowTitle(f"{name}{suffix} - {APP_NAME}")

    # Opening files ------------------------------------------------------

    def open_file(self, path: str | os.PathLike, is_sample: bool = False, split: int | None = None, task: int | None = None) -> None:
        """Open `path` on a worker thread; a file still opening is cancelled first."""
        path = os.fspath(path)
        if split is not None or task is not None:
            self._pending_selection = (split or 0, task or 0)
        self._opening_path = path
        self.open_label.setText(f"Opening {os.path.basename(path)}...")
        self.open_progress.setRange(0, 0)
        for widget in (self.open_label, self.open_progress, self.open_cancel):
            widget.show()
        self.opener.start(open_job(path, is_sample))

    def open_sample(self, split: int | None = None, task: int | None = None) -> None:
        self.open_file(sample_checkpoint_path(), is_sample=True, split=split, task=task)

    def _hide_open_progress(self) -> None:
        for widget in (self.open_label, self.open_progress, self.open_cancel):
            widget.hide()

    def _on_open_triggered(self) -> None:
        start = os.path.dirname(self.settings.recent_files()[0]) if self.settings.recent_files() else str(Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "Open checkpoint", start, FILE_FILTER)
        if path:
            self.open_file(path)

    def _on_open_sample_triggered(self) -> None:
        self.open_sample()

    def _on_recent_file_triggered(self) -> None:
        action = self.sender()
        if isinstance(action, QAction):
            self.open_file(action.data())

    def _on_open_cancel_clicked(self) -> None:
        self.opener.cancel()

    def _on_opener_progressed(self, progress: BytesRead) -> None:
        self.open_progress.setRange(0, 1000)
        self.open_progress.setValue(int(1000 * progress.done / max(progress.total, 1)))
        self.open_label.setText(f"Opening: {progress.done / 2**20:,.1f} of {progress.total / 2**20:,.1f} MiB read")

    def _on_opener_finished(self, opened: OpenedCheckpoint) -> None:
        self._hide_open_progress()
        # The comparison jobs read the old file, so stop them before it is closed.
        self.computation.shutdown()
        self.trust.shutdown()
        split, task = self._pending_selection or (0, 0)
        self._pending_selection = None
        if not 0 <= split < len(opened.checkpoint.splits):
            self.errors.report(
                f"Split {split} does not exist",
                f"{opened.checkpoint.path} has {len(opened.checkpoint.splits)} splits",
                "Showing split 0; choose another split in the checkpoint pane.",
            )
            split = 0
        self.highlight.clear()
        self.session.set_checkpoint(opened.checkpoint, opened.summary, opened.is_sample, split, task)
        if task != self.session.task:
            self.errors.report(
                f"Task {task} does not exist in split {self.session.split_index}",
                f"{opened.checkpoint.path} has tasks {self.session.split.tasks}",
                f"Showing task {self.session.task}; choose another task in the checkpoint pane.",
            )
        if not opened.is_sample:
            self.settings.add_recent_file(opened.checkpoint.path)
            self._update_recent_menu()
        self._update_title()
        self.statusBar().showMessage(f"Opened {opened.checkpoint.path}", 5000)
        self.checkpoint_opened.emit(opened.checkpoint.path)

    def _on_opener_failed(self, error: object) -> None:
        self._hide_open_progress()
        path = self._opening_path or "the file"
        self.errors.report(
            f"Cannot open {os.path.basename(path)}",
            error,
            "Choose a training-result file written by torch.save from the MABe training script "
            "(File > Open), or open the bundled sample.",
        )

    def _on_opener_cancelled(self) -> None:
        self._hide_open_progress()
        self.statusBar().showMessage(f"Opening {self._opening_path} was cancelled.", 5000)

    def _on_computation_failed(self, error: object) -> None:
        self.errors.report(
            f"Comparing the predictions of split {self.session.split_index} failed",
            error,
            "Check that the file is complete, or choose another split, then press Compute again.",
        )

    def _on_trust_timer_timeout(self) -> None:
        self.trust.request()

    def _on_trust_failed(self, error: object) -> None:
        self.errors.report(
            f"Assessing the trees of split {self.session.split_index} failed",
            error,
            "Check that every split of the file is complete, or choose another metric, then press Assess.",
        )

    def _on_trust_pane_linkage_chosen(self, method: str, optimal_ordering: bool) -> None:
        self.settings.set_linkage(method, optimal_ordering)

    # Drag and drop ------------------------------------------------------

    def dragEnterEvent(self, event) -> None:
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        files = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if files:
            event.acceptProposedAction()
            self.open_file(files[0])

    # Shutdown -----------------------------------------------------------

    def shutdown(self) -> None:
        """Cancel and join every worker thread and close the file (safe to call twice)."""
        self._trust_timer.stop()
        self.opener.shutdown()
        self.computation.shutdown()
        self.trust.shutdown()
        self.session.close()
        self.settings.sync()

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)
