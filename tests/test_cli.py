"""The `analyze` and `info` commands, run as separate processes like a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from .conftest import LEGACY, ZIP, expected

ANALYSIS_KEYS = {
    "checkpoint", "format", "split", "task", "annotators", "sequences", "frames", "embedding",
    "embedding_linkage", "embedding_leaf_order", "prediction_distances", "prediction_linkage",
    "prediction_leaf_order",
}


def run_cli(*arguments):
    return subprocess.run(
        [sys.executable, "-m", "annotator_gui", *map(str, arguments)],
        capture_output=True, text=True, timeout=300,
    )


@pytest.mark.parametrize(("path", "split", "name", "layout"), [
    (LEGACY, 1, "mabe_2split_legacy.split1", "legacy"),
    (ZIP, 0, "mabe_1split_zip.split0", "zip"),
])
def test_analyze_writes_reference_values(tmp_path, path, split, name, layout):
    out = tmp_path / "out"
    result = run_cli("analyze", path, "--split", split, "--out", out, "--no-figures")
    assert result.returncode == 0, result.stderr
    record = json.loads((out / "analysis.json").read_text())
    reference = expected(name)
    assert ANALYSIS_KEYS <= set(record)
    assert record["format"] == layout
    assert record["split"] == split
    assert record["task"] == 0
    assert record["annotators"] == [0, 1, 2, 3, 4, 5]
    assert record["sequences"] == reference["sequences"]
    assert record["frames"] == reference["frames"]
    np.testing.assert_allclose(record["prediction_distances"], reference["prediction_distances"], rtol=1e-6)
    np.testing.assert_allclose(record["prediction_linkage"], reference["prediction_ward_linkage"], rtol=1e-6)
    np.testing.assert_allclose(record["embedding_linkage"], reference["embedding_ward_linkage"], rtol=1e-6)
    assert record["prediction_leaf_order"] == reference["prediction_leaf_order"]
    assert record["embedding_leaf_order"] == reference["embedding_leaf_order"]
    distances_lines = (out / "prediction_distances.csv").read_text().splitlines()
    assert distances_lines[0] == "annotator," + ",".join(f"annotator {a}" for a in range(6))
    assert [line.split(",")[0] for line in distances_lines[1:]] == [f"annotator {a}" for a in range(6)]
    distances_csv = np.loadtxt(out / "prediction_distances.csv", delimiter=",", skiprows=1, usecols=range(1, 7))
    np.testing.assert_array_equal(distances_csv, record["prediction_distances"])
    embedding_lines = (out / "embedding.csv").read_text().splitlines()
    assert embedding_lines[0].startswith("annotator,dimension 0,dimension 1,")
    embedding_csv = np.loadtxt(out / "embedding.csv", delimiter=",", skiprows=1, usecols=range(1, len(record["embedding"][0]) + 1))
    np.testing.assert_array_equal(embedding_csv, record["embedding"])


def test_analyze_writes_figures(tmp_path):
    result = run_cli("analyze", ZIP, "--out", tmp_path)
    assert result.returncode == 0, result.stderr
    pngs = sorted(path.name for path in tmp_path.glob("*.png"))
    assert len(pngs) >= 3
    for name in pngs:
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(("arguments", "message"), [
    (["analyze", "{tmp}/absent.pt", "--out", "{tmp}/out"], "absent.pt: file not found"),
    (["analyze", "{readme}", "--out", "{tmp}/out"], "not a PyTorch checkpoint"),
    (["analyze", str(LEGACY), "--split", "7", "--out", "{tmp}/out"], "split 7 does not exist"),
    (["analyze", str(LEGACY), "--task", "12", "--out", "{tmp}/out"], "no parameters for task 12"),
    (["info", "{tmp}/absent.pt"], "absent.pt: file not found"),
])
def test_bad_input_exits_with_one_line(tmp_path, arguments, message):
    readme = tmp_path / "README.md"
    readme.write_text("# not a checkpoint\n")
    filled = [argument.format(tmp=tmp_path, readme=readme) for argument in arguments]
    result = run_cli(*filled)
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out" / "analysis.json").exists()


def test_info_summarises_every_split():
    result = run_cli("info", LEGACY)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["format"] == "legacy"
    assert summary["splits"] == 2
    assert summary["tasks"] == list(range(8))
    assert summary["annotators"] == list(range(6))
    assert summary["sequences"] == [8, 8]
    assert summary["frames"] == [7973, 7973]
    assert summary["file_size"] == LEGACY.stat().st_size


def test_reading_and_analysis_import_no_qt_or_torch():
    code = (
        "import sys, annotator_gui.checkpoint, annotator_gui.analysis.pipeline, annotator_gui.summary, "
        "annotator_gui.report, annotator_gui.cli;"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'torch'));"
        "print(bad)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_analyze_records_trust_and_linkage(tmp_path):
    from scipy.cluster import hierarchy
    from scipy.spatial.distance import squareform

    result = run_cli("analyze", LEGACY, "--out", tmp_path, "--no-figures", "--linkage", "average")
    assert result.returncode == 0, result.stderr
    record = json.loads((tmp_path / "analysis.json").read_text())
    reference = expected("mabe_2split_legacy.split0")
    assert record["linkage_method"] == "average"
    average = hierarchy.linkage(squareform(np.array(reference["prediction_distances"]), checks=False), "average")
    np.testing.assert_allclose(record["prediction_linkage"], average, rtol=1e-6)
    assert len(record["bootstrap_support"]) == 5
    assert len(record["split_consensus"]) == 5
    assert all(0.0 <= share <= 1.0 for share in record["bootstrap_support"] + record["split_consensus"])
    # The root contains every annotator in every replicate and every split.
    assert record["bootstrap_support"][-1] == 1.0
    assert record["split_consensus"][-1] == 1.0
    comparison = record["tree_comparison"]
    assert set(comparison["fowlkes_mallows"]) == {"2", "3", "4", "5"}
    assert set(comparison["p_values"]) == {
        "cophenetic_correlation_embedding", "cophenetic_correlation_prediction",
        "cophenetic_correlation_between", "bakers_gamma", "entanglement", "entanglement_untangled",
    }
    assert comparison["entanglement_untangled"] <= comparison["entanglement"]


def test_analyze_rejects_unknown_linkage(tmp_path):
    result = run_cli("analyze", LEGACY, "--out", tmp_path, "--linkage", "centroid")
    assert result.returncode == 2
    assert "invalid choice: 'centroid'" in result.stderr


def test_window_without_display_explains(tmp_path):
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    result = subprocess.run(
        [sys.executable, "-m", "annotator_gui", str(ZIP)],
        capture_output=True, text=True, timeout=120, env=environment,
    )
    assert result.returncode == 2
    assert "no display found" in result.stderr
    assert "--screenshot FILE.png" in result.stderr


def test_analyze_files_readable_by_group_and_others(tmp_path):
    result = run_cli("analyze", ZIP, "--out", tmp_path, "--no-figures")
    assert result.returncode == 0, result.stderr
    for name in ("analysis.json", "embedding.csv", "prediction_distances.csv"):
        mode = (tmp_path / name).stat().st_mode & 0o777
        assert mode & 0o044 == 0o044, f"{name}: {oct(mode)}"
