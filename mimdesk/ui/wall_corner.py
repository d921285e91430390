"""The source's state in words: connected or not, and when data last arrived;
on the wall, also how many chat messages wait in the outbox."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QWidget

from mimdesk.domain.outbox import Waiting
from mimdesk.domain.times import format_clock, format_instant
from mimdesk.domain.wall import Link, SourceState
from mimdesk.ui.chat_feed import ChatFeed, outbox_words
from mimdesk.ui.theme import Theme, pill


def link_words(source: SourceState) -> tuple[str, str]:
    """The connection badge's text and the theme colour it is drawn in."""
    if source.demo:
        exercise = source.name == "EXERCISE"
        return ("EXERCISE", "exercise") if exercise else ("DEMO", "demo")
    if source.link is Link.CONNECTED:
        return "CONNECTED", "status_resolved"
    if source.link is Link.UNKNOWN:
        return "CONNECTING", "muted"
    return source.link.value.upper(), "danger"


def last_refresh_words(source: SourceState, zone: tzinfo, now: float) -> str:
    """'Last refresh 14:05:09 GMT · 14:05:09 UTC', with the date if not today."""
    if source.last_success is None:
        return "No successful refresh yet"
    when = datetime.fromtimestamp(source.last_success, UTC)
    today = datetime.fromtimestamp(now, UTC).astimezone(zone).date()
    if when.astimezone(zone).date() == today:
        local = format_clock(when, zone, seconds=True)
    else:
        local = format_instant(when, zone)
    utc = format_clock(when, UTC, seconds=True)
    if when.astimezone(zone).utcoffset() == timedelta(0) and local == utc:
        return f"Last refresh {local}"  # the zone is UTC (or GMT in winter)
    return f"Last refresh {local} \u00b7 {utc}"


class SourceStatus(QWidget):
    """Badge (CONNECTED, UNREACHABLE, DEMO...), the problem, the last refresh."""

    def __init__(self, theme: Theme, zone: tzinfo) -> None:
        super().__init__()
        self.setObjectName("SourceStatus")
        self.theme, self.zone = theme, zone
        self.link = QLabel()
        self.link.setObjectName("LinkState")
        self.message = QLabel()
        self.message.setAlignment(
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        )
        self.message.setObjectName("LinkMessage")
        self.last = QLabel()
        self.last.setObjectName("LastRefresh")
        self.catalogue = QLabel()
        self.catalogue.setObjectName("CatalogueProblem")
        # "3 messages waiting since 03:12": chat is behind (shown once followed).
        self.outbox = QLabel()
        self.outbox.setObjectName("OutboxWaiting")
        self.outbox.hide()
        self._outbox_colour = "warning"
        self._now: Callable[[], datetime] = lambda: datetime.now(UTC)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for label in (self.catalogue, self.message):
            # Long problem texts are cut to the room left, never widen the wall;
            # the whole text is in the tooltip.
            label.setSizePolicy(
                QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred
            )
            layout.addWidget(label, 1)
        for label in (self.outbox, self.last, self.link):
            layout.addWidget(label)
        self.show_source(SourceState(), 0.0)

    def show_source(self, source: SourceState, now: float) -> None:
        text, colour = link_words(source)
        self.link.setText(text)
        self.link.setStyleSheet(pill(getattr(self.theme, colour)))
        self.message.setText(source.message)
        self.message.setToolTip(source.message)
        self.message.setStyleSheet(f"color:{self.theme.danger}; font-weight:600;")
        self.message.setVisible(bool(source.message) and text != "CONNECTED")
        self.last.setText(last_refresh_words(source, self.zone, now))
        problem = source.catalogue_problem
        self.catalogue.setText(f"Catalogue not reloaded: {problem}" if problem else "")
        self.catalogue.setToolTip(self.catalogue.text())
        self.catalogue.setStyleSheet(f"color:{self.theme.warning}; font-weight:600;")
        self.catalogue.setVisible(bool(problem))
        self.last.setToolTip(source.name)

    def follow_outbox(
        self, feed: ChatFeed, now: Callable[[], datetime] | None = None
    ) -> None:
        """Show what waits in `feed`'s outbox, in the type of the last refresh."""
        if now is not None:
            self._now = now
        feed.outbox_changed.connect(self.show_outbox)
        self.last.installEventFilter(self)  # its type changes with the wall's size
        self.show_outbox(feed.waiting)

    def show_outbox(self, waiting: Waiting) -> None:
        text, colour = outbox_words(waiting, self.zone, self._now())
        self.outbox.setText(text)
        self.outbox.setToolTip(
            "Chat messages not yet delivered; see the console's outbox (F4) "
            "or `mimdesk outbox list`"
        )
        self.outbox.setVisible(bool(text))
        self._outbox_colour = colour or "warning"
        self._style_outbox()

    def _style_outbox(self) -> None:
        size = self.last.font().pointSizeF()
        colour = getattr(self.theme, self._outbox_colour)
        self.outbox.setStyleSheet(
            f"color:{colour}; font-weight:700; font-size:{size:.1f}pt;"
            f" padding-right:{round(size)}px;"
        )

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.last and event.type() == QEvent.Type.FontChange:
            self._style_outbox()
        return super().eventFilter(watched, event)
