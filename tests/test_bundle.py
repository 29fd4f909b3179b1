"""The installable bundle: the Linux launcher's library check, and the built bundle itself.

The launcher tests run by default: they build a fake bundle whose xcb plugin
needs a library that is missing, with gcc. The bundle test is marked `bundle`
and excluded from the default run, because it runs packaging/build.sh
(minutes); run it with `scripts/run-tests -m bundle`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from .conftest import ROOT, ZIP, expected

LAUNCHER = ROOT / "packaging" / "linux" / "annotator-gui.sh"
TABLE = ROOT / "packaging" / "linux" / "system-libraries.txt"
BUNDLE = ROOT / "dist" / "annotator-gui"
EXIT_MISSING_LIBRARIES = 3
KNOWN_MISSING = "libannotator-test-cursor.so.0"
KNOWN_PACKAGE = "libannotator-test-cursor0"
MAX_BUNDLE_BYTES = 400 * 1024 * 1024

needs_linux_toolchain = pytest.mark.skipif(
    not sys.platform.startswith("linux") or shutil.which("gcc") is None or shutil.which("ldd") is None,
    reason="the launcher is Linux-only, and the fake bundle is built with gcc and checked with ldd",
)


def build_shared_library(directory: Path, name: str, soname: str | None = None, links: tuple[Path, ...] = ()) -> Path:
    """Compile an empty shared library, optionally linked against `links` (full paths)."""
    source = directory / f"{name}.c"
    source.write_text("int placeholder_symbol(void) { return 0; }\n")
    output = directory / name
    command = ["gcc", "-shared", "-fPIC", "-o", str(output), str(source)]
    if soname is not None:
        command.append(f"-Wl,-soname,{soname}")
    if links:
        # Debian's gcc links with --as-needed, which would drop the unused libraries.
        command.append("-Wl,--no-as-needed")
    for library in links:
        command += [f"-L{library.parent}", f"-l:{library.name}"]
    subprocess.run(command, check=True, capture_output=True)
    return output


@pytest.fixture
def fake_bundle(tmp_path):
    """Lay out a bundle whose xcb plugin needs two missing libraries, one of them in the package table.

    Real sonames such as libxcb-cursor.so.0 may be installed on the test
    machine, so the table gets an extra line for a soname that exists nowhere.
    """
    bundle = tmp_path / "bundle"
    internal = bundle / "_internal"
    platforms = internal / "PySide6" / "Qt" / "plugins" / "platforms"
    platforms.mkdir(parents=True)
    scratch = tmp_path / "scratch"
    scratch.mkdir()

    known = build_shared_library(scratch, KNOWN_MISSING, soname=KNOWN_MISSING)
    unknown = build_shared_library(scratch, "libnotinthetable.so.7", soname="libnotinthetable.so.7")
    plugin = build_shared_library(scratch, "libqxcb.so", links=(known, unknown))
    shutil.copy(plugin, platforms / "libqxcb.so")
    build_shared_library(platforms, "libqoffscreen.so")
    build_shared_library(internal / "PySide6", "QtWidgets.abi3.so")
    shutil.rmtree(scratch)

    # The frozen executable is replaced by a script that reports how it was started.
    executable = bundle / "annotator-gui"
    executable.write_text('#!/bin/sh\necho "started with: $*"\n')
    executable.chmod(0o755)
    (bundle / "bin").mkdir()
    shutil.copy(LAUNCHER, bundle / "bin" / "annotator-gui")
    (bundle / "share").mkdir()
    table = TABLE.read_text() + f"\n{KNOWN_MISSING} {KNOWN_PACKAGE}\n"
    (bundle / "share" / "system-libraries.txt").write_text(table)
    return bundle


def run_launcher(bundle: Path, *arguments: str, **environment: str) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "DISPLAY": ":0", **environment}
    return subprocess.run(
        ["sh", str(bundle / "bin" / "annotator-gui"), *arguments],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


@needs_linux_toolchain
def test_launcher_names_missing_packages(fake_bundle):
    result = run_launcher(fake_bundle)
    assert result.returncode == EXIT_MISSING_LIBRARIES
    assert "started" not in result.stdout
    assert KNOWN_MISSING in result.stderr
    assert f"sudo apt-get install {KNOWN_PACKAGE}" in result.stderr
    assert "No package is known for: libnotinthetable.so.7" in result.stderr


@needs_linux_toolchain
@pytest.mark.parametrize(
    ("arguments", "environment"),
    [
        (("--self-test",), {}),
        (("analyze", "file.pt", "--out", "folder"), {}),
        (("info", "file.pt"), {}),
        (("file.pt", "--screenshot", "window.png"), {}),
        (("file.pt",), {"QT_QPA_PLATFORM": "offscreen"}),
    ],
)
def test_launcher_skips_xcb_check_offscreen(fake_bundle, arguments, environment):
    result = run_launcher(fake_bundle, *arguments, **environment)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"started with: {' '.join(arguments)}"


@needs_linux_toolchain
def test_launcher_starts_when_libraries_found(fake_bundle, tmp_path):
    # The launcher searches _internal first, as the bundled executable does.
    internal = fake_bundle / "_internal"
    build_shared_library(internal, KNOWN_MISSING, soname=KNOWN_MISSING)
    build_shared_library(internal, "libnotinthetable.so.7", soname="libnotinthetable.so.7")
    result = run_launcher(fake_bundle, "file with spaces.pt")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "started with: file with spaces.pt"


@needs_linux_toolchain
def test_launcher_follows_symlink(fake_bundle, tmp_path):
    # /usr/bin/annotator-gui is a symbolic link to the launcher in the .deb.
    link = tmp_path / "usr-bin" / "annotator-gui"
    link.parent.mkdir()
    link.symlink_to(fake_bundle / "bin" / "annotator-gui")
    result = subprocess.run(["sh", str(link), "--self-test"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "started with: --self-test"


def test_table_lines_have_two_fields():
    for number, line in enumerate(TABLE.read_text().splitlines(), start=1):
        fields = line.split("#", 1)[0].split()
        assert len(fields) in (0, 2), f"{TABLE.name}:{number}: {line!r}"


def bundle_size(path: Path) -> int:
    return sum(file.lstat().st_size for file in path.rglob("*") if not file.is_symlink())


@pytest.mark.bundle
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="build.sh makes the Linux bundle; see packaging/README.md elsewhere")
def test_built_bundle_runs(tmp_path):
    build = subprocess.run(
        ["bash", str(ROOT / "packaging" / "build.sh"), "--bundle-only"],
        capture_output=True,
        text=True,
        timeout=30 * 60,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]

    internal = BUNDLE / "_internal"
    assert not (internal / "torch").exists()
    assert not (internal / "PySide6" / "Qt" / "translations").exists()
    assert not (internal / "tests").exists()
    assert bundle_size(BUNDLE) < MAX_BUNDLE_BYTES
    qt_licenses = internal / "licenses" / "qt-pyside6"
    assert "GNU LESSER GENERAL PUBLIC LICENSE" in (qt_licenses / "LGPL-3").read_text()
    assert "GNU GENERAL PUBLIC LICENSE" in (qt_licenses / "GPL-3").read_text()
    assert (qt_licenses / "qt-pyside6.txt").is_file()
    for distribution in ("numpy", "scipy", "pyqtgraph", "deflate", "pyside6_essentials", "shiboken6"):
        assert list(internal.glob(f"{distribution}-*.dist-info")), distribution

    environment = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    launcher = BUNDLE / "bin" / "annotator-gui"
    self_test = subprocess.run([str(launcher), "--self-test"], capture_output=True, text=True, env=environment, cwd=tmp_path, timeout=300)
    assert self_test.returncode == 0, self_test.stderr
    assert "self-test passed: 5 checks" in self_test.stdout

    out = tmp_path / "analysis"
    analyze = subprocess.run(
        [str(launcher), "analyze", str(ZIP), "--out", str(out)],
        capture_output=True,
        text=True,
        env=environment,
        cwd=tmp_path,
        timeout=300,
    )
    assert analyze.returncode == 0, analyze.stderr
    record = json.loads((out / "analysis.json").read_text())
    reference = expected("mabe_1split_zip.split0")
    assert record["frames"] == reference["frames"]
    assert record["prediction_leaf_order"] == reference["prediction_leaf_order"]
    np.testing.assert_allclose(record["prediction_distances"], reference["prediction_distances"], rtol=1e-6, atol=0)
    assert list(out.glob("*.png"))
