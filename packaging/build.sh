#!/usr/bin/env bash
# Build the one-folder bundle with PyInstaller and, on Linux, the .tar.gz and
# .deb installers. Outputs go to dist/ and intermediate files to build/.
#
#     packaging/build.sh              # bundle, .tar.gz and .deb
#     packaging/build.sh --bundle-only
#
# Needs: python3 (3.10 or newer) for the project venv; on Linux also objdump
# (binutils), tar, gzip and dpkg-deb. The version comes from pyproject.toml.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

bundle_only=0
case "${1:-}" in
    "") ;;
    --bundle-only) bundle_only=1 ;;
    -h | --help)
        sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        echo "build.sh: error: unknown option '$1'; use --bundle-only or no option" >&2
        exit 2
        ;;
esac

seconds_since() {
    echo $(($(date +%s) - $1))
}

started=$(date +%s)

# 1. The project venv with PyInstaller and Pillow (the "packaging" extra).
scripts/setup-venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[packaging]"
python=.venv/bin/python

version=$("$python" -c 'from importlib.metadata import version; print(version("annotator-gui"))')
package_version=$("$python" -c 'import annotator_gui; print(annotator_gui.__version__)')
if [ "$version" != "$package_version" ]; then
    echo "build.sh: error: pyproject.toml has version $version but annotator_gui/__init__.py has $package_version; make them equal" >&2
    exit 1
fi

for icon in resources/annotator-gui.svg resources/annotator-gui.ico resources/annotator-gui.icns resources/icons/annotator-gui-512.png; do
    if [ ! -f "$icon" ]; then
        echo "build.sh: error: $icon is missing; run '$python packaging/make_icons.py'" >&2
        exit 1
    fi
done

# PyInstaller freezes the working tree as it is, so a release should be built
# from a clean checkout of its tag.
if command -v git >/dev/null 2>&1 && [ -n "$(git status --porcelain -- annotator_gui resources 2>/dev/null)" ]; then
    echo "build.sh: warning: annotator_gui/ or resources/ has uncommitted changes, which go into this bundle" >&2
fi

# 2. The bundle: dist/annotator-gui/.
echo "== PyInstaller bundle of annotator-gui $version"
rm -rf build/pyinstaller dist/annotator-gui
bundle_started=$(date +%s)
"$python" -m PyInstaller --noconfirm --log-level WARN \
    --distpath dist --workpath build/pyinstaller packaging/annotator-gui.spec
echo "bundle built in $(seconds_since "$bundle_started") s"

if [ "$(uname -s)" != "Linux" ]; then
    echo "Not on Linux: built dist/annotator-gui only; see packaging/README.md for the Windows and macOS installers."
    exit 0
fi

bundle=dist/annotator-gui
install -D -m 0755 packaging/linux/annotator-gui.sh "$bundle/bin/annotator-gui"
install -D -m 0644 packaging/linux/system-libraries.txt "$bundle/share/system-libraries.txt"

echo "== system libraries the bundle needs"
depends=$("$python" packaging/linux/deb_depends.py "$bundle" packaging/linux/system-libraries.txt)
echo "Depends: $depends"

echo "== self-test of the bundle"
"$bundle/bin/annotator-gui" --self-test

if [ "$bundle_only" = 1 ]; then
    echo "built $bundle in $(seconds_since "$started") s"
    exit 0
fi

architecture=$(dpkg --print-architecture)
machine=$(uname -m)

# 3. The .tar.gz: unpack anywhere and run annotator-gui/bin/annotator-gui.
tarball="dist/annotator-gui-$version-linux-$machine.tar.gz"
echo "== $tarball"
tar -C dist --owner=0 --group=0 -czf "$tarball" annotator-gui

# 4. The .deb: the bundle under /opt/annotator-gui, the launcher on the PATH,
#    the desktop entry and the icons in the hicolor theme.
deb="dist/annotator-gui_${version}_${architecture}.deb"
echo "== $deb"
staging=build/deb/root
rm -rf build/deb
mkdir -p "$staging/opt" "$staging/usr/bin" "$staging/DEBIAN"
cp -a "$bundle" "$staging/opt/annotator-gui"
ln -s /opt/annotator-gui/bin/annotator-gui "$staging/usr/bin/annotator-gui"
install -D -m 0644 packaging/linux/annotator-gui.desktop "$staging/usr/share/applications/annotator-gui.desktop"
for size in 16 24 32 48 64 128 256 512; do
    install -D -m 0644 "resources/icons/annotator-gui-$size.png" \
        "$staging/usr/share/icons/hicolor/${size}x${size}/apps/annotator-gui.png"
done
install -D -m 0644 resources/annotator-gui.svg "$staging/usr/share/icons/hicolor/scalable/apps/annotator-gui.svg"
install -D -m 0644 packaging/linux/copyright "$staging/usr/share/doc/annotator-gui/copyright"

installed_size=$(du -sk --exclude=DEBIAN "$staging" | cut -f1)
sed -e "s/@VERSION@/$version/" \
    -e "s/@ARCHITECTURE@/$architecture/" \
    -e "s/@INSTALLED_SIZE@/$installed_size/" \
    -e "s/@DEPENDS@/$depends/" \
    packaging/linux/control.in > "$staging/DEBIAN/control"

# Debian packages install files owned by root; --root-owner-group sets that
# without fakeroot. gzip keeps the package installable by every dpkg release.
find "$staging" -type d -exec chmod 0755 {} +
dpkg-deb --root-owner-group -Zgzip --build "$staging" "$deb" >/dev/null
dpkg-deb --info "$deb" | sed -n '/Package:/,$p'

echo "== done in $(seconds_since "$started") s"
du -sh "$bundle" "$tarball" "$deb"
