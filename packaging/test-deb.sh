#!/usr/bin/env bash
# Install the .deb on this machine, check the installed app, and remove it.
#
#     packaging/test-deb.sh [PACKAGE.deb]     # default: dist/annotator-gui_<version>_<arch>.deb
#
# It changes the system, so it is not part of the default test run. Run it as
# root on a machine where annotator-gui is not installed. It installs the
# package's Depends with apt-get and the package with dpkg -i. Then it runs the
# installed app's --self-test and an analyze of a real checkpoint from a clean
# environment. Last, it removes the package with dpkg -r and checks that no
# file is left under /opt/annotator-gui, /usr/bin, /usr/share/applications or
# the icon theme. On failure it still removes the package and exits non-zero.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
checkpoint="$root/tests/data/mabe_1split_zip.pt"
expected="$root/tests/data/mabe_1split_zip.split0.expected.json"

if [ "$(id -u)" != 0 ]; then
    echo "test-deb.sh: error: run as root, because it installs and removes a package" >&2
    exit 2
fi

deb="${1:-}"
if [ -z "$deb" ]; then
    deb=$(ls -t "$root"/dist/annotator-gui_*_"$(dpkg --print-architecture)".deb 2>/dev/null | head -n 1 || true)
fi
if [ -z "$deb" ] || [ ! -f "$deb" ]; then
    echo "test-deb.sh: error: no .deb found (${deb:-dist/annotator-gui_*.deb}); build it with packaging/build.sh" >&2
    exit 2
fi
if dpkg-query -W -f='${Status}' annotator-gui 2>/dev/null | grep -q "installed"; then
    echo "test-deb.sh: error: annotator-gui is already installed; remove it first (dpkg -r annotator-gui), so this test does not remove a real installation" >&2
    exit 2
fi

failures=0
check() {
    local description=$1
    shift
    if "$@"; then
        echo "  ok    $description"
    else
        echo "  FAIL  $description" >&2
        failures=$((failures + 1))
    fi
}

workdir=$(mktemp -d)
installed=0
cleanup() {
    if [ "$installed" = 1 ]; then
        dpkg -r annotator-gui >/dev/null 2>&1 || true
    fi
    rm -rf "$workdir"
}
trap cleanup EXIT

echo "== $deb ($(du -h "$deb" | cut -f1))"
dpkg-deb --field "$deb" Package Version Installed-Size

echo "== installing the Depends with apt-get"
# "libc6 (>= 2.35), libgl1 | libgl1-mesa-glx" -> "libc6 libgl1": the first alternative of each.
depends=$(dpkg-deb --field "$deb" Depends | tr ',' '\n' | sed -e 's/|.*//' -e 's/(.*)//' -e 's/ //g' | grep -v '^$')
# shellcheck disable=SC2086 # one word per package
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $depends >"$workdir/apt.log" 2>&1 || {
    tail -n 20 "$workdir/apt.log" >&2
    echo "test-deb.sh: error: apt-get could not install the Depends; run 'apt-get update' and try again" >&2
    exit 1
}

echo "== dpkg -i"
installed=1
dpkg -i "$deb"
check "package is installed" sh -c "dpkg-query -W -f='\${Status}' annotator-gui | grep -q 'install ok installed'"
check "/usr/bin/annotator-gui points into /opt/annotator-gui" test "$(readlink -f /usr/bin/annotator-gui)" = /opt/annotator-gui/bin/annotator-gui
check "desktop entry installed" test -f /usr/share/applications/annotator-gui.desktop
if command -v desktop-file-validate >/dev/null 2>&1; then
    check "desktop entry is valid" desktop-file-validate /usr/share/applications/annotator-gui.desktop
fi
for size in 16 32 48 256 512; do
    check "${size} px icon in the hicolor theme" test -f "/usr/share/icons/hicolor/${size}x${size}/apps/annotator-gui.png"
done
check "scalable icon in the hicolor theme" test -f /usr/share/icons/hicolor/scalable/apps/annotator-gui.svg

# A clean environment from another folder, so nothing from the repository or
# its venv can stand in for a missing piece of the installation.
run_installed() {
    (cd "$workdir" && env -i PATH=/usr/bin:/bin HOME="$workdir/home" LANG=C.UTF-8 "$@")
}
mkdir -p "$workdir/home"

echo "== annotator-gui --self-test (installed)"
check "self-test passes" run_installed annotator-gui --self-test

echo "== annotator-gui analyze $(basename "$checkpoint") (installed)"
check "analyze exits 0" run_installed annotator-gui analyze "$checkpoint" --out "$workdir/analysis"
for file in analysis.json embedding.csv prediction_distances.csv; do
    check "analyze wrote $file" test -s "$workdir/analysis/$file"
done
check "analyze wrote PNG figures" sh -c "ls '$workdir/analysis'/*.png >/dev/null 2>&1"
check "analysis.json matches the reference values" python3 - "$workdir/analysis/analysis.json" "$expected" <<'EOF'
import json
import math
import sys

result = json.load(open(sys.argv[1]))
reference = json.load(open(sys.argv[2]))
assert result["frames"] == reference["frames"], (result["frames"], reference["frames"])
assert result["sequences"] == reference["sequences"], (result["sequences"], reference["sequences"])
assert result["prediction_leaf_order"] == reference["prediction_leaf_order"]
assert result["embedding_leaf_order"] == reference["embedding_leaf_order"]
for row, reference_row in zip(result["prediction_distances"], reference["prediction_distances"]):
    for value, reference_value in zip(row, reference_row):
        assert math.isclose(value, reference_value, rel_tol=1e-6, abs_tol=0.0), (value, reference_value)
EOF

echo "== dpkg -r"
dpkg -r annotator-gui
installed=0
check "package is no longer installed" sh -c "! dpkg-query -W -f='\${Status}' annotator-gui 2>/dev/null | grep -q ' installed'"
check "/opt/annotator-gui is gone" test ! -e /opt/annotator-gui
check "/usr/bin/annotator-gui is gone" test ! -e /usr/bin/annotator-gui -a ! -L /usr/bin/annotator-gui
check "desktop entry is gone" test ! -e /usr/share/applications/annotator-gui.desktop
check "no icon is left in /usr/share/icons" test -z "$(find /usr/share/icons -name 'annotator-gui*' -print -quit)"
check "no file is left in /usr/share/doc/annotator-gui" test ! -e /usr/share/doc/annotator-gui

if [ "$failures" -ne 0 ]; then
    echo "test-deb.sh: $failures checks failed" >&2
    exit 1
fi
echo "test-deb.sh: all checks passed"
