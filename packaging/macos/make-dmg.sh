#!/usr/bin/env bash
# Pack the macOS app that packaging/annotator-gui.spec builds into a .dmg.
#
# NOTE: not run by the project yet, because no macOS machine was available.
# Run on macOS after packaging/build.sh (which builds the bundle and the .app
# there and stops):
#
#     packaging/macos/make-dmg.sh
#
# Writes dist/annotator-gui-<version>-macos-<arch>.dmg, a compressed disk
# image with the app and a link to /Applications to drag it onto.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"

app="dist/Annotator Style Explorer.app"
if [ ! -d "$app" ]; then
    echo "make-dmg.sh: error: $app not found; build it first with packaging/build.sh" >&2
    exit 1
fi
version=$(.venv/bin/python -c 'from importlib.metadata import version; print(version("annotator-gui"))')
dmg="dist/annotator-gui-$version-macos-$(uname -m).dmg"

# Check the bundled app before packing it.
"$app/Contents/MacOS/annotator-gui" --self-test

staging=build/dmg
rm -rf "$staging" "$dmg"
mkdir -p "$staging"
cp -R "$app" "$staging/"
ln -s /Applications "$staging/Applications"
hdiutil create -volname "Annotator Style Explorer $version" -srcfolder "$staging" -ov -format UDZO "$dmg"
echo "wrote $dmg"
