"""Render resources/icons/mimdesk.svg into the PNG sizes desktops and bundles use.

Run after changing the SVG, then commit the PNGs:

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/render-icons.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer

ICONS = Path(__file__).resolve().parent.parent / "resources" / "icons"
SIZES = (16, 32, 48, 64, 128, 256, 512)


def render(renderer: QSvgRenderer, size: int) -> QImage:
    """The icon drawn at `size` x `size`, on a transparent background."""
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)

    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter)
    painter.end()
    return image


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = QGuiApplication(sys.argv[:1])  # noqa: F841 (painting needs one)
    renderer = QSvgRenderer(str(ICONS / "mimdesk.svg"))
    if not renderer.isValid():
        print(f"error: {ICONS / 'mimdesk.svg'} is not a valid SVG", file=sys.stderr)
        return 1

    for size in SIZES:
        output = ICONS / f"mimdesk-{size}.png"
        if not render(renderer, size).save(str(output), "PNG"):
            print(f"error: could not write {output}", file=sys.stderr)
            return 1
        print(output.relative_to(ICONS.parent.parent))
    return 0


if __name__ == "__main__":
    sys.exit(main())
