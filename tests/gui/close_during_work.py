"""Open the window, close it while a file opens, a comparison runs or the trees are assessed, and exit.

Run as a script by the tests: `python close_during_work.py computing|opening|assessing`.
The exit status and stderr show whether every worker thread was joined.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from annotator_gui.gui.main_window import MainWindow  # noqa: E402
from annotator_gui.gui.settings import AppSettings  # noqa: E402
from tests.gui.gate import GatedAssess, GatedCompare  # noqa: E402


def main(moment: str) -> int:
    app = QApplication([])
    settings = QSettings(str(Path(tempfile.mkdtemp()) / "settings.ini"), QSettings.Format.IniFormat)
    gate = GatedCompare()
    assess_gate = GatedAssess()
    if moment == "assessing":
        # Let the comparison finish, so that the assessment starts and pauses.
        gate.release.set()
    window = MainWindow(AppSettings(settings), compare=gate, show_dialogs=False, assess=assess_gate)
    window.show()

    def on_gate_paused() -> None:
        print("closed while computing", flush=True)
        window.close()

    def on_assess_gate_paused() -> None:
        print("closed while assessing", flush=True)
        window.close()

    gate.paused.connect(on_gate_paused)
    assess_gate.paused.connect(on_assess_gate_paused)
    window.checkpoint_opened.connect(window.computation.start)
    window.open_sample()
    if moment == "opening":
        print("closed while opening", flush=True)
        window.close()
    code = app.exec() if window.isVisible() else 0
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
