"""Start the window from the command line, or render it to a PNG and exit."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from ..resources import resources_dir

from .main_window import APP_NAME, MainWindow
from .native_window import quit_when_destroyed
from .qt_check import broken_pyside_message
from .settings import AppSettings, open_settings

WINDOW_SIZE = (1600, 1000)
EXIT_FAILED = 2
#: Time given to pyqtgraph to lay out its plots after the last change, before a screenshot.
SETTLE_MILLISECONDS = 150


def application(offscreen: bool = False) -> QApplication:
    """Return the running QApplication, creating one (offscreen if asked, or without a display)."""
    existing = QApplication.instance()
    if existing is not None:
        return existing
    if offscreen or _lacks_display():
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = QApplication([sys.argv[0] if sys.argv else "annotator-gui"])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName("annotator-gui")
    icon = QIcon()
    for size in (16, 24, 32, 48, 64, 128, 256, 512):
        icon.addFile(str(resources_dir() / "icons" / f"annotator-gui-{size}.png"))
    app.setWindowIcon(icon)
    # Lets desktops match the window to annotator-gui.desktop.
    app.setDesktopFileName("annotator-gui")
    return app


def _lacks_display() -> bool:
    return sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


class ScreenshotRun(QObject):
    """Drives a window through open, optional compute and render, then quits with a status."""

    def __init__(self, window: MainWindow, path: Path, compute: bool):
        super().__init__(window)
        self._window = window
        self._path = path
        self._compute = compute
        self.exit_code = 0
        window.checkpoint_opened.connect(self._on_window_checkpoint_opened)
        window.computation.finished.connect(self._on_computation_finished)
        window.computation.cancelled.connect(self._on_computation_cancelled)
        window.errors.reported.connect(self._on_errors_reported)

    def _on_window_checkpoint_opened(self, _path: str) -> None:
        if self._compute:
            self._window.computation.start()
        else:
            QTimer.singleShot(SETTLE_MILLISECONDS, self._render)

    def _on_computation_finished(self, _comparison: object) -> None:
        if self._window.session.trees_comparable:
            # Render once the trust assessment has labelled the trees.
            self._window.trust.finished.connect(self._on_trust_finished)
        else:
            QTimer.singleShot(SETTLE_MILLISECONDS, self._render)

    def _on_trust_finished(self, _assessment: object) -> None:
        self._window.trust.finished.disconnect(self._on_trust_finished)
        QTimer.singleShot(SETTLE_MILLISECONDS, self._render)

    def _on_computation_cancelled(self) -> None:
        self._fail("the computation was cancelled before the screenshot")

    def _on_errors_reported(self, message: str) -> None:
        self._fail(message.replace("\n\n", " "))

    def _fail(self, message: str) -> None:
        print(f"annotator-gui: error: {message}", file=sys.stderr)
        self.exit_code = EXIT_FAILED
        self._window.close()

    def _render(self) -> None:
        image = self._window.grab()
        self._path.parent.mkdir(parents=True, exist_ok=True)
        if not image.save(str(self._path)):
            self._fail(f"cannot write the screenshot to {self._path}; check that the folder is writable and the name ends in .png")
            return
        print(f"wrote {self._path}")
        self._window.close()


def run_gui(arguments: argparse.Namespace) -> int:
    """Open the window on `arguments.checkpoint` (or the bundled sample) and run the event loop."""
    screenshot = arguments.screenshot
    if screenshot is None and _lacks_display() and "QT_QPA_PLATFORM" not in os.environ:
        # An offscreen window would run invisibly until killed.
        print(
            "annotator-gui: error: no display found (DISPLAY and WAYLAND_DISPLAY are not set). "
            "Start the app in a desktop session, or render the window to a file with --screenshot FILE.png.",
            file=sys.stderr,
        )
        return EXIT_FAILED
    app = application(offscreen=screenshot is not None)
    problem = broken_pyside_message()
    if problem is not None:
        print(f"annotator-gui: error: {problem}", file=sys.stderr)
        return EXIT_FAILED
    window = MainWindow(AppSettings(open_settings()), show_dialogs=screenshot is None)
    window.resize(*WINDOW_SIZE)
    run = ScreenshotRun(window, Path(screenshot), arguments.compute) if screenshot is not None else None
    window.show()
    destroyed_window_filter = quit_when_destroyed(app, window)  # noqa: F841 - kept alive until exit
    if arguments.checkpoint:
        window.open_file(arguments.checkpoint, split=arguments.split, task=arguments.task)
    else:
        window.open_sample(split=arguments.split, task=arguments.task)
    code = app.exec()
    window.shutdown()
    if run is not None and run.exit_code:
        return run.exit_code
    return code
