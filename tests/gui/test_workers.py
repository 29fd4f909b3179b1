"""Background work: cancel, restart and clean shutdown."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from annotator_gui.analysis.pipeline import compare_predictions
from annotator_gui.analysis.progress import Cancelled, Progress
from annotator_gui.checkpoint import open_checkpoint
from annotator_gui.gui.compare_worker import compare_job
from annotator_gui.gui.open_worker import BytesRead, open_job

from ..conftest import ROOT, SAMPLE
from .conftest import COMPUTE_TIMEOUT_MS
from .gate import GatedCompare

SCRIPT = Path(__file__).parent / "close_during_work.py"


def test_open_job_without_thread():
    reports = []
    opened = open_job(SAMPLE, is_sample=True)(threading.Event(), reports.append)
    try:
        assert opened.is_sample
        assert opened.summary["splits"] == 2
        assert all(isinstance(report, BytesRead) for report in reports)
        assert reports
        assert reports[-1].total == SAMPLE.stat().st_size
        assert 0 < reports[-1].done <= reports[-1].total
    finally:
        opened.checkpoint.close()


def test_open_job_cancelled_before_start():
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        open_job(SAMPLE)(cancel, lambda report: None)


def test_compare_job_without_thread():
    reports = []
    with open_checkpoint(SAMPLE) as checkpoint:
        split = checkpoint.split(0)
        comparison = compare_job(split)(threading.Event(), reports.append)
        reference = compare_predictions(split)
    np.testing.assert_array_equal(comparison.distances, reference.distances)
    assert isinstance(reports[-1], Progress)
    assert reports[-1].done == reports[-1].total == 8


def test_cancel_then_recompute_identical(qtbot, computed):
    reference = computed.session.comparison.distances.copy()
    computation = computed.computation
    gate = GatedCompare()
    computation.compare = gate
    computed.checkpoint_pane.split_box.setCurrentIndex(1)
    computed.checkpoint_pane.split_box.setCurrentIndex(0)

    # Cache hit: switching back shows split 0 without a new run.
    assert computed.session.comparison is not None

    with qtbot.waitSignal(gate.paused, timeout=COMPUTE_TIMEOUT_MS):
        computed.distance_pane.compute_button.click()
    assert computed.distance_pane.cancel_button.isEnabled()
    with qtbot.waitSignal(computation.cancelled, timeout=COMPUTE_TIMEOUT_MS):
        computed.distance_pane.cancel_button.click()
    assert "Cancelled" in computed.distance_pane.progress_label.full_text()

    computation.compare = compare_predictions
    with qtbot.waitSignal(computation.finished, timeout=COMPUTE_TIMEOUT_MS):
        computed.distance_pane.compute_button.click()
    np.testing.assert_array_equal(computed.session.comparison.distances, reference)
    qtbot.waitUntil(lambda: computation.worker.thread_count == 0, timeout=COMPUTE_TIMEOUT_MS)


def test_new_run_cancels_old(qtbot, window):
    computation = window.computation
    gate = GatedCompare()
    computation.compare = gate
    with qtbot.waitSignal(gate.paused, timeout=COMPUTE_TIMEOUT_MS):
        computation.start()

    computation.compare = compare_predictions
    with qtbot.waitSignal(computation.finished, timeout=COMPUTE_TIMEOUT_MS) as blocker:
        computation.start()

    assert blocker.args[0] is window.session.comparison
    qtbot.waitUntil(lambda: computation.worker.thread_count == 0, timeout=COMPUTE_TIMEOUT_MS)


def _run(arguments: list[str], tmp_path: Path) -> subprocess.CompletedProcess:
    environment = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "QT_QPA_PLATFORM": "offscreen",
    }
    return subprocess.run(
        [sys.executable, *arguments],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("moment", ["computing", "opening", "assessing"])
def test_close_during_work_exits_cleanly(tmp_path, moment):
    result = _run([str(SCRIPT), moment], tmp_path)

    assert result.returncode == 0, result.stderr
    assert "QThread: Destroyed" not in result.stderr
    assert f"closed while {moment}" in result.stdout


def test_screenshot_after_compute(tmp_path):
    screenshot = tmp_path / "window.png"
    result = _run(["-m", "annotator_gui", "--screenshot", str(screenshot), "--compute"], tmp_path)

    assert result.returncode == 0, result.stderr
    assert "QThread: Destroyed" not in result.stderr
    assert screenshot.stat().st_size > 10_000


def test_screenshot_of_bad_file_fails(tmp_path):
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    result = _run(["-m", "annotator_gui", str(bad), "--screenshot", str(tmp_path / "x.png")], tmp_path)

    assert result.returncode == 2
    assert str(bad) in result.stderr
    assert not (tmp_path / "x.png").exists()
