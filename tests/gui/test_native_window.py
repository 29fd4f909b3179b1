"""The filter that handles X11 windows destroyed by another client: it quits for the main window and rejects dialogs.

The offscreen platform delivers no xcb events, so these tests hand the
filter events built in memory, laid out as xcb sends them.
"""

from __future__ import annotations

import ctypes

from PySide6.QtCore import QByteArray
from PySide6.QtWidgets import QDialog, QWidget

from annotator_gui.gui.native_window import XCB_DESTROY_NOTIFY, XCB_EVENT_TYPE, DestroyedWindowFilter

# xcb_destroy_notify_event_t is 32 bytes on the wire, with the window id at offset 8.
XCB_EVENT_SIZE = 32
UNMAP_NOTIFY = 18
# The top bit of response_type marks an event that a client sent with SendEvent.
SENT_EVENT_BIT = 0x80


def destroy_event(window_id: int, response_type: int = XCB_DESTROY_NOTIFY) -> ctypes.Array:
    event = (ctypes.c_uint8 * XCB_EVENT_SIZE)()
    event[0] = response_type
    ctypes.c_uint32.from_buffer(event, 8).value = window_id
    return event


def send(event_filter: DestroyedWindowFilter, event: ctypes.Array, event_type: bytes = XCB_EVENT_TYPE) -> None:
    event_filter.nativeEventFilter(QByteArray(event_type), ctypes.addressof(event))


def watched_widget(qtbot) -> tuple[QWidget, DestroyedWindowFilter, list[int]]:
    widget = QWidget()
    qtbot.addWidget(widget)
    widget.show()
    calls: list[int] = []
    return widget, DestroyedWindowFilter(widget, lambda: calls.append(1)), calls


def test_destroyed_window_quits(qtbot):
    widget, event_filter, calls = watched_widget(qtbot)
    send(event_filter, destroy_event(int(widget.winId())))

    qtbot.waitUntil(lambda: calls == [1])


def test_other_events_are_ignored(qtbot):
    widget, event_filter, calls = watched_widget(qtbot)
    send(event_filter, destroy_event(int(widget.winId()) + 1))
    send(event_filter, destroy_event(int(widget.winId()), XCB_DESTROY_NOTIFY | SENT_EVENT_BIT))
    send(event_filter, destroy_event(int(widget.winId()), UNMAP_NOTIFY))
    send(event_filter, destroy_event(int(widget.winId())), b"windows_generic_MSG")
    qtbot.wait(50)

    assert calls == []


def test_hidden_window_does_not_quit(qtbot):
    widget, event_filter, calls = watched_widget(qtbot)
    widget.hide()
    send(event_filter, destroy_event(int(widget.winId())))
    qtbot.wait(50)

    assert calls == []


def test_destroyed_dialog_is_rejected(qtbot):
    widget, event_filter, calls = watched_widget(qtbot)
    dialog = QDialog(widget)
    dialog.open()
    assert dialog.isVisible()
    send(event_filter, destroy_event(int(dialog.winId())))

    qtbot.waitUntil(lambda: not dialog.isVisible())
    assert dialog.result() == QDialog.DialogCode.Rejected
    assert calls == []
    assert widget.isVisible()
