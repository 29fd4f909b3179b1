"""Progress reports of long computations: how often they reach the GUI."""

from __future__ import annotations

import pytest

from annotator_gui.analysis import progress
from annotator_gui.analysis.progress import Cancelled, TaskState


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("step_seconds", [0.001, 0.01, 0.05, 0.3])
def test_reports_at_most_ten_per_second(monkeypatch, step_seconds):
    clock = FakeClock()
    monkeypatch.setattr(progress.time, "perf_counter", clock)
    reports = []
    state = TaskState(lambda snapshot: reports.append((clock.now, snapshot.done)))
    total = int(5.0 / step_seconds)
    for done in range(total + 1):
        state.step(done, total, done)
        clock.now += step_seconds

    times = [moment for moment, _ in reports]
    largest = max(sum(1 for other in times if moment <= other <= moment + 1.0) for moment in times)
    assert largest <= 10
    assert reports[-1][1] == total


def test_step_raises_after_cancel():
    state = TaskState()
    state.step(0, 3, 0)
    state.cancel()
    with pytest.raises(Cancelled):
        state.step(1, 3, 10)
