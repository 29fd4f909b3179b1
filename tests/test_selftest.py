"""`annotator-gui --self-test`: passes on a sound installation and fails loudly otherwise."""

from __future__ import annotations

import copy
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from annotator_gui import selftest
from annotator_gui.cli import main

from .conftest import ROOT, expected


def run_numeric() -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = selftest.run_self_test(render=False, out=out, err=err)
    return status, out.getvalue(), err.getvalue()


def test_values_file_matches_reference():
    bundled = json.loads((ROOT / "resources" / selftest.EXPECTED_FILE).read_text())
    reference = expected("mabe_2split_legacy.split0")
    for key in (
        "splits",
        "sequences",
        "frames",
        "embedding_ward_linkage",
        "embedding_leaf_order",
        "prediction_distances",
        "prediction_ward_linkage",
        "prediction_leaf_order",
    ):
        assert bundled[key] == reference[key], key
    assert bundled["split"] == 0
    assert bundled["task"] == 0


def test_numeric_checks_pass_on_sample():
    status, out, err = run_numeric()
    assert status == 0, err
    assert err == ""
    assert "7973 frames" in out
    assert "prediction distance pass" in out
    assert out.rstrip().endswith("self-test passed: 4 checks")


def test_changed_distance_fails(monkeypatch):
    values = copy.deepcopy(selftest.load_expected())
    values["prediction_distances"][0][1] *= 1.001
    values["prediction_distances"][1][0] *= 1.001
    monkeypatch.setattr(selftest, "load_expected", lambda: values)
    status, out, err = run_numeric()
    assert status == selftest.EXIT_FAILED
    assert "self-test FAILED after 2 passed checks" in err
    assert "prediction distances: differs from the known values" in err
    assert "self-test passed" not in out


def test_changed_frame_count_fails(monkeypatch):
    values = copy.deepcopy(selftest.load_expected())
    values["frames"] += 1
    monkeypatch.setattr(selftest, "load_expected", lambda: values)
    status, _, err = run_numeric()
    assert status == selftest.EXIT_FAILED
    assert "7973 frames, expected 8 and 7974" in err


def test_missing_sample_fails(monkeypatch, tmp_path):
    missing = tmp_path / "sample_checkpoint.pt"
    monkeypatch.setattr(selftest, "sample_checkpoint_path", lambda: missing)
    status, _, err = run_numeric()
    assert status == selftest.EXIT_FAILED
    assert str(missing) in err
    assert "Reinstall the app" in err


def test_missing_values_file_fails(tmp_path):
    with pytest.raises(selftest.SelfTestError, match="file not found"):
        selftest.load_expected(tmp_path / selftest.EXPECTED_FILE)


def test_linkage_merge_order_checked():
    linkage = np.array([[0.0, 1.0, 1.0, 2.0], [2.0, 3.0, 2.0, 3.0]])
    swapped = linkage[[1, 0]]
    with pytest.raises(selftest.SelfTestError, match="merges clusters in a different order"):
        selftest.compare_linkage("linkage", swapped, linkage, 1e-6)


def test_linkage_height_checked():
    linkage = np.array([[0.0, 1.0, 1.0, 2.0], [2.0, 3.0, 2.0, 3.0]])
    higher = linkage.copy()
    higher[1, 2] = 2.01
    with pytest.raises(selftest.SelfTestError, match="linkage heights: differs"):
        selftest.compare_linkage("linkage", higher, linkage, 1e-6)


def test_nan_distance_rejected():
    with pytest.raises(selftest.SelfTestError, match="NaN"):
        selftest.compare_close("distances", [[0.0, np.nan]], [[0.0, 1.0]], 1e-6)


def test_blank_screenshot_rejected(qapp, tmp_path):
    from PySide6.QtGui import QColor, QImage

    image = QImage(800, 600, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    path = tmp_path / "blank.png"
    assert image.save(str(path))
    with pytest.raises(selftest.SelfTestError, match="blank"):
        selftest.check_screenshot(path)


def test_missing_screenshot_rejected(tmp_path):
    with pytest.raises(selftest.SelfTestError, match="missing or empty"):
        selftest.check_screenshot(tmp_path / "window.png")


@pytest.mark.slow
def test_cli_self_test_renders_window(capsys):
    status = main(["--self-test"])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert "main window rendered offscreen with the distances computed" in captured.out
    assert "self-test passed: 5 checks" in captured.out


@pytest.mark.slow
def test_self_test_keeps_user_settings(tmp_path):
    config = tmp_path / "config"
    environment = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "XDG_CONFIG_HOME": str(config),
        "QT_QPA_PLATFORM": "offscreen",
    }
    result = subprocess.run(
        [sys.executable, "-m", "annotator_gui", "--self-test"],
        capture_output=True,
        text=True,
        env=environment,
        cwd=ROOT,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "self-test passed: 5 checks" in result.stdout
    assert not config.exists() or list(config.rglob("*.ini")) == []
