"""Handle X11 windows that another client destroys without a close request.

A window manager closes a window by sending it WM_DELETE_WINDOW, which Qt
turns into a close event. `xdotool windowclose` instead destroys the X11
window. Qt sends no close event then, so the process would keep running
with no main window, or stay blocked in a modal dialog that is gone. On the
xcb platform this filter watches for DestroyNotify events: when the main
window is destroyed it quits the event loop, after which the usual shutdown
runs, and when a dialog is destroyed it rejects the dialog.

NOTE: `xkill -id` closes the app's whole connection to the X server instead,
and Qt then exits with status 1 and "The X11 connection broke".
"""

from __future__ import annotations

import ctypes

from PySide6.QtCore import QAbstractNativeEventFilter, QTimer
from PySide6.QtWidgets import QApplication, QDialog, QWidget

XCB_EVENT_TYPE = b"xcb_generic_event_t"
XCB_DESTROY_NOTIFY = 17
# xcb_destroy_notify_event_t: response_type and pad (1 byte each), sequence
# (2 bytes), then the event and window ids (4 bytes each).
_WINDOW_OFFSET = 8


class DestroyedWindowFilter(QAbstractNativeEventFilter):
    """Native event filter that reacts to the destruction of the X11 windows of visible top-level widgets.

    `on_destroyed` is called when the window of `window` is destroyed, and a
    destroyed dialog is rejected.
    """

    def __init__(self, window: QWidget, on_destroyed):
        super().__init__()
        self._window = window
        self._on_destroyed = on_destroyed
        self._destroyed_ids: set[int] = set()

    def nativeEventFilter(self, event_type, message):
        if bytes(event_type) == XCB_EVENT_TYPE:
            address = int(message)
            # The exact match leaves out events that another client sent with
            # SendEvent, whose response_type has the top bit set. They destroy nothing.
            if ctypes.c_uint8.from_address(address).value == XCB_DESTROY_NOTIFY:
                if not self._destroyed_ids:
                    QTimer.singleShot(0, self._handle_destroyed)
                self._destroyed_ids.add(ctypes.c_uint32.from_address(address + _WINDOW_OFFSET).value)
        return False, 0

    def _handle_destroyed(self) -> None:
        destroyed, self._destroyed_ids = self._destroyed_ids, set()
        # Qt destroys a window itself after hiding it, or when it recreates it
        # under a new id. So only a widget that Qt still shows, and whose
        # current window id was destroyed, lost its window to another client.
        for widget in QApplication.topLevelWidgets():
            if not widget.isVisible() or int(widget.internalWinId()) not in destroyed:
                continue
            if widget is self._window:
                self._on_destroyed()
            elif isinstance(widget, QDialog):
                widget.reject()


def quit_when_destroyed(app: QApplication, window: QWidget) -> DestroyedWindowFilter | None:
    """Install the filter on the xcb platform and return it (keep a reference); None elsewhere."""
    if app.platformName() != "xcb":
        return None
    watch = DestroyedWindowFilter(window, app.quit)
    app.installNativeEventFilter(watch)
    return watch
