"""A guard against a reference-count bug in `SignalInstance.emit` seen with PySide6 6.12.0.

With PySide6 6.12.0 on Python 3.11, every `emit()` called from Python
returns `True` without taking a new reference to it, so each emit takes one
reference from the shared `True` object. After some thousand emits (pyqtgraph
emits on every repaint) the interpreter aborts at exit with "Fatal Python
error: bool_dealloc". `install()` measures whether the running PySide6 has
this bug and, only if it has, wraps `emit` to add the missing reference.
Python 3.12 and later make `True` immortal, so the measurement finds nothing
there and nothing is wrapped.
"""

from __future__ import annotations

import ctypes
import sys

from PySide6.QtCore import QObject, Signal, SignalInstance

_PROBE_EMITS = 16
_installed = False


class _Probe(QObject):
    probed = Signal()


def emit_leaks_references() -> bool:
    """Return True if emitting a signal from Python takes references from `True`."""
    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(_PROBE_EMITS):
        probe.probed.emit()
    after = sys.getrefcount(True)
    leaked = before - after >= _PROBE_EMITS
    if leaked:
        # Give back what the probe itself took.
        for _ in range(_PROBE_EMITS):
            ctypes.pythonapi.Py_IncRef(ctypes.py_object(True))
    return leaked


def install() -> bool:
    """Wrap `SignalInstance.emit` if this PySide6 leaks; return whether it was wrapped."""
    global _installed
    if _installed or not emit_leaks_references():
        return _installed
    original_emit = SignalInstance.emit
    increment = ctypes.pythonapi.Py_IncRef
    increment.argtypes = [ctypes.py_object]

    def emit(self, *args):
        result = original_emit(self, *args)
        if result is True or result is False:
            increment(result)
        return result

    SignalInstance.emit = emit
    _installed = True
    return True
