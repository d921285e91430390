"""Starting the wallboard, and rendering a view to PNG without a display."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QEventLoop
from PySide6.QtWidgets import QApplication, QWidget

from mimdesk.clock import MonotonicClock
from mimdesk.domain.catalogue import WallConfig
from mimdesk.ui.awake import DisplayKeeper
from mimdesk.ui.health_feed import HealthFeed
from mimdesk.ui.health_view import HealthView
from mimdesk.ui.incident_feed import IncidentFeed
from mimdesk.ui.qapp import application as application  # re-exported
from mimdesk.ui.theme import THEMES, apply_theme
from mimdesk.ui.wallboard import WallBoard

if TYPE_CHECKING:  # only for annotations: the sync code loads late
    from mimdesk.sync.seat_sync import SeatStatus

log = logging.getLogger(__name__)

SETTLE_ROUNDS = 5


def run_wall(
    feed: HealthFeed,
    *,
    theme: str,
    zone: tzinfo,
    config: WallConfig,
    screen: str | None,
    incidents: IncidentFeed | None = None,
    seats: Callable[[], SeatStatus] | None = None,
) -> int:
    """Show the wallboard until Esc, Ctrl+Q or the window manager closes it."""
    app = application(theme)
    board = WallBoard(
        feed,
        THEMES.get(theme, THEMES["dark"]),
        zone,
        config,
        MonotonicClock(),
        screen_name=screen,
        keeper=DisplayKeeper(),
        incidents=incidents,
        seats=seats,
    )
    board.open()
    log.info("wallboard open (screen wanted: %s)", screen or "primary")
    return app.exec()


def view_widget(
    view: str, feed: HealthFeed, *, theme: str, zone: tzinfo, config: WallConfig
) -> QWidget:
    """The wall or the Health view as a plain window, for a picture."""
    chosen = THEMES.get(theme, THEMES["dark"])
    if view == "wall":
        # FIXME(wall): `mimdesk screenshot --view wall` draws the health pages only;
        # passing an IncidentFeed here (from app.save_view) would draw the first
        # incident page too.
        return WallBoard(feed, chosen, zone, config, MonotonicClock())
    return HealthView(feed, chosen, zone, config)


def fit_type(widget: QWidget, width: int) -> None:
    """Type that grows past 1920 px wide, as in the console (the wall does its own)."""
    if isinstance(widget, HealthView):
        scale = round(max(1.0, width / 1920) * 4) / 4
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, widget.theme, scale)
        widget.set_look(widget.theme, scale)


def save_picture(widget: QWidget, size: tuple[int, int], output: Path) -> None:
    """Lay `widget` out at `size`, paint it once, save it as PNG, close it."""
    fit_type(widget, size[0])
    widget.resize(*size)
    widget.show()
    for _ in range(SETTLE_ROUNDS):
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents)
    output.parent.mkdir(parents=True, exist_ok=True)
    if not widget.grab().save(str(output)):
        raise OSError(f"could not write {output}")
    widget.close()
    log.info("saved %s (%dx%d)", output, *size)
