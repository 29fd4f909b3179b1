"""GUI test fixtures: an offscreen Qt platform, private settings and an opened window."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402

from annotator_gui.gui.main_window import MainWindow  # noqa: E402
from annotator_gui.gui.settings import AppSettings  # noqa: E402

from ..conftest import SAMPLE  # noqa: E402

OPEN_TIMEOUT_MS = 20_000
COMPUTE_TIMEOUT_MS = 60_000


@pytest.fixture
def settings(tmp_path):
    return AppSettings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))


def make_window(qtbot, settings, **kwargs) -> MainWindow:
    window = MainWindow(settings, show_dialogs=kwargs.pop("show_dialogs", True), **kwargs)
    qtbot.addWidget(window, before_close_func=lambda closing: closing.shutdown())
    window.resize(1600, 1000)
    window.show()
    return window


@pytest.fixture
def window(qtbot, settings):
    window = make_window(qtbot, settings)
    with qtbot.waitSignal(window.checkpoint_opened, timeout=OPEN_TIMEOUT_MS):
        window.open_file(SAMPLE, is_sample=True)
    return window


@pytest.fixture
def computed(qtbot, window):
    with qtbot.waitSignal(window.computation.finished, timeout=COMPUTE_TIMEOUT_MS):
        window.distance_pane.compute_button.click()
    return window
