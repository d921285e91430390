"""The unattended wallboard: live incidents and service tiles, full screen on a
named screen, paged."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import tzinfo
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import (
    QCloseEvent,
    QGuiApplication,
    QKeySequence,
    QResizeEvent,
    QScreen,
    QShortcut,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from mimdesk.clock import MonotonicClock
from mimdesk.domain.catalogue import WallConfig
from mimdesk.domain.times import format_clock
from mimdesk.domain.wall import WallState
from mimdesk.ui.awake import DisplayKeeper
from mimdesk.ui.health_feed import HealthFeed
from mimdesk.ui.incident_feed import IncidentFeed
from mimdesk.ui.seat_link import WallSeatStrip
from mimdesk.ui.theme import Theme, ink_on
from mimdesk.ui.wall_corner import SourceStatus
from mimdesk.ui.wall_grid import WallGrid
from mimdesk.ui.wall_incident import IncidentPage

if TYPE_CHECKING:  # only for annotations: the sync code loads late
    from mimdesk.sync.seat_sync import SeatStatus

log = logging.getLogger(__name__)

TICK_MS = 1000
# How often the wall looks for changes made by the console or the CLI.
POLL_MS = 2000
REFERENCE_WIDTH = 1920
# Read from across a room: the wall's type starts this much larger than the console's.
WALL_TYPE = 1.15


def choose_screen(
    names: Sequence[str], wanted: str | None, primary: str
) -> tuple[str, bool]:
    """The screen to fill: `wanted` if connected, else `primary`; and whether
    that is a fallback the operator should hear about."""
    if wanted and wanted in names:
        return wanted, False
    return primary, bool(wanted)


def wall_scale(width: int) -> float:
    """Type scale for a wall `width` logical pixels wide, in quarter steps."""
    return round(max(1.0, width / REFERENCE_WIDTH) * WALL_TYPE * 4) / 4


def wall_stylesheet(theme: Theme, scale: float) -> str:
    def pt(size: float) -> str:
        return f"{size * scale:.1f}pt"

    return f"""
    QWidget#WallBoard {{ background: {theme.window}; }}
    QLabel#WallTitle {{ font-size: {pt(18)}; font-weight: 700; letter-spacing: 1px; }}
    QLabel#WallPage, QLabel#LastRefresh, QLabel#LinkMessage {{ font-size: {pt(13)}; }}
    QLabel#WallPage, QLabel#LastRefresh {{ color: {theme.muted}; }}
    QLabel#LinkState {{ font-size: {pt(13)}; }}
    QLabel#WallClock {{ font-size: {pt(20)}; font-weight: 700;
        font-family: "DejaVu Sans Mono", monospace; }}
    QLabel#ScreenNote {{ font-size: {pt(12)}; color: {theme.warning}; }}
    QLabel#SeatStrip, QLabel#ExerciseStrip {{ font-size: {pt(15)}; }}
    """


class WallBoard(QWidget):
    """Full screen on the screen named `screen_name`: a page for each open
    incident in `incidents` (most severe first), then the feed's tiles.

    Pages turn every `config.page_seconds`; a 1 Hz tick repaints the clock and
    the counters of the incident shown; the store is polled every POLL_MS for
    changes made elsewhere. Needs no input: Esc or Ctrl+Q closes, F11 toggles
    full screen.
    """

    def __init__(
        self,
        feed: HealthFeed,
        theme: Theme,
        zone: tzinfo,
        config: WallConfig,
        clock: MonotonicClock,
        *,
        screen_name: str | None = None,
        keeper: DisplayKeeper | None = None,
        incidents: IncidentFeed | None = None,
        exercise: str = "",
        seats: Callable[[], SeatStatus] | None = None,
    ) -> None:
        """`exercise`, when given, is the scenario being played: a strip on
        every page says EXERCISE so no one in the room takes it for real."""
        super().__init__()
        self.setObjectName("WallBoard")
        self.exercise = exercise
        # The link to the other seats: while it is down, a strip says that
        # what shows is the last known state.
        self.seats = seats
        self.setWindowTitle("MIMDesk wall")
        self.feed, self.theme, self.zone = feed, theme, zone
        self.clock, self.screen_name, self.keeper = clock, screen_name, keeper
        self.config, self.incidents = config, incidents
        self.incident_pages: list[IncidentPage] = []
        # What is on screen: ("incident", its id) or ("health", a grid page).
        self.showing: tuple[str, str | int] = ("health", 0)
        self.shown_ids: set[str] = set()
        self.scale = 0.0
        self.full = True
        self.target: QScreen | None = None
        self.setCursor(Qt.CursorShape.BlankCursor)
        self._build()
        self._shortcuts()
        self.clock_timer = self._timer(TICK_MS, self._on_clock_timer_timeout)
        self.page_timer = self._timer(
            config.page_seconds * 1000, self._on_page_timer_timeout
        )
        self.poll_timer = self._timer(POLL_MS, self._on_poll_timer_timeout)
        if incidents is None:
            self.poll_timer.stop()  # health only: nothing to poll
        feed.state_changed.connect(self._on_feed_state_changed)
        if incidents is not None:
            incidents.changed.connect(self._on_incidents_changed)
        app = QGuiApplication.instance()
        assert isinstance(app, QGuiApplication)
        app.screenAdded.connect(self._on_app_screen_added)
        app.screenRemoved.connect(self._on_app_screen_removed)
        self._rescale(self.width())
        if feed.latest is not None:
            self.show_state(feed.latest)
        self._on_incidents_changed()
        self._on_clock_timer_timeout()

    def _build(self) -> None:
        self.title = QLabel("SERVICE HEALTH")
        self.title.setObjectName("WallTitle")
        self.page = QLabel()
        self.page.setObjectName("WallPage")
        self.source = SourceStatus(self.theme, self.zone)
        self.clock_label = QLabel()
        self.clock_label.setObjectName("WallClock")
        self.clock_label.setAlignment(
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        )
        self.note = QLabel()
        self.note.setObjectName("ScreenNote")
        self.note.hide()
        self.grid = WallGrid(
            self.theme, self.zone, self.config, per_page=self.config.tiles_per_page
        )
        top = QHBoxLayout()
        for widget in (self.title, self.page):
            top.addWidget(widget)
        top.addStretch(1)
        top.addWidget(self.source)
        top.addWidget(self.clock_label)
        self.outer = QVBoxLayout(self)
        self.outer.addLayout(top)
        self.outer.addWidget(self.note)
        if self.exercise:
            strip = QLabel(
                f"EXERCISE \u2014 {self.exercise} \u2014 not a real incident"
            )
            strip.setObjectName("ExerciseStrip")
            strip.setAlignment(Qt.AlignmentFlag.AlignCenter)
            colour = self.theme.exercise
            strip.setStyleSheet(
                f"background:{colour}; color:{ink_on(colour)}; font-weight:bold;"
                "padding:6px;"
            )
            self.outer.addWidget(strip)
        self.seat_strip: WallSeatStrip | None = None
        if self.seats is not None:
            self.seat_strip = WallSeatStrip(
                self.seats, self.theme, self.zone, self.clock.now, self
            )
            self.outer.addWidget(self.seat_strip)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.grid)
        self.outer.addWidget(self.stack, 1)

    def _shortcuts(self) -> None:
        for keys, slot in (
            ("Esc", self.close),
            ("Ctrl+Q", self.close),
            ("F11", self.toggle_full_screen),
        ):
            QShortcut(QKeySequence(keys), self, slot)

    def _timer(self, interval_ms: int, slot: object) -> QTimer:
        timer = QTimer(self)
        timer.setInterval(interval_ms)
        timer.timeout.connect(slot)
        timer.start()
        return timer

    # --- data -----------------------------------------------------------------

    def _on_feed_state_changed(self, state: WallState) -> None:
        self.show_state(state)

    def show_state(self, state: WallState) -> None:
        self.grid.show_state(state)
        for page in self.incident_pages:
            page.show_health(state)
        self.source.show_source(state.source, state.now)
        self._show(self.showing)

    def _on_incidents_changed(self) -> None:
        """Refresh the incident pages; a newly opened incident is shown at once."""
        live = self.incidents.live if self.incidents is not None else []
        while len(self.incident_pages) < len(live):
            self.incident_pages.append(self._make_incident_page())
        for page, item in zip(self.incident_pages, live, strict=False):
            page.show_incident(item)
        ids = [item.incident.id for item in live]
        new = [i for i in ids if i not in self.shown_ids]
        self.shown_ids = set(ids)
        if new:
            self.page_timer.start()  # a full turn on the new incident's page
            self._show(("incident", new[0]))
        else:
            self._show(self.showing)

    def _make_incident_page(self) -> IncidentPage:
        assert self.incidents is not None
        page = IncidentPage(self.theme, self.zone, self.incidents.policies)
        page.set_scale(self.scale)
        page.show_health(self.feed.latest)
        self.stack.addWidget(page)
        return page

    def sequence(self) -> list[tuple[str, str | int]]:
        """The pages in the order they turn: incidents first, then health."""
        live = self.incidents.live if self.incidents is not None else []
        pages: list[tuple[str, str | int]] = [
            ("incident", item.incident.id) for item in live
        ]
        return pages + [("health", n) for n in range(self.grid.pages)]

    def _on_page_timer_timeout(self) -> None:
        pages = self.sequence()
        here = pages.index(self.showing) if self.showing in pages else -1
        self._show(pages[(here + 1) % len(pages)])

    def _show(self, wanted: tuple[str, str | int]) -> None:
        """Show `wanted`, or the first page when it is gone (incident closed)."""
        pages = self.sequence()
        if wanted not in pages:
            wanted = pages[0]
        self.showing = wanted
        kind, key = wanted
        if kind == "incident":
            page = self.incident_pages[pages.index(wanted)]
            page.set_now(self.clock.now())
            self.stack.setCurrentWidget(page)
            self.title.setText("LIVE INCIDENT")
        else:
            self.grid.show_page(int(key))
            self.stack.setCurrentWidget(self.grid)
            self.title.setText("SERVICE HEALTH")
        number = pages.index(wanted) + 1
        text = f"Page {number} of {len(pages)}" if len(pages) > 1 else ""
        hidden = self.incidents.hidden if self.incidents is not None else 0
        if hidden:
            text += f" \u00b7 {hidden} more open incident(s): see the console"
        self.page.setText(text)

    @property
    def incident_page(self) -> IncidentPage | None:
        """The incident page on screen, if one is."""
        current = self.stack.currentWidget()
        return current if isinstance(current, IncidentPage) else None

    def _on_poll_timer_timeout(self) -> None:
        if self.incidents is not None:
            self.incidents.poll()

    def _on_clock_timer_timeout(self) -> None:
        self.clock.check_jump()
        now = self.clock.now()
        text = format_clock(now, self.zone, seconds=True)
        if self.clock_label.text() != text:
            self.clock_label.setText(text)
        page = self.incident_page
        if page is not None:
            page.set_now(now)

    # --- size and type --------------------------------------------------------

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._rescale(event.size().width())

    def _rescale(self, width: int) -> None:
        scale = wall_scale(width)
        if scale == self.scale:
            return
        self.scale = scale
        self.setStyleSheet(wall_stylesheet(self.theme, scale))
        self.grid.set_look(self.theme, scale)
        for page in self.incident_pages:
            page.set_scale(scale)
        self.outer.setContentsMargins(*(round(n * scale) for n in (16, 10, 16, 12)))
        self.outer.setSpacing(round(8 * scale))
        # A fixed width: the ticking clock never moves the layout around it.
        self.clock_label.ensurePolished()
        sample = format_clock(self.clock.now(), self.zone, seconds=True) + "MM"
        self.clock_label.setFixedWidth(
            self.clock_label.fontMetrics().horizontalAdvance(sample)
        )

    # --- screens --------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self.keeper is not None and not self.keeper.how:
            self.keeper.hold(int(self.winId()), "MIMDesk wallboard is showing")

    def open(self) -> None:
        """Go full screen on the chosen screen."""
        self.winId()  # the native window must exist before it can pick a screen
        self.place()

    def place(self, removed: QScreen | None = None) -> None:
        """Fill the wanted screen, or the primary one while it is missing."""
        screens = [s for s in QGuiApplication.screens() if s is not removed]
        primary: QScreen | None = QGuiApplication.primaryScreen()
        if primary is None or primary is removed:
            primary = screens[0] if screens else None
        if primary is None:
            log.warning("no screen to show the wall on; waiting for one")
            return
        names = [s.name() for s in screens]
        name, fallback = choose_screen(names, self.screen_name, primary.name())
        self.target = next(s for s in screens if s.name() == name)
        self._say_fallback(fallback, names)
        handle = self.windowHandle()
        if handle is not None:
            handle.setScreen(self.target)
        self.setGeometry(self.target.geometry())
        if self.full:
            self.showFullScreen()
        else:
            self.showNormal()
        log.info("wall on screen %s (%s)", name, self.target.geometry())

    def _say_fallback(self, fallback: bool, names: list[str]) -> None:
        if fallback:
            text = (
                f"Screen {self.screen_name!r} is not connected (screens: "
                f"{', '.join(names)}); showing on the primary screen until it returns."
            )
            log.warning("%s", text)
            self.note.setText(text)
        self.note.setVisible(fallback)

    def _on_app_screen_added(self, screen: QScreen) -> None:
        if self.screen_name and screen.name() == self.screen_name:
            log.info("screen %s is back; moving the wall to it", screen.name())
            self.place()

    def _on_app_screen_removed(self, screen: QScreen) -> None:
        if screen is self.target:
            log.warning("screen %s was removed; moving the wall", screen.name())
            self.place(removed=screen)

    def toggle_full_screen(self) -> None:
        self.full = not self.isFullScreen()
        self.showFullScreen() if self.full else self.showNormal()

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.clock_timer.isActive():  # closed already
            super().closeEvent(event)
            return
        self.clock_timer.stop()
        self.page_timer.stop()
        self.poll_timer.stop()
        if self.keeper is not None:
            self.keeper.release()
        app = QGuiApplication.instance()
        if isinstance(app, QGuiApplication):
            app.screenAdded.disconnect(self._on_app_screen_added)
            app.screenRemoved.disconnect(self._on_app_screen_removed)
        super().closeEvent(event)
