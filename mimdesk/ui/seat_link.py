"""The link to the other seats, where people look: a status-bar button on the
console (it opens the Seats window: who was heard from when, what was refused)
and a strip on the wall that says LAST KNOWN STATE while the link is down.

The sync thread keeps a status; these widgets read it on a timer (it is a
plain value behind a lock), so nothing here waits on the network.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from mimdesk.domain.times import format_clock
from mimdesk.ui.theme import Theme, ink_on

if TYPE_CHECKING:  # only for annotations: the sync code loads late
    from mimdesk.store.seats import Refused, Seat
    from mimdesk.sync.seat_sync import SeatStatus

TICK_MS = 1000
SEATS_KEY = "Ctrl+Shift+L"


def age_words(delta: timedelta) -> str:
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def link_words(status: SeatStatus, now: datetime, zone: tzinfo) -> tuple[str, str]:
    """(what the console's status bar says, theme colour name): short, the
    status bar is full at such times; `link_tip` says the rest."""
    if status.connected and status.last_sync is not None:
        synced = format_clock(status.last_sync, zone, seconds=True)
        return f"Seats linked \u00b7 {synced}", "status_resolved"
    if status.offline_since is not None:
        since = format_clock(status.offline_since, zone, seconds=True)
        age = age_words(now - status.offline_since)
        return f"Seats OFFLINE since {since} ({age})", "warning"
    if status.problem:
        return "Seats not linked", "warning"
    return "Seats: connecting\u2026", "muted"


def link_tip(status: SeatStatus) -> str:
    """The status bar part's tooltip: what the words mean and what to do."""
    others = len(status.seats)
    heard = f"{others} other seat{'s' if others != 1 else ''} heard from"
    if status.connected:
        text = f"Linked to the other seats through Matrix; {heard}."
    elif status.offline_since is not None:
        text = (
            "No link to the other seats: what shows is the last known state; "
            "what is recorded here waits and is sent when the link returns."
        )
    else:
        text = "Not linked to the other seats."
    if status.problem and not status.connected:
        text += f" Last problem: {status.problem}."
    return f"{text} Seats window: {SEATS_KEY}."


def wall_words(status: SeatStatus, now: datetime, zone: tzinfo) -> str:
    """The wall's strip while the link is down ('' while it is up)."""
    if status.connected:
        return ""
    if status.offline_since is not None:
        since = format_clock(status.offline_since, zone, seconds=True)
        age = age_words(now - status.offline_since)
        return (
            f"LAST KNOWN STATE \u2014 no link to the other seats since {since} "
            f"({age} ago)"
        )
    if status.problem:
        return (
            f"LAST KNOWN STATE \u2014 not linked to the other seats: {status.problem}"
        )
    return "LAST KNOWN STATE \u2014 linking to the other seats\u2026"


class SeatButton(QPushButton):
    """The console's status-bar part; click (or Ctrl+Shift+L) for the Seats window."""

    def __init__(
        self,
        status: Callable[[], SeatStatus],
        theme: Theme,
        zone: tzinfo,
        now: Callable[[], datetime],
        parent: QWidget,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("SeatLink")
        self.setFlat(True)
        self.status, self.theme, self.zone, self.now = status, theme, zone, now
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.refresh)
        self._timer.start(TICK_MS)
        self.refresh()

    def refresh(self) -> None:
        status = self.status()
        text, colour = link_words(status, self.now(), self.zone)
        self.setText(text)
        self.setToolTip(link_tip(status))
        value = getattr(self.theme, colour, self.theme.text)
        self.setStyleSheet(
            f"color:{value}; font-weight:600; border:none; background:transparent;"
            " padding:0 6px;"
        )

    def set_look(self, theme: Theme, zone: tzinfo) -> None:
        self.theme, self.zone = theme, zone
        self.refresh()


class WallSeatStrip(QLabel):
    """The wall's strip: hidden while linked, LAST KNOWN STATE while not."""

    def __init__(
        self,
        status: Callable[[], SeatStatus],
        theme: Theme,
        zone: tzinfo,
        now: Callable[[], datetime],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("SeatStrip")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        colour = theme.warning
        self.setStyleSheet(
            f"background:{colour}; color:{ink_on(colour)}; font-weight:bold;"
            " padding:6px;"
        )
        self.status, self.zone, self.now = status, zone, now
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.refresh)
        self._timer.start(TICK_MS)
        self.refresh()

    def refresh(self) -> None:
        text = wall_words(self.status(), self.now(), self.zone)
        self.setText(text)
        self.setVisible(bool(text))


class SeatsDialog(QDialog):
    """Every seat this one has heard from, and what was refused from whom."""

    def __init__(
        self,
        own_seat: str,
        status: SeatStatus,
        refused: list[Refused],
        zone: tzinfo,
        now: datetime,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("SeatsDialog")
        self.setWindowTitle("Seats sharing incidents")
        layout = QVBoxLayout(self)
        words, _ = link_words(status, now, zone)
        summary = QLabel(
            f"This seat: {own_seat}. {words}. {link_tip(status)} "
            f"Published {status.published}, "
            f"merged {status.merged}, refused {status.refused} since start."
        )
        summary.setWordWrap(True)
        layout.addWidget(summary)
        self.seats = _table(
            ("Seat", "Account", "Last heard", "Events held"),
            [_seat_row(s, zone, now) for s in status.seats],
        )
        self.seats.setObjectName("SeatTable")
        layout.addWidget(self.seats)
        if refused:
            layout.addWidget(QLabel("Refused (not applied), newest first:"))
            self.refused = _table(
                ("When", "From", "Why"),
                [
                    (format_clock(r.at, zone), r.sender or "?", r.reason)
                    for r in refused
                ],
            )
            self.refused.setObjectName("RefusedTable")
            layout.addWidget(self.refused)
        else:
            layout.addWidget(QLabel("Nothing from another seat was refused."))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(760, 420)


def _seat_row(seat: Seat, zone: tzinfo, now: datetime) -> tuple[str, ...]:
    age = age_words(now - seat.last_heard_at)
    heard = f"{format_clock(seat.last_heard_at, zone, seconds=True)} ({age} ago)"
    return (seat.seat, seat.account or "?", heard, str(seat.events))


def _table(headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> QTableWidget:
    table = QTableWidget(len(rows), len(headers))
    table.setHorizontalHeaderLabels(list(headers))
    table.verticalHeader().hide()
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            table.setItem(r, c, QTableWidgetItem(text))
    table.horizontalHeader().setSectionResizeMode(
        QHeaderView.ResizeMode.ResizeToContents
    )
    table.horizontalHeader().setStretchLastSection(True)
    return table
