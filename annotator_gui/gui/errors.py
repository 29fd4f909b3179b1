"""The one path by which errors reach the user: the status bar and a dialog."""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QMessageBox, QStatusBar, QWidget

log = logging.getLogger(__name__)


class ErrorReporter(QObject):
    """Shows an error in the status bar and in a non-blocking dialog, and logs it.

    `reported(message)` is emitted for every error, which lets tests and the
    screenshot mode see errors without reading widgets.
    """

    reported = Signal(str)

    def __init__(self, window: QWidget, status_bar: QStatusBar, show_dialogs: bool = True):
        super().__init__(window)
        self._window = window
        self._status_bar = status_bar
        self._show_dialogs = show_dialogs
        self.last_message: str | None = None
        self.dialog: QMessageBox | None = None

    def report(self, what_failed: str, error: object, next_step: str) -> None:
        """Report that `what_failed` because of `error`; `next_step` is the action to suggest to the user."""
        message = f"{what_failed}: {error}"
        log.error("%s", message)
        self.last_message = f"{message}\n\n{next_step}"
        self._status_bar.showMessage(message)
        if self._show_dialogs:
            if self.dialog is not None:
                self.dialog.close()
            self.dialog = QMessageBox(QMessageBox.Icon.Warning, what_failed, message, QMessageBox.StandardButton.Ok, self._window)
            self.dialog.setInformativeText(next_step)
            self.dialog.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.dialog.setWindowModality(Qt.WindowModality.WindowModal)
            self.dialog.open()
        self.reported.emit(self.last_message)
