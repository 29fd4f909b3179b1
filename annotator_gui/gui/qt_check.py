"""Detect a PySide6 build that loses references to None, True and False.

PySide6 6.12.0 on Python 3.11 returns None from every void method (and True
from `Signal.emit`) without taking a reference. Each call then takes one
reference away from the shared object, and after some thousand calls, which
pyqtgraph makes on every repaint, the interpreter aborts with "Fatal Python
error: none_dealloc". Python 3.12 and later make these objects immortal, so
the measurement finds nothing there. PySide6 6.11.3 does not have the bug.
"""

from __future__ import annotations

import sys

from PySide6 import __version__ as PYSIDE_VERSION
from PySide6.QtCore import QObject

_PROBE_CALLS = 64


def broken_pyside_message() -> str | None:
    """Return an error message if this PySide6 loses references to None, else None."""
    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(_PROBE_CALLS):
        probe.setObjectName("probe")
    lost = before - sys.getrefcount(None)
    if lost < _PROBE_CALLS:
        return None
    return (
        f"PySide6 {PYSIDE_VERSION} on Python {sys.version_info.major}.{sys.version_info.minor} "
        f"loses a reference to None on every Qt call (lost {lost} in {_PROBE_CALLS} calls), "
        "so the app would abort. Install another release, for example: "
        'pip install "PySide6-Essentials==6.11.3"'
    )
