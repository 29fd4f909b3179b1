"""Render the app icon from resources/annotator-gui.svg into PNG, ICO and ICNS files.

Run with the project venv after installing the packaging extra
(`.venv/bin/pip install -e ".[packaging]"`):

    .venv/bin/python packaging/make_icons.py

Writes resources/icons/annotator-gui-<N>.png for each size in PNG_SIZES,
resources/annotator-gui.ico and resources/annotator-gui.icns. The SVG is
rendered with Qt's own SVG renderer (QtSvg, part of PySide6-Essentials), so no
system tool is needed; Pillow assembles the ICO and ICNS containers.
"""

from __future__ import annotations

import io
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SVG = ROOT / "resources" / "annotator-gui.svg"
PNG_DIR = ROOT / "resources" / "icons"
ICO = ROOT / "resources" / "annotator-gui.ico"
ICNS = ROOT / "resources" / "annotator-gui.icns"

PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
# An ICO file stores images of at most 256 x 256 px.
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)


def render_png(renderer, size: int) -> bytes:
    """Render the SVG into a transparent `size` x `size` PNG and return its bytes."""
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice
    from PySide6.QtGui import QImage, QPainter

    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(0)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()

    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise RuntimeError(f"Qt failed to encode the {size} px icon as PNG")
    buffer.close()
    return bytes(data.data())


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PIL import Image
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtSvg import QSvgRenderer

    application = QGuiApplication.instance() or QGuiApplication([])
    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        print(f"make_icons: error: {SVG} is not a valid SVG file", file=sys.stderr)
        return 1

    PNG_DIR.mkdir(parents=True, exist_ok=True)
    images: dict[int, Image.Image] = {}
    for size in PNG_SIZES:
        png = render_png(renderer, size)
        path = PNG_DIR / f"annotator-gui-{size}.png"
        path.write_bytes(png)
        images[size] = Image.open(io.BytesIO(png)).convert("RGBA")
        print(f"wrote {path.relative_to(ROOT)}")

    # Each size is rendered from the SVG rather than scaled down from 512 px,
    # so thin strokes stay sharp at 16 and 32 px.
    largest_ico = images[ICO_SIZES[-1]]
    largest_ico.save(
        ICO,
        format="ICO",
        sizes=[(size, size) for size in ICO_SIZES],
        append_images=[images[size] for size in ICO_SIZES[:-1]],
    )
    print(f"wrote {ICO.relative_to(ROOT)}")

    images[512].save(ICNS, format="ICNS", append_images=[images[size] for size in (16, 32, 64, 128, 256)])
    print(f"wrote {ICNS.relative_to(ROOT)}")
    del application
    return 0


if __name__ == "__main__":
    sys.exit(main())
