"""Progress reporting and cooperative cancellation for long computations.

A computation takes a `TaskState` and calls `step()` between units of work.
The GUI wraps it around a Qt signal and an event; tests pass a plain one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


class Cancelled(Exception):
    """The user cancelled the computation; no partial result is returned."""


@dataclass(frozen=True)
class Progress:
    """A snapshot of a pass over the test sequences."""

    done: int
    total: int
    frames: int
    elapsed: float

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def seconds_left(self) -> float | None:
        if self.done == 0 or self.elapsed <= 0:
            return None
        return self.elapsed * (self.total - self.done) / self.done


#: Seconds between progress reports. With the last step always reported on
#: top, a computation sends at most 10 reports within any one second.
MIN_REPORT_INTERVAL = 0.125


class TaskState:
    """Carries progress out of a computation and a cancel request into it.

    `callback` receives a `Progress` at most once per `min_interval` seconds,
    and always for the last step, so a GUI is not flooded with updates.
    """

    def __init__(
        self,
        callback: Callable[[Progress], None] | None = None,
        min_interval: float = MIN_REPORT_INTERVAL,
        cancel_event: threading.Event | None = None,
    ):
        self._callback = callback
        self._min_interval = min_interval
        self.cancel_event = cancel_event or threading.Event()
        self._started = time.perf_counter()
        self._last_report = float("-inf")

    def cancel(self) -> None:
        self.cancel_event.set()

    @property
    def is_cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def check(self) -> None:
        """Raise Cancelled if a cancel was requested."""
        if self.cancel_event.is_set():
            raise Cancelled()

    def step(self, done: int, total: int, frames: int) -> None:
        """Record that `done` of `total` units (and `frames` frames) are finished."""
        self.check()
        if self._callback is None:
            return
        now = time.perf_counter()
        if done < total and now - self._last_report < self._min_interval:
            return
        self._last_report = now
        self._callback(Progress(done, total, frames, now - self._started))
