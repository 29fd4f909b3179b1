"""Hostile checkpoints are rejected with a CheckpointError that names what was rejected.

The corpus (tests/hostile/corpus.py) contains files that try to run code, to
reach files outside the checkpoint, to declare sizes larger than the file or
to nest deeply enough to overflow the C stack. Each is written in both torch
layouts. A control test loads the live ones with `torch.load` and checks that
their payloads do create the sentinel, so each rejection below stops a
working attack.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from annotator_gui.checkpoint import CheckpointError, open_checkpoint

from .conftest import install_fake_mabe
from .hostile import read_everything
from .hostile.corpus import CASES, EMBEDDING, LOGITS, CaseContext, benign_file, case_parameters, write_case
from .hostile.layouts import LAYOUTS, write_torch_file

ROOT = Path(__file__).parent.parent

# Cases whose failure mode is a crash of the whole process (a C stack
# overflow) run in a child process, so that a regression fails one test.
ISOLATED = {"deep_tuple_as_key", "deep_tuple_in_frozenset", "deep_marks", "deep_list_in_config"}

_CHILD_SCRIPT = """
import json, sys
from annotator_gui.checkpoint import CheckpointError, open_checkpoint
from tests.hostile import read_everything
stage = "open"
try:
    with open_checkpoint(sys.argv[1]) as checkpoint:
        stage = "read"
        read_everything(checkpoint)
    print(json.dumps({"stage": "loaded"}))
except CheckpointError as error:
    print(json.dumps({"stage": stage, "type": "CheckpointError", "message": str(error)}))
except BaseException as error:
    print(json.dumps({"stage": stage, "type": type(error).__name__, "message": str(error)[:500]}))
"""


def _load_in_child(path: Path) -> dict:
    completed = subprocess.run(
        [sys.executable, "-c", _CHILD_SCRIPT, str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, f"the reader crashed (exit code {completed.returncode}): {completed.stderr[-2000:]}"
    return json.loads(completed.stdout.strip().splitlines()[-1])


def _load_in_process(path: Path) -> dict:
    stage = "open"
    try:
        with open_checkpoint(path) as checkpoint:
            stage = "read"
            read_everything(checkpoint)
    except CheckpointError as error:
        return {"stage": stage, "type": "CheckpointError", "message": str(error)}
    return {"stage": "loaded"}


@pytest.mark.parametrize(
    ("case", "layout"), case_parameters(), ids=[f"{case.name}-{layout}" for case, layout in case_parameters()]
)
def test_hostile_file_rejected(tmp_path, case, layout):
    path, sentinel = write_case(case, layout, tmp_path)
    files_before = sorted(tmp_path.rglob("*"))

    # Any exception other than CheckpointError propagates from _load_in_process and fails the test.
    outcome = _load_in_child(path) if case.name in ISOLATED else _load_in_process(path)

    assert outcome.get("type") == "CheckpointError", outcome
    assert outcome["stage"] == case.stage, outcome
    message = outcome["message"]
    assert message.startswith(f"{path}: "), message
    for fragment in case.expected:
        assert fragment in message
    assert not sentinel.exists()
    assert sorted(tmp_path.rglob("*")) == files_before


@pytest.mark.parametrize("layout", LAYOUTS)
def test_benign_corpus_file_loads(tmp_path, layout):
    # The corpus writer makes valid files, so a rejection is due to the hostile part only.
    context = CaseContext(folder=tmp_path, sentinel=tmp_path / "sentinel", layout=layout)
    path = write_torch_file(tmp_path / f"benign_{layout}.pt", benign_file(context), layout)

    with open_checkpoint(path) as checkpoint:
        split = checkpoint.split(0)
        np.testing.assert_array_equal(split.embedding(0), EMBEDDING)
        assert split.sequence_ids == ["seq-a", "seq-b"]
        assert split.annotators == [0, 1]
        assert split.total_frames() == 2 * LOGITS.shape[0]
        np.testing.assert_array_equal(split.logits("seq-b", 1), LOGITS)
        assert read_everything(checkpoint) == 4 * LOGITS.shape[0]

    torch = pytest.importorskip("torch")
    install_fake_mabe()
    results = torch.load(path, weights_only=False, map_location="cpu")
    np.testing.assert_array_equal(results[0].best_params[0][1]["embedding"].numpy(), EMBEDDING)


_TORCH_LOAD_SCRIPT = """
import sys, torch
for path in sys.argv[1:]:
    try:
        torch.load(path, weights_only=False, map_location="cpu")
    except BaseException:
        pass
"""


def test_live_payloads_run_under_torch_load(tmp_path):
    pytest.importorskip("torch")
    sentinels = {}
    for case in CASES:
        if case.live:
            for layout in case.layouts:
                path, sentinel = write_case(case, layout, tmp_path / f"{case.name}_{layout}")
                sentinels[path] = sentinel
    assert len(sentinels) >= 30

    # The nested torch.load payloads call torch.load without weights_only,
    # which torch 2.6 and later treat as True unless this variable is set.
    environment = dict(os.environ, TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD="1")
    subprocess.run(
        [sys.executable, "-c", _TORCH_LOAD_SCRIPT, *map(str, sentinels)],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        timeout=300,
        check=True,
    )

    # subprocess.Popen payloads finish in the background.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not all(sentinel.exists() for sentinel in sentinels.values()):
        time.sleep(0.1)
    missing = [path.name for path, sentinel in sentinels.items() if not sentinel.exists()]
    assert missing == []
