"""Starting Qt: the application object, its theme, and the console window."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtWidgets import QMessageBox

from mimdesk.ui.console import ConsoleContext, ConsoleWindow
from mimdesk.ui.qapp import application
from mimdesk.ui.snapshot import ScreenshotOnPaint

log = logging.getLogger(__name__)

EXIT_STORE = 3


def run_console(
    ctx: ConsoleContext | None,
    *,
    theme: str,
    fatal: str | None = None,
    screenshot: Path | None = None,
    size: tuple[int, int] | None = None,
) -> int:
    """Show the console on `ctx` until it closes; or, with no ctx, say `fatal`.

    With `screenshot`, save the first painted frame (at `size`) there and quit."""
    app = application(theme)
    if ctx is None:
        QMessageBox.critical(None, "MIMDesk cannot open its store", fatal or "")
        return EXIT_STORE
    window = ConsoleWindow(ctx)
    if size is not None:
        window.resize(*size)
    if screenshot is not None:
        ScreenshotOnPaint.attach(window, screenshot)
    window.show()
    log.info("console open on %s", ctx.store.path)
    return app.exec()
