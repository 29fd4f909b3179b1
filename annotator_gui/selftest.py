"""Check an installation: `annotator-gui --self-test`.

Opens the bundled sample checkpoint, runs the embedding clustering and the
prediction-distance pass on split 0, compares the results with the known values
in `resources/selftest_expected.json`, and renders the main window offscreen
through the same code path as `--screenshot`. It prints one line per check and
returns 0 only when every check passed, so installers and support staff can run
it on a user's machine.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

import numpy as np

from . import __version__
from .resources import resources_dir, sample_checkpoint_path

EXPECTED_FILE = "selftest_expected.json"
EXIT_FAILED = 1

# A rendered main window has a heatmap, dendrograms and text, so a grid sample
# of its pixels finds many colours. A blank or single-colour image means that
# the window was not drawn.
MIN_SCREENSHOT_COLOURS = 8
MIN_SCREENSHOT_SIDE = 200


class SelfTestError(Exception):
    """A failed check, with a message that names what differed or what is missing."""


def load_expected(path: Path | None = None) -> dict:
    """Read the known values of the bundled sample from `resources/`."""
    path = resources_dir() / EXPECTED_FILE if path is None else path
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SelfTestError(f"{path}: file not found. The installation is incomplete, so reinstall the app") from None
    except (OSError, ValueError) as error:
        raise SelfTestError(f"{path}: failed to read the known values: {error}") from None


def _max_relative_difference(actual: np.ndarray, expected: np.ndarray) -> float:
    scale = np.maximum(np.abs(expected), np.finfo(float).tiny)
    return float(np.max(np.abs(actual - expected) / scale)) if expected.size else 0.0


def compare_close(name: str, actual, expected, relative_tolerance: float) -> float:
    """Raise SelfTestError unless `actual` equals `expected` within the relative tolerance.

    Exact zeros in `expected` must be exact zeros in `actual`. Returns the
    maximum relative difference found.
    """
    actual = np.asarray(actual, dtype=float)
    expected = np.asarray(expected, dtype=float)
    if actual.shape != expected.shape:
        raise SelfTestError(f"{name}: shape {actual.shape} differs from the expected {expected.shape}")
    if not np.all(np.isfinite(actual)):
        raise SelfTestError(f"{name}: contains NaN or infinite values")
    difference = _max_relative_difference(actual, expected)
    if not np.allclose(actual, expected, rtol=relative_tolerance, atol=0.0):
        raise SelfTestError(
            f"{name}: differs from the known values "
            f"(maximum relative difference {difference:.3g}, tolerance {relative_tolerance:g})"
        )
    return difference


def compare_linkage(name: str, actual, expected, relative_tolerance: float) -> None:
    """Compare scipy linkage matrices: merged clusters and sizes exactly, heights within tolerance."""
    actual = np.asarray(actual, dtype=float)
    expected = np.asarray(expected, dtype=float)
    if actual.shape != expected.shape:
        raise SelfTestError(f"{name}: shape {actual.shape} differs from the expected {expected.shape}")
    if not np.array_equal(actual[:, [0, 1, 3]], expected[:, [0, 1, 3]]):
        raise SelfTestError(f"{name}: merges clusters in a different order than expected")
    compare_close(f"{name} heights", actual[:, 2], expected[:, 2], relative_tolerance)


def compare_equal(name: str, actual, expected) -> None:
    if list(actual) != list(expected):
        raise SelfTestError(f"{name}: {list(actual)} differs from the expected {list(expected)}")


def check_sample(sample: Path, expected: dict, report: Callable[[str], None]) -> None:
    """Analyse the sample checkpoint and compare counts, clusterings and distances with `expected`."""
    from .analysis.pipeline import cluster_embedding, compare_predictions
    from .checkpoint import CheckpointError, open_checkpoint

    tolerance = float(expected["relative_tolerance"])
    split_index = int(expected["split"])
    task = int(expected["task"])
    try:
        with open_checkpoint(sample) as checkpoint:
            if len(checkpoint.splits) != expected["splits"]:
                raise SelfTestError(f"{sample}: has {len(checkpoint.splits)} splits, expected {expected['splits']}")
            split = checkpoint.split(split_index)
            sequences = len(split.sequence_ids)
            frames = split.total_frames()
            if sequences != expected["sequences"] or frames != expected["frames"]:
                raise SelfTestError(
                    f"{sample}: split {split_index} has {sequences} test sequences and {frames} frames, "
                    f"expected {expected['sequences']} and {expected['frames']}"
                )
            report(f"checkpoint reader: {len(checkpoint.splits)} splits; split {split_index} has {sequences} test sequences, {frames} frames")

            embedding = cluster_embedding(split, task)
            compare_linkage("embedding Ward linkage", embedding.linkage, expected["embedding_ward_linkage"], tolerance)
            compare_equal("embedding leaf order", embedding.leaf_order, expected["embedding_leaf_order"])
            report(f"embedding clustering of task {task}: Ward linkage and leaf order {embedding.leaf_order} match")

            start = time.perf_counter()
            predictions = compare_predictions(split)
            seconds = time.perf_counter() - start
    except CheckpointError as error:
        raise SelfTestError(f"failed to read the bundled sample: {error}") from None

    difference = compare_close("prediction distances", predictions.distances, expected["prediction_distances"], tolerance)
    size = predictions.distances.shape[0]
    report(
        f"prediction distance pass over {frames} frames ({seconds:.2f} s): {size} x {size} distances match "
        f"(maximum relative difference {difference:.2g}, tolerance {tolerance:g})"
    )
    compare_linkage("prediction Ward linkage", predictions.linkage, expected["prediction_ward_linkage"], tolerance)
    compare_equal("prediction leaf order", predictions.leaf_order, expected["prediction_leaf_order"])
    report(f"prediction clustering: Ward linkage and leaf order {predictions.leaf_order} match")


def count_colours(image, grid: int = 64) -> int:
    """Count the distinct colours on a `grid` x `grid` sample of a QImage's pixels."""
    colours = set()
    for row in range(grid):
        y = row * (image.height() - 1) // max(grid - 1, 1)
        for column in range(grid):
            x = column * (image.width() - 1) // max(grid - 1, 1)
            colours.add(image.pixel(x, y))
    return len(colours)


def check_screenshot(path: Path) -> tuple[int, int, int]:
    """Raise SelfTestError unless `path` is a PNG of a drawn window; return width, height and colours."""
    from PySide6.QtGui import QImage

    if not path.is_file() or path.stat().st_size == 0:
        raise SelfTestError(f"the window was not rendered: {path} is missing or empty")
    image = QImage(str(path))
    if image.isNull():
        raise SelfTestError(f"the window was not rendered: {path} is not a readable PNG image")
    if image.width() < MIN_SCREENSHOT_SIDE or image.height() < MIN_SCREENSHOT_SIDE:
        raise SelfTestError(f"the rendered window is only {image.width()} x {image.height()} px")
    colours = count_colours(image)
    if colours < MIN_SCREENSHOT_COLOURS:
        raise SelfTestError(f"the rendered window is blank: {colours} colours found, at least {MIN_SCREENSHOT_COLOURS} expected")
    return image.width(), image.height(), colours


def check_window(sample: Path, report: Callable[[str], None]) -> None:
    """Render the main window offscreen on the sample, with the distances computed, and check the image."""
    from .cli import main as cli_main

    try:
        import PySide6.QtWidgets  # noqa: F401 - fails here when Qt or a system library it needs is missing
    except ImportError as error:
        raise SelfTestError(f"failed to load the Qt libraries: {error}") from None
    # The self-test must never open a window on the user's screen, and it must
    # exercise the offscreen platform plugin that the bundle ships.
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    with tempfile.TemporaryDirectory(prefix="annotator-gui-selftest-") as folder:
        from PySide6.QtCore import QSettings

        # The window stores its settings (recent files, linkage choice) here
        # instead of in the user's own settings, which the self-test must not change.
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(Path(folder) / "settings"))
        screenshot = Path(folder) / "window.png"
        status = cli_main([str(sample), "--screenshot", str(screenshot), "--compute"])
        if status != 0:
            raise SelfTestError(f"rendering the window offscreen failed with exit status {status}")
        width, height, colours = check_screenshot(screenshot)
    report(f"main window rendered offscreen with the distances computed: {width} x {height} px, {colours} colours")


def describe_runtime() -> str:
    frozen = "bundled" if getattr(sys, "frozen", False) else "from source"
    try:
        from PySide6 import __version__ as pyside_version
        from PySide6.QtCore import qVersion

        qt = f"Qt {qVersion()} (PySide6 {pyside_version})"
    except ImportError as error:
        qt = f"Qt cannot be loaded: {error}"
    return f"annotator-gui {__version__} ({frozen}), Python {sys.version.split()[0]}, {qt}, {sys.platform}"


def run_self_test(render: bool = True, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run every check, print one line per passed check, and return the exit status."""
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    passed: list[str] = []

    def report(line: str) -> None:
        passed.append(line)
        print(f"  ok  {line}", file=out, flush=True)

    sample = sample_checkpoint_path()
    print(f"Self-test of {describe_runtime()}", file=out)
    print(f"  sample: {sample}", file=out, flush=True)
    try:
        if not sample.is_file():
            raise SelfTestError(f"{sample}: the bundled sample checkpoint is missing. Reinstall the app")
        expected = load_expected()
        check_sample(sample, expected, report)
        if render:
            check_window(sample, report)
    except SelfTestError as error:
        print(f"annotator-gui: self-test FAILED after {len(passed)} passed checks: {error}", file=err)
        return EXIT_FAILED
    except Exception as error:  # noqa: BLE001 - an unexpected crash is a failed check too
        traceback.print_exc(file=err)
        print(f"annotator-gui: self-test FAILED after {len(passed)} passed checks: {type(error).__name__}: {error}", file=err)
        return EXIT_FAILED
    print(f"self-test passed: {len(passed)} checks", file=out)
    return 0
