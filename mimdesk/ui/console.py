"""The incident manager's console: incident list, selected incident, timeline."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from functools import partial
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence, QResizeEvent
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from mimdesk.clock import MonotonicClock
from mimdesk.domain import roster as roster_model
from mimdesk.domain.catalogue import Catalogue
from mimdesk.domain.directory import Directory
from mimdesk.domain.events import JournalEvent
from mimdesk.domain.impact_view import health_of, impact_summary
from mimdesk.domain.incident import Incident, in_time_order
from mimdesk.domain.lifecycle import ORDER, Status
from mimdesk.domain.regulatory import Regime
from mimdesk.domain.roster import RolePolicy, Roster
from mimdesk.domain.runbooks import Library
from mimdesk.domain.severity import LEVELS
from mimdesk.domain.targets import DEFAULT_POLICY, TargetPolicy
from mimdesk.domain.times import format_clock
from mimdesk.domain.wall import SourceState, WallState
from mimdesk.report import clock_json
from mimdesk.settings import Settings, resolve_zone
from mimdesk.store import backup
from mimdesk.store.journal import IncidentNotFound
from mimdesk.store.store import Store
from mimdesk.ui.actions_panel import ActionsPanel, RecoveryActions
from mimdesk.ui.alert_feed import AlertFeed, AlertIntake
from mimdesk.ui.alerts_dialog import AlertActions
from mimdesk.ui.alerts_view import AlertsView
from mimdesk.ui.banners import BannerStack
from mimdesk.ui.bridge import StoreBridge
from mimdesk.ui.chat_dialogs import ChatActions
from mimdesk.ui.chat_feed import ChatFeed, ChatStatus
from mimdesk.ui.clock_panel import MilestoneClock
from mimdesk.ui.compose import ComposeBar
from mimdesk.ui.console_clock import ClockCommands
from mimdesk.ui.declare_dialog import DeclareDialog
from mimdesk.ui.header import IncidentHeader
from mimdesk.ui.health_feed import HealthFeed
from mimdesk.ui.health_list import HealthList, monitoring_words, summary
from mimdesk.ui.impact_dialog import ImpactActions
from mimdesk.ui.impact_panel import IMPACT_TITLE, ImpactPanel
from mimdesk.ui.incident_list import IncidentList, IncidentListModel
from mimdesk.ui.metrics_view import MetricsAction
from mimdesk.ui.reminders import ReminderNotifier
from mimdesk.ui.report_action import ReportAction
from mimdesk.ui.roster_panel import RosterPanel
from mimdesk.ui.seat_link import SEATS_KEY, SeatButton, SeatsDialog
from mimdesk.ui.theme import THEMES, Theme, apply_theme
from mimdesk.ui.timeline import Timeline
from mimdesk.ui.update_dialog import UpdateActions
from mimdesk.ui.wall_corner import link_words

if TYPE_CHECKING:
    from mimdesk.sync.seat_sync import SeatSync
    from mimdesk.sync.sources import Source
    from mimdesk.ui.exercise_bar import ExerciseMode
    from mimdesk.ui.health_view import HealthView

log = logging.getLogger(__name__)

TICK_MS = 1000
# Type grows with the window past this width, so a wall screen stays readable.
REFERENCE_WIDTH = 1920
ZOOM_STEPS = (0.8, 0.9, 1.0, 1.15, 1.3, 1.5, 1.75, 2.0)
BACKUP_CHECK_TICKS = 300
STORE_LABEL_MIN = 100
ROSTER_REFRESH_TICKS = 15
REPLACED = (
    "The store file was replaced or removed while MIMDesk was running (e.g. by "
    "`mimdesk store restore`). Restart MIMDesk to see the current store; changes "
    "made now would not reach it."
)


@dataclass
class ConsoleContext:
    """What the console shows and writes to, assembled by the application."""

    store: Store
    settings: Settings
    catalogue: Catalogue
    clock: MonotonicClock
    demo: bool = False
    banners: list[tuple[str, str]] = field(default_factory=list)  # (kind, text)
    directory: Directory = field(default_factory=Directory)
    roles: RolePolicy = field(default_factory=RolePolicy)
    targets: TargetPolicy = DEFAULT_POLICY
    regimes: list[Regime] = field(default_factory=list)
    health: HealthFeed | None = None
    alerts: AlertIntake | None = None  # deliveries received by this process
    chat: ChatFeed | None = None  # chat platforms and the outbox, when running
    runbooks: Library = field(default_factory=Library)  # recovery runbooks to offer
    # Opens the Connections dialog over the given window (View → Connections…).
    connections: Callable[[QWidget], object] | None = None
    exercise: ExerciseMode | None = None  # a scenario being played, if any
    # Opens the source automated checks ask; None: the configured monitoring.
    # An exercise's checks ask the scenario's signals, never real Prometheus.
    check_source: Callable[[], Source] | None = None
    seats: SeatSync | None = None  # the link to other seats, when [seats] is on

    def open_check_source(self) -> Source | None:
        """A source for one round of checks, closed by the caller; None when no
        monitoring is configured (outside the demo, checks never ask DEMO)."""
        if self.check_source is not None:
            return self.check_source()
        from mimdesk.sync.sources import source_for_checks  # requests: late

        chosen = source_for_checks(self.settings, demo=self.demo)
        return None if chosen is None else chosen.source


class ConsoleWindow(ClockCommands, QMainWindow):
    """Composes the console's widgets and turns operator actions into commands
    (the clock and bridge ones are ClockCommands')."""

    def __init__(self, ctx: ConsoleContext) -> None:
        super().__init__()
        self.setObjectName("Console")
        self.ctx = ctx
        self.theme: Theme = THEMES.get(ctx.settings.theme, THEMES["dark"])
        self.zone: tzinfo = resolve_zone(ctx.settings.timezone)
        self.bridge = StoreBridge(ctx.store, self)
        self.selected: str | None = None
        self.undo_stack: list[tuple[str, Status, Status]] = []
        self._roster: tuple[Incident | None, Roster] = (None, Roster())
        # The selected incident's events in the order the timeline shows them.
        self._timeline_events: list[JournalEvent] = []
        # The last read the milestone clock is worked out from, on every tick.
        self._clock_read: tuple[Incident, list[JournalEvent]] | None = None
        self.clock_data: dict[str, Any] | None = None
        self.confirm: Callable[[str, str], bool] = self._ask
        # Runs a dialog and says whether it was accepted; tests fill it in instead.
        self.run_dialog: Callable[[QDialog], bool] = self._exec
        self.zoom = 1.0
        self.text_scale = 1.0
        self._read_failed = False
        self.setWindowTitle("MIMDesk")
        self._apply_theme()
        self._build_widgets()
        self._build_menus()
        self._build_status_bar()
        self.exercise_watch: Any = None  # an ExerciseWatch while one plays
        if ctx.exercise is not None:
            self._start_exercise(ctx.exercise)
        self.reminders = ReminderNotifier(
            self.bridge, ctx.store.timeline, self.banners, ctx.targets.cadence, self
        )
        self.bridge.changed.connect(self.reload)
        self.bridge.command_failed.connect(self._on_bridge_command_failed)
        self.bridge.read_failed.connect(self._on_bridge_read_failed)
        self.bridge.file_replaced.connect(self._on_bridge_file_replaced)
        if ctx.chat is not None:
            ctx.chat.messages_read.connect(self._on_chat_messages_read)
        self.timer = QTimer(self)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._on_timer_timeout)
        self.timer.timeout.connect(self.alerts_view.tick)
        self.timer.timeout.connect(self.impact_panel.tick)
        self._ticks = 0
        self._fit_to_screen()
        self.reload()
        self._on_timer_timeout()
        self.timer.start()

    # --- construction ---------------------------------------------------------

    def _build_widgets(self) -> None:
        scale = self.ctx.settings.severity
        self.alert_feed = AlertFeed(
            self.ctx.store, self.bridge, self.ctx.health, self.ctx.alerts, self
        )
        self.list_model = IncidentListModel(self.theme, scale)
        self.incident_list = IncidentList(self.list_model)
        self.incident_list.incident_selected.connect(self._on_list_incident_selected)
        self.header = IncidentHeader(self.theme, scale, self.zone)
        self.header.bridge_open_failed.connect(self._on_header_bridge_open_failed)
        self.clock_panel = MilestoneClock(self.theme, self.zone)
        self.timeline = Timeline(self.theme, self.zone)
        self.compose = ComposeBar()
        self.compose.note_entered.connect(self._on_compose_note_entered)
        self.compose.status_chosen.connect(self.set_status)
        self.error = QLabel()
        self.error.setObjectName("CommandError")
        self.error.setWordWrap(True)
        self.error.hide()
        self.health_list = HealthList(self.theme)
        self.health_list.service_activated.connect(self._on_health_list_activated)
        if self.ctx.health is not None:
            self.health_list.show_state(self.ctx.health.latest)
        self.roster_panel = RosterPanel(self.theme, self.ctx.directory, self.ctx.roles)
        self.roster_panel.roster_action.connect(self._on_roster_panel_roster_action)
        self.actions_panel = ActionsPanel(self.theme, self.zone)
        self.impact_panel = ImpactPanel(
            self.theme, self.zone, self.ctx.catalogue, self.ctx.health,
            self.ctx.clock.now,
        )  # fmt: skip
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.header)
        right_layout.addWidget(self.clock_panel)
        right_layout.addWidget(self._middle(), 3)
        right_layout.addWidget(self.actions_panel, 1)
        right_layout.addWidget(self.error)
        right_layout.addWidget(self.compose)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self._section("INCIDENTS \u2014 OPEN FIRST"))
        left_layout.addWidget(self.incident_list, 3)
        left_layout.addWidget(self._section(IMPACT_TITLE))
        left_layout.addWidget(self.impact_panel)
        left_layout.addWidget(self._section("SERVICE HEALTH \u2014 F2 FOR THE WALL"))
        left_layout.addWidget(self.health_list, 2)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)
        splitter.setSizes([560, 900])
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(10, 8, 10, 6)
        self.banners = BannerStack(self.theme, self._banner_texts(), central)
        layout.addWidget(self.banners)
        self.views = QStackedWidget()
        self.views.addWidget(splitter)
        # The Health view's graphs are built when first shown: they cost more
        # than the rest of the console, and a first look at an incident must
        # not wait for them.
        self._health_view: HealthView | None = None
        self._health_slot = QWidget()
        self.views.addWidget(self._health_slot)
        self.alerts_view = AlertsView(
            self.alert_feed, self.theme, self.zone, self.ctx.catalogue,
            self.ctx.clock.now,
        )  # fmt: skip
        self.alert_actions = AlertActions(self, self.alerts_view, self.alert_feed)
        self.views.addWidget(self.alerts_view)
        layout.addWidget(self.views, 1)
        self.setCentralWidget(central)

    def _middle(self) -> QSplitter:
        """Timeline and bridge roster side by side."""
        middle = QSplitter(Qt.Orientation.Horizontal)
        for title, widget in (
            ("TIMELINE", self.timeline),
            ("BRIDGE", self.roster_panel),
        ):
            column = QWidget()
            layout = QVBoxLayout(column)
            layout.setContentsMargins(0, 0, 0, 0)
            layout.addWidget(self._section(title))
            layout.addWidget(widget, 1)
            middle.addWidget(column)
        middle.setStretchFactor(0, 3)
        middle.setStretchFactor(1, 2)
        return middle

    @staticmethod
    def _section(text: str) -> QLabel:
        label = QLabel(text)
        label.setObjectName("SectionTitle")
        return label

    def _banner_texts(self) -> list[tuple[str, str]]:
        texts = list(self.ctx.banners)
        if self.ctx.demo:
            texts.insert(
                0,
                (
                    "demo",
                    "DEMO DATA \u2014 sample incidents for practice, kept in a "
                    f"separate store ({self.ctx.store.path.parent}). None is real.",
                ),
            )
        return texts

    def _action(
        self, menu: Any, text: str, shortcut: str | None, slot: Callable[[], object]
    ) -> QAction:
        action = QAction(text, self)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(lambda _checked=False: slot())
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        incident = bar.addMenu("&Incident")
        self.declare_action = self._action(
            incident, "&Declare incident\u2026", "Ctrl+N", self.declare
        )
        self._action(incident, "Add &note", "Ctrl+L", self._focus_note)
        self._add_update_actions(incident)
        self.update_actions = UpdateActions(self, incident, impact=self._impact_now)
        incident.addSeparator()
        self._action(incident, "&Bridge roster: person", "Ctrl+J", self._focus_roster)
        self._add_bridge_actions(incident)
        self.impact_actions = ImpactActions(self, incident)
        self.recovery_actions = RecoveryActions(self, incident)
        self.report_action = ReportAction(self, incident)
        incident.addSeparator()
        self.undo_action = self._action(
            incident, "&Undo last status change", "Ctrl+Z", self.undo
        )
        incident.addSeparator()
        self._action(incident, "&Refresh", "F5", self.reload)
        self._action(incident, "&Quit", "Ctrl+Q", self.close)
        status = bar.addMenu("&Status")
        self.status_actions = {}
        for number, target in enumerate(ORDER, start=1):
            self.status_actions[target] = self._action(
                status,
                target.label,
                f"Ctrl+{number}",
                partial(self.set_status, target),
            )
        severity = bar.addMenu("Se&verity")
        self.severity_actions = [
            self._action(
                severity,
                self.ctx.settings.severity.name(level),
                f"Ctrl+Shift+{level}",
                partial(self.set_severity, level),
            )
            for level in LEVELS
        ]
        chat = bar.addMenu("&Chat")
        self.chat_actions = ChatActions(self, self.ctx.chat, chat)
        view = bar.addMenu("&View")
        self._action(
            view, "Toggle &light/dark theme", "Ctrl+Shift+T", self.toggle_theme
        )
        self._action(
            view,
            "Show times in &UTC / configured zone",
            "Ctrl+Shift+U",
            self.toggle_zone,
        )
        self._action(view, "&Full screen", "F11", self.toggle_full_screen)
        self.metrics_action = MetricsAction(self, view)
        health = self._action(view, "&Health view", "F2", self.toggle_health)
        health.setShortcuts([QKeySequence("F2"), QKeySequence("Ctrl+H")])
        alerts = self._action(view, "&Alerts view", "F3", self.toggle_alerts)
        alerts.setShortcuts([QKeySequence("F3"), QKeySequence("Ctrl+Shift+A")])
        view.addSeparator()
        self._action(view, "&Larger text", "Ctrl+=", partial(self.zoom_by, 1))
        self._action(view, "&Smaller text", "Ctrl+-", partial(self.zoom_by, -1))
        self._action(view, "&Normal text size", "Ctrl+0", partial(self.zoom_by, 0))
        if self.ctx.connections is not None:
            view.addSeparator()
            self._action(
                view, "&Connections\u2026", None, partial(self.ctx.connections, self)
            )
        if self.ctx.seats is not None:
            self._action(view, "S&eats\u2026", SEATS_KEY, self.show_seats)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        read_only = " (READ-ONLY)" if self.ctx.store.read_only else ""
        self.store_label = QLabel(f"Store{read_only}: {self.ctx.store.path}")
        self.store_label.setObjectName("StorePath")
        self.store_label.setToolTip(self.store_label.text())
        # The path gives way first when the bar is full: chat and alert states
        # matter more at a glance, and the whole path is in the tooltip.
        self.store_label.setMinimumWidth(STORE_LABEL_MIN)
        self.connection_label = QLabel("Monitoring: not started")
        self.connection_label.setObjectName("ConnectionState")
        self.zone_label = QLabel()
        self.clock_label = QLabel()
        feed = self.ctx.health
        self.health_button = QPushButton(summary(feed.latest if feed else None))
        self.health_button.setObjectName("HealthSummary")
        self.health_button.setFlat(True)
        self.health_button.setToolTip("Health view (F2 or Ctrl+H)")
        self.health_button.clicked.connect(self._on_health_button_clicked)
        if feed is not None:
            feed.state_changed.connect(self._on_health_state_changed)
            self.connection_label.setText(monitoring_words(feed.latest))
        bar.addPermanentWidget(self.health_button)
        # Shown once an Alertmanager poller reports; says when it cannot reach it.
        self.alerts_label = QLabel()
        self.alerts_label.setObjectName("AlertmanagerState")
        self.alerts_label.hide()
        if self.ctx.alerts is not None:
            self.ctx.alerts.poller_state_changed.connect(self._on_alerts_poller_state)
        self.chat_status: ChatStatus | None = None
        if self.ctx.chat is not None:
            self.chat_status = ChatStatus(
                self.ctx.chat, self.theme, self.zone, self.ctx.clock.now, bar
            )
            self.chat_status.outbox_clicked.connect(self.chat_actions.show_outbox)
            bar.addPermanentWidget(self.chat_status)
        self.seat_button: SeatButton | None = None
        if self.ctx.seats is not None:
            self.seat_button = SeatButton(
                self.ctx.seats.status, self.theme, self.zone, self.ctx.clock.now, bar
            )
            self.seat_button.clicked.connect(self.show_seats)
            bar.addPermanentWidget(self.seat_button)
            # What this seat records goes to the others without waiting a round.
            self.bridge.changed.connect(self.ctx.seats.wake)
        for widget in (
            self.alerts_label,
            self.store_label,
            self.connection_label,
            self.zone_label,
            self.clock_label,
        ):
            bar.addPermanentWidget(widget)

    # --- refresh --------------------------------------------------------------

    def reload(self) -> None:
        """Re-read the list and the selected incident; keep the last read on failure."""
        self._read_failed = False
        incidents = self.bridge.read(self.ctx.store.incidents)
        if incidents is not None:
            self._show_incidents(incidents)
            self.reminders.watch(incidents)
        self._show_selected()
        if not self._read_failed:
            self.banners.clear_alert("read")

    def _show_incidents(self, incidents: list[Incident]) -> None:
        self.list_model.set_incidents(incidents, self.ctx.clock.now())
        open_count = sum(1 for i in incidents if i.is_open)
        demo = " [DEMO]" if self.ctx.demo else ""
        demo = " [EXERCISE]" if self.ctx.exercise else demo
        self.setWindowTitle(f"MIMDesk{demo} \u2014 {open_count} open incident(s)")
        if self.selected is None and incidents:
            self.selected = incidents[0].id
        if self.selected is not None:
            self.incident_list.select_incident(self.selected)

    def _show_selected(self) -> None:
        incident = self._read_selected()
        now = self.ctx.clock.now()
        self.header.show_incident(incident)
        self.header.set_now(now)
        events = self._show_timeline(incident)
        self.impact_panel.show_incident(incident, events)
        self._show_roster(incident, events)
        self.recovery_actions.show(incident, events)
        self._keep_clock_read(incident, events)
        self._show_clock(now)
        self._enable_writing()

    def _read_selected(self) -> Incident | None:
        """The selected incident from the store, or as last listed if unreadable."""
        if self.selected is None:
            return None
        try:
            found = self.bridge.read(partial(self.ctx.store.incident, self.selected))
        except IncidentNotFound:
            self.selected = None
            return None
        return found if found is not None else self._last_listed(self.selected)

    def _last_listed(self, incident_id: str) -> Incident | None:
        row = self.list_model.row_of(incident_id)
        return None if row is None else self.list_model.incident(row)

    def _show_timeline(self, incident: Incident | None) -> list[JournalEvent] | None:
        """Show the incident's events and return them (None if unreadable)."""
        if incident is None:
            self.timeline.show_events([])
            return None
        events = self.bridge.read(partial(self.ctx.store.timeline, incident.id))
        if events is not None:
            chosen = self.selected_event()
            self._timeline_events = in_time_order(events)
            self.timeline.show_events(events, incident.id)
            if chosen is not None and chosen.incident_id == incident.id:
                self._select_event(chosen.id)
        elif self.timeline.incident_id != incident.id:
            self._timeline_events = []
            self.timeline.show_unreadable()
        return events

    def timeline_events(self) -> list[JournalEvent]:
        """The selected incident's events as the timeline shows them."""
        return self._timeline_events if self.timeline.incident_id else []

    def selected_event(self) -> JournalEvent | None:
        """The event of the timeline row selected, if one is."""
        item = self.timeline.currentItem()
        if item is None or not item.isSelected():
            return None
        row = self.timeline.indexOfTopLevelItem(item)
        events = self.timeline_events()
        return events[row] if 0 <= row < len(events) else None

    def _select_event(self, event_id: str) -> None:
        """Keep a row selected across a re-read (a message arriving, a tick)."""
        ids = [e.id for e in self._timeline_events]
        item = (
            self.timeline.topLevelItem(ids.index(event_id)) if event_id in ids else None
        )
        if item is not None:
            self.timeline.setCurrentItem(item)

    def _keep_clock_read(
        self, incident: Incident | None, events: list[JournalEvent] | None
    ) -> None:
        """Keep what the clock ticks from; an unreadable journal keeps the last."""
        self.clock_panel.setVisible(incident is not None)
        last = self._clock_read
        if incident is not None and events is not None:
            self._clock_read = (incident, events)
        elif incident is not None and last is not None and last[0].id == incident.id:
            self._clock_read = (incident, last[1])
        else:
            self._clock_read = None

    def _show_clock(self, now: datetime) -> None:
        """Work the clock out from the last read at `now`: no store read here."""
        read, ctx = self._clock_read, self.ctx
        self.clock_data = (
            None
            if read is None
            else clock_json(read[0], read[1], ctx.targets, ctx.regimes, now)
        )
        self.clock_panel.show_clock(self.clock_data, now)

    def _show_roster(
        self, incident: Incident | None, events: list[JournalEvent] | None
    ) -> None:
        """Fold the roster from the events the timeline just read (no second read);
        an unreadable journal keeps the roster last shown for the same incident."""
        last_incident, last_roster = self._roster
        if incident is not None and events is not None:
            roster = roster_model.of_timeline(events)
        elif incident is not None and last_incident and last_incident.id == incident.id:
            roster = last_roster
        else:
            roster = Roster()
        self._roster = (incident, roster)
        self.roster_panel.show_roster(incident, roster, self.ctx.clock.now())
        self._show_mobilisation(incident, roster)

    @property
    def roster(self) -> Roster:
        """The selected incident's bridge roster, as last folded."""
        return self._roster[1]

    @property
    def writable(self) -> bool:
        """False for a read-only store and once the file was swapped underneath."""
        return not self.ctx.store.read_only and not self.bridge.replaced

    def _impact_now(self, incident: Incident) -> dict[str, Any]:
        """The business impact a stakeholder update reports, as shown now."""
        panel = self.impact_panel
        return impact_summary(
            panel.current_catalogue(), health_of(panel.state), incident,
            self.timeline_events(), self.ctx.clock.now(),
        )  # fmt: skip

    def _enable_writing(self) -> None:
        incident, writable = self.header.incident, self.writable
        self.compose.show_status(incident.status if incident and writable else None)
        actions = [self.declare_action, self.undo_action, *self.severity_actions]
        for action in [*actions, *self.status_actions.values()]:
            action.setEnabled(writable)
        chosen = writable and incident is not None
        for action in (self.update_action, self.bridge_action):
            action.setEnabled(chosen)
        self.report_menu.menuAction().setEnabled(chosen)
        self.open_bridge_action.setEnabled(bool(incident and incident.bridge_url))
        self.roster_panel.set_writable(chosen)
        self.chat_actions.enable(chosen)
        self.update_actions.enable(chosen)
        self.impact_actions.enable(chosen)
        self.recovery_actions.enable(chosen)

    def _on_bridge_read_failed(self, reason: str) -> None:
        self._read_failed = True
        self.banners.raise_alert(
            "read",
            f"Part of the store cannot be read ({reason}). What is shown may be "
            f"incomplete. {self._restore_hint()}",
        )

    def _restore_hint(self) -> str:
        if any(kind == "danger" for kind, _ in self.ctx.banners):
            return "The banner above says which backup, if any, to restore."
        latest = backup.latest_backup(self.ctx.store.backups)
        if latest is None:
            return "Close MIMDesk and check it with `mimdesk store check`."
        return (
            "Close MIMDesk, then restore the newest backup with "
            f"`mimdesk store restore {latest}`."
        )

    def _on_bridge_file_replaced(self) -> None:
        self.banners.raise_alert("replaced", REPLACED)
        self._enable_writing()

    def _on_list_incident_selected(self, incident_id: str) -> None:
        if incident_id != self.selected:
            self.selected = incident_id
            self._clear_error()
            self._show_selected()

    def _on_timer_timeout(self) -> None:
        clock = self.ctx.clock
        step = clock.check_jump()
        if step is not None:
            self.show_message(
                f"The system clock was stepped by {step.total_seconds():+.0f} s; "
                "timers were re-anchored."
            )
        now = clock.now()
        self.header.set_now(now)
        self._show_clock(now)
        self.reminders.check(now, self.selected)
        self.list_model.set_now(now)
        self.clock_label.setText(format_clock(now, self.zone, seconds=True))
        self.zone_label.setText(f"Zone: {getattr(self.zone, 'key', None) or self.zone}")
        self.bridge.poll()
        self._ticks += 1
        if self._ticks % ROSTER_REFRESH_TICKS == 0:
            self.roster_panel.show_roster(*self._roster, now)  # waiting times move
        if self._ticks % BACKUP_CHECK_TICKS == 0:
            self._backup_if_due()

    def _backup_if_due(self) -> None:
        if not self.writable:  # a backup of a swapped-out file would mislead
            return
        future = self.ctx.store.backup_if_due()
        if future is not None:
            self.bridge.run(future, lambda path: log.info("backup written: %s", path))

    # --- commands -------------------------------------------------------------

    def _command(
        self,
        submit: Callable[[], Future[Any]],
        on_done: Callable[[Any], None] | None = None,
    ) -> None:
        """Submit a store command if writing is allowed; success clears the error."""
        if not self.writable:
            self.show_error(f"Not recorded: {self._why_not_writable()}")
            return
        self.bridge.run(submit(), partial(self._on_command_done, on_done))

    def _why_not_writable(self) -> str:
        if self.bridge.replaced:
            return "the store file was replaced or removed; restart MIMDesk."
        return "the store is open read-only."

    def _on_command_done(
        self, on_done: Callable[[Any], None] | None, result: object
    ) -> None:
        self._clear_error()
        if on_done is not None:
            on_done(result)

    def declare(self) -> None:
        dialog = DeclareDialog(
            self.ctx.catalogue,
            self.ctx.settings.severity,
            self.zone,
            self.ctx.clock,
            self,
        )
        if self.run_dialog(dialog):
            self.submit_declaration(dialog)
        dialog.deleteLater()

    def submit_declaration(self, dialog: DeclareDialog) -> None:
        declaration = dialog.declaration()
        known = self.ctx.catalogue.ids
        submit = partial(
            self.ctx.store.declare,
            title=declaration.title,
            severity=declaration.severity,
            services=declaration.services,
            detected_at=declaration.detected.utc,
            typed_offset=declaration.detected.typed_offset,
            actor=self.ctx.settings.operator,
            known_services=known,
            exercise=self.ctx.exercise is not None,
        )
        self._command(submit, self._on_declared)

    def _start_exercise(self, mode: ExerciseMode) -> None:
        """The EXERCISE banners, and a menu to end the exercise early or write
        its debrief again."""
        from mimdesk.ui.exercise_bar import ExerciseWatch

        watch = ExerciseWatch(mode, self.banners, self.show_message, self)
        self.exercise_watch = watch
        menu = self.menuBar().addMenu("E&xercise")
        self._action(menu, "&End the exercise now", "Ctrl+Shift+E", watch.end_now)
        self._action(menu, "Write the &debrief again", None, watch.write_debrief)

    def _on_declared(self, incident_id: str) -> None:
        self.selected = incident_id
        self.show_message(f"{incident_id} declared")
        self.recovery_actions.declared(incident_id)

    def _on_compose_note_entered(self, text: str) -> None:
        if self.selected is None:
            return
        submit = partial(
            self.ctx.store.add_note,
            self.selected,
            text,
            actor=self.ctx.settings.operator,
        )
        self._command(submit, lambda _events: self.compose.note_saved())

    def set_status(self, target: Status, *, reason: str | None = None) -> None:
        incident = self.header.incident
        if incident is None:
            return
        if target == incident.status:
            self.show_error(f"{incident.id} is already {target.value}")
            return
        if target.rank < incident.status.rank and reason is None:
            question = (
                f"Reopen {incident.id} from {incident.status.value} back to "
                f"{target.value}? The reopening is recorded in the timeline."
            )
            if not self.confirm("Reopen incident", question):
                return
            reason = "reopened from the console"
        previous = incident.status
        submit = partial(
            self.ctx.store.change_status,
            incident.id,
            target,
            actor=self.ctx.settings.operator,
            reason=reason,
        )
        self._command(
            submit, lambda _e: self._on_status_set(incident.id, previous, target)
        )

    def _on_status_set(
        self, incident_id: str, previous: Status, target: Status
    ) -> None:
        self.undo_stack.append((incident_id, previous, target))
        self.show_message(
            f"{incident_id}: {previous.value} \u2192 {target.value} (Ctrl+Z undoes)"
        )
        self.recovery_actions.changed(incident_id)

    def undo(self) -> None:
        """Undo the last status change made here, by recording the way back."""
        while self.undo_stack:
            incident_id, previous, target = self.undo_stack.pop()
            read = partial(self.ctx.store.incident, incident_id)
            try:
                incident = self.bridge.read(read)
            except IncidentNotFound:
                continue
            if incident is None:  # unreadable just now: keep it for another try
                self.undo_stack.append((incident_id, previous, target))
                return
            if incident.status == target:
                self._undo_status(incident_id, previous, target)
                return
        self.show_message("Nothing to undo")

    def _undo_status(self, incident_id: str, previous: Status, target: Status) -> None:
        submit = partial(
            self.ctx.store.change_status,
            incident_id,
            previous,
            actor=self.ctx.settings.operator,
            reason=f"undo of {previous.value} \u2192 {target.value}",
            undo=True,  # a mistake taken back, not a reopening
        )
        self._command(submit, lambda _e: self.show_message("status change undone"))

    def set_severity(self, level: int) -> None:
        if self.selected is None:
            return
        submit = partial(
            self.ctx.store.change_severity,
            self.selected,
            level,
            actor=self.ctx.settings.operator,
        )
        chosen = self.selected
        self._command(submit, lambda _e: self.recovery_actions.changed(chosen))

    # --- view -----------------------------------------------------------------

    def toggle_theme(self) -> None:
        self.theme = THEMES["light" if self.theme.name == "dark" else "dark"]
        self._apply_theme()
        for widget in (
            self.list_model,
            self.header,
            self.timeline,
            self.roster_panel,
            self.clock_panel,
            self.alerts_view,
            self.impact_panel,
        ):
            widget.theme = self.theme
        self.banners.set_theme(self.theme)
        if self._health_view is not None:
            self._health_view.set_look(self.theme, self.text_scale)
        self.health_list.set_theme(self.theme)
        self._chat_look()
        if self.ctx.health is not None:
            self.health_list.show_state(self.ctx.health.latest)
        self._style_error()
        self.reload()

    def _fit_to_screen(self) -> None:
        """Open at 90% of the screen (at least 1480x900 where there is room)."""
        screen = QApplication.primaryScreen()
        room = screen.availableGeometry() if screen else None
        if room is None or room.width() < 1480:
            self.resize(1480, 900)
            return
        self.resize(int(room.width() * 0.9), int(room.height() * 0.9))

    def _apply_theme(self) -> None:
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, self.theme, self.text_scale)

    def _rescale(self) -> None:
        """Type size follows the zoom and, on screens past 1920 px, the width."""
        by_width = max(1.0, self.width() / REFERENCE_WIDTH)
        scale = round(self.zoom * by_width * 4) / 4
        if scale != self.text_scale:
            self.text_scale = scale
            self._apply_theme()
            self.clock_panel.set_scale(scale)
            if self._health_view is not None:
                self._health_view.set_look(self.theme, scale)
            # Column widths depend on the font: size them once it has applied.
            QTimer.singleShot(0, self._show_selected)

    def zoom_by(self, steps: int) -> None:
        index = ZOOM_STEPS.index(self.zoom) if self.zoom in ZOOM_STEPS else 2
        index = min(max(index + steps, 0), len(ZOOM_STEPS) - 1)
        self.zoom = ZOOM_STEPS[index] if steps else 1.0
        self._rescale()
        self.show_message(f"Text size {self.zoom:.0%}")

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._rescale()

    def toggle_zone(self) -> None:
        configured = resolve_zone(self.ctx.settings.timezone)
        self.zone = UTC if self.zone is not UTC else configured
        self.header.zone = self.timeline.zone = self.clock_panel.zone = self.zone
        self.alerts_view.zone = self.impact_panel.zone = self.zone
        self._chat_look()
        self.reload()
        self._on_timer_timeout()

    @property
    def health_view(self) -> HealthView:
        """The Health view, built on first use (index 1 of the views)."""
        if self._health_view is None:
            from mimdesk.ui.health_view import HealthView

            view = HealthView(
                self.ctx.health, self.theme, self.zone, self.ctx.catalogue.wall
            )
            view.set_look(self.theme, self.text_scale)
            current = self.views.currentIndex()
            self.views.insertWidget(1, view)
            self.views.removeWidget(self._health_slot)
            self._health_slot.deleteLater()
            self.views.setCurrentIndex(current)
            self._health_view = view
        return self._health_view

    def toggle_health(self) -> None:
        """Switch between the incident views and the Health view (F2, Ctrl+H)."""
        if self.views.currentIndex() == 1:
            self.views.setCurrentIndex(0)
        else:
            self.views.setCurrentWidget(self.health_view)

    def toggle_alerts(self) -> None:
        """Switch between the incident views and the Alerts view (F3, Ctrl+Shift+A)."""
        if self.views.currentWidget() is self.alerts_view:
            self.views.setCurrentIndex(0)
            return
        self.views.setCurrentWidget(self.alerts_view)
        self.alerts_view.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def _on_health_button_clicked(self) -> None:
        self.toggle_health()

    def _on_alerts_poller_state(self, state: SourceState) -> None:
        words, _ = link_words(state)
        text = f"Alertmanager: {words}"
        if state.message and words != "CONNECTED":
            text += f" \u2014 {state.message}"
        self.alerts_label.setText(text)
        self.alerts_label.setToolTip(f"{state.name}: {state.message or words}")
        self.alerts_label.show()

    def _chat_look(self) -> None:
        if self.chat_status is not None:
            self.chat_status.set_look(self.theme, self.zone)
        if self.seat_button is not None:
            self.seat_button.set_look(self.theme, self.zone)
        self.chat_actions.set_look(self.theme, self.zone)

    def _on_chat_messages_read(self, _count: int) -> None:
        self.bridge.poll()  # show them now, not at the next tick

    def _on_health_state_changed(self, state: WallState) -> None:
        self.health_button.setText(summary(state))
        self.health_list.show_state(state)
        self.connection_label.setText(monitoring_words(state))

    def _on_health_list_activated(self, service_id: str) -> None:
        self.views.setCurrentWidget(self.health_view)

    def toggle_full_screen(self) -> None:
        self.showNormal() if self.isFullScreen() else self.showFullScreen()

    def _focus_roster(self) -> None:
        self.roster_panel.person.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def _focus_note(self) -> None:
        self.compose.note.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def show_message(self, text: str) -> None:
        self.statusBar().showMessage(text, 10_000)

    def show_seats(self) -> None:
        """The Seats window: who was heard from when, what was refused."""
        if self.ctx.seats is None:
            return
        refused = self.bridge.read(self.ctx.store.refused_remote) or []
        dialog = SeatsDialog(
            self.ctx.store.seat, self.ctx.seats.status(), refused, self.zone,
            self.ctx.clock.now(), self,
        )  # fmt: skip
        self.run_dialog(dialog)

    def show_error(self, text: str) -> None:
        self.error.setText(f"\u26a0 {text}")
        self._style_error()
        self.error.show()
        self.statusBar().showMessage(text, 15_000)

    def _style_error(self) -> None:
        self.error.setStyleSheet(
            f"color:{self.theme.danger}; font-weight:600; padding:4px;"
        )

    def _clear_error(self) -> None:
        self.error.hide()

    def _on_bridge_command_failed(self, text: str) -> None:
        self.show_error(text)

    def _on_header_bridge_open_failed(self, text: str) -> None:
        self.show_error(text)

    @staticmethod
    def _exec(dialog: QDialog) -> bool:
        return dialog.exec() == QDialog.DialogCode.Accepted

    def _ask(self, title: str, question: str) -> bool:
        answer = QMessageBox.question(self, title, question)
        return answer == QMessageBox.StandardButton.Yes

    def closeEvent(self, event: QCloseEvent) -> None:
        self.timer.stop()
        if self.exercise_watch is not None:
            self.exercise_watch.stop()
        if self.chat_actions.outbox_dialog is not None:
            self.chat_actions.outbox_dialog.close()
        self.reminders.close()
        super().closeEvent(event)
