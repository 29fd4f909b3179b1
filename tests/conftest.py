"""Shared test helpers: fixture paths and a torch-based checkpoint rewriter.

torch is the reference implementation here: tests load real fixtures with
`torch.load`, change them and save them again to make bad inputs.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import types
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

DATA = Path(__file__).parent / "data"
ROOT = Path(__file__).parent.parent
SAMPLE = ROOT / "resources" / "sample_checkpoint.pt"
LEGACY = SAMPLE
ZIP = DATA / "mabe_1split_zip.pt"


def expected(name: str) -> dict:
    return json.loads((DATA / f"{name}.expected.json").read_text())


def install_fake_mabe() -> types.ModuleType:
    """Register `mabe.training` with plain classes so torch can (un)pickle results."""
    if "mabe.training" in sys.modules:
        return sys.modules["mabe.training"]
    package = types.ModuleType("mabe")
    module = types.ModuleType("mabe.training")

    @dataclasses.dataclass
    class TrainingConfig:
        split_idx: int = 0

    @dataclasses.dataclass
    class TrainingResult:
        config: object = None

    for cls in (TrainingConfig, TrainingResult):
        cls.__module__ = "mabe.training"
        cls.__qualname__ = cls.__name__
        setattr(module, cls.__name__, cls)
    package.training = module
    sys.modules["mabe"] = package
    sys.modules["mabe.training"] = module
    return module


def torch_load(path: Path):
    import torch

    install_fake_mabe()
    return torch.load(path, weights_only=False, map_location="cpu")


def torch_save(results, path: Path, layout: str = "legacy") -> Path:
    import torch

    install_fake_mabe()
    torch.save(results, path, _use_new_zipfile_serialization=(layout == "zip"))
    return path


@pytest.fixture
def rewrite(tmp_path):
    """Return a function that loads the sample with torch, applies `change`, and saves it."""

    def rewrite_checkpoint(change, layout: str = "legacy", source: Path = LEGACY) -> Path:
        results = torch_load(source)
        changed = change(results)
        path = tmp_path / f"changed_{layout}.pt"
        return torch_save(results if changed is None else changed, path, layout)

    return rewrite_checkpoint
