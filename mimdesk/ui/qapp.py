"""The one QApplication of a process, made and themed before any window."""

from __future__ import annotations

import sys

from PySide6.QtWidgets import QApplication

from mimdesk.ui import qtlog
from mimdesk.ui.theme import THEMES, apply_theme


def application(theme: str = "dark") -> QApplication:
    """The QApplication (made once), themed."""
    qtlog.install()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("MIMDesk")
    app.setOrganizationName("MIMDesk")
    apply_theme(app, THEMES.get(theme, THEMES["dark"]))
    return app
