"""Locate files in the top-level `resources/` folder, in a checkout or a bundle."""

from __future__ import annotations

import sys
from pathlib import Path


def resources_dir() -> Path:
    """Return the `resources/` folder: beside the package, or inside a PyInstaller bundle."""
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle is not None:
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"


def sample_checkpoint_path() -> Path:
    """Return the bundled sample: a real two-split checkpoint of the MABe 2021 winning model's format."""
    return resources_dir() / "sample_checkpoint.pt"
