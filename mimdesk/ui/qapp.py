"""The one QApplication of a process, made and themed before any window."""

from __future__ import annotations

import sys

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from mimdesk.resources import resource
from mimdesk.ui import qtlog
from mimdesk.ui.theme import THEMES, apply_theme

ICON_SIZES = (16, 32, 48, 64, 128, 256, 512)


def application(theme: str = "dark") -> QApplication:
    """The QApplication (made once), themed."""
    qtlog.install()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("MIMDesk")
    app.setOrganizationName("MIMDesk")
    # Wayland compositors match windows to the installed .desktop entry by this.
    app.setDesktopFileName("io.github.mimdesk.MIMDesk")
    app.setWindowIcon(icon())
    apply_theme(app, THEMES.get(theme, THEMES["dark"]))
    return app


def icon() -> QIcon:
    """The application icon, from the PNGs rendered for each size."""
    found = QIcon()
    for size in ICON_SIZES:
        found.addFile(str(resource("icons", f"mimdesk-{size}.png")))
    return found
