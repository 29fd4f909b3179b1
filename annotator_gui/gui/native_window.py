"""Quit when the X11 main window is destroyed without a close request.

A window manager closes a window by sending it WM_DELETE_WINDOW, which Qt
turns into a close event. Some tools (`xdotool windowclose`, `xkill -id`)
destroy the X11 window instead. Qt sends no close event then, so the
process would keep running with no window. On the xcb platform this filter
watches for the DestroyNotify event of the main window and quits the event
loop, after which the usual shutdown runs.
"""

from __future__ import annotations

import ctypes

from PySide6.QtCore import QAbstractNativeEventFilter, QTimer
from PySide6.QtWidgets import QApplication, QWidget

XCB_EVENT_TYPE = b"xcb_generic_event_t"
XCB_DESTROY_NOTIFY = 17
# xcb_destroy_notify_event_t: response_type and pad (1 byte each), sequence
# (2 bytes), then the event and window ids (4 bytes each).
_WINDOW_OFFSET = 8
# The top bit of response_type marks an event sent by another client.
_SENT_EVENT_BIT = 0x80


class DestroyedWindowFilter(QAbstractNativeEventFilter):
    """Native event filter that calls `on_destroyed` once the X11 window of `window` is destroyed."""

    def __init__(self, window: QWidget, on_destroyed):
        super().__init__()
        self._window = window
        self._window_id = int(window.winId())
        self._on_destroyed = on_destroyed
        self._pending = False

    def nativeEventFilter(self, event_type, message):
        if not self._pending and bytes(event_type) == XCB_EVENT_TYPE:
            address = int(message)
            response_type = ctypes.c_uint8.from_address(address).value & ~_SENT_EVENT_BIT
            if response_type == XCB_DESTROY_NOTIFY:
                destroyed = ctypes.c_uint32.from_address(address + _WINDOW_OFFSET).value
                if destroyed == self._window_id:
                    self._pending = True
                    QTimer.singleShot(0, self._check_window)
        return False, 0

    def _check_window(self) -> None:
        self._pending = False
        # Qt destroys the X11 window itself when it closes the window, or when
        # it recreates it under a new id. Only a window that Qt still shows
        # under the old id was destroyed by another client.
        if not self._window.isVisible():
            return
        current = int(self._window.winId())
        if current == self._window_id:
            self._on_destroyed()
        else:
            self._window_id = current


def quit_when_destroyed(app: QApplication, window: QWidget) -> DestroyedWindowFilter | None:
    """Install the filter on the xcb platform and return it (keep a reference); None elsewhere."""
    if app.platformName() != "xcb":
        return None
    watch = DestroyedWindowFilter(window, app.quit)
    app.installNativeEventFilter(watch)
    return watch
