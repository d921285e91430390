"""Stakeholder-update reminders brought to the operator: banner, beep, tray.

The domain decides when a reminder is due (mimdesk.domain.cadence, field case
C38: one per cadence interval while overdue, none after resolution); this only
announces each one once, on the console's monotonic tick.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from functools import partial

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QApplication, QStyle, QSystemTrayIcon

from mimdesk.domain.cadence import CadenceState, journal_cadence, reminder_to_announce
from mimdesk.domain.events import JournalEvent
from mimdesk.domain.incident import Incident
from mimdesk.ui.banners import BannerStack
from mimdesk.ui.bridge import StoreBridge

log = logging.getLogger(__name__)

# Open incidents whose journals are kept for reminders; more are left unwatched.
# FIXME(reminders): past this many open incidents the rest get no reminder, and
# a reminder for an incident that is not selected cannot be clicked to select
# it; read only the cadence events (a narrower store query) and make the banner
# a link that selects its incident.
MAX_WATCHED = 20
TRAY_MESSAGE_MS = 15_000


def reminder_text(incident_id: str, overdue: timedelta, selected: bool) -> str:
    """'INC-…: stakeholder update overdue by 12 min — Ctrl+U records one'."""
    minutes = int(overdue.total_seconds()) // 60
    late = f"overdue by {minutes} min" if minutes else "due now"
    how = "Ctrl+U records one" if selected else "select it, then Ctrl+U records one"
    return f"{incident_id}: stakeholder update {late} \u2014 {how}"


class ReminderNotifier(QObject):
    """Watches the open incidents' update cadence and announces new reminders.

    `watch(incidents)` after each store read keeps the journals it needs (read
    again only for incidents that changed); `check(now, selected)` on each tick
    raises a dismissable banner, beeps once and, where a system tray exists,
    shows a tray message for each reminder the domain gives that was not
    announced yet. The banner follows the overdue time and goes once the update
    is recorded or the incident resolved.
    """

    def __init__(
        self,
        bridge: StoreBridge,
        timeline: Callable[[str], list[JournalEvent]],
        banners: BannerStack,
        cadence: Mapping[int, timedelta],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.bridge, self.timeline = bridge, timeline
        self.banners, self.cadence = banners, cadence
        self.beep: Callable[[], None] = QApplication.beep
        self.tray: QSystemTrayIcon | None = None
        self.journals: dict[str, tuple[int, Sequence[JournalEvent]]] = {}
        self.announced: dict[str, datetime] = {}
        self.banners.dismissed.connect(self._on_banners_dismissed)

    def watch(self, incidents: Sequence[Incident]) -> None:
        """Keep the journals of the open `incidents`; an unreadable one keeps the
        last read."""
        kept = {}
        for incident in [i for i in incidents if i.is_open][:MAX_WATCHED]:
            known = self.journals.get(incident.id)
            if known is not None and known[0] == incident.last_incident_seq:
                kept[incident.id] = known
                continue
            events = self.bridge.read(partial(self.timeline, incident.id))
            if events is not None:
                kept[incident.id] = (incident.last_incident_seq, events)
            elif known is not None:
                kept[incident.id] = known
        for gone in self.journals.keys() - kept.keys():
            self.banners.clear_alert(_key(gone))
        self.journals = kept

    def check(self, now: datetime, selected: str | None) -> None:
        """Announce what is due at `now` and keep the shown banners current."""
        for incident_id, (_seq, events) in self.journals.items():
            state = journal_cadence(
                events, updates_sent=(), cadence=self.cadence, now=now
            )
            self._check_one(incident_id, state, selected == incident_id)

    def _check_one(self, incident_id: str, state: CadenceState, selected: bool) -> None:
        key = _key(incident_id)
        if state.overdue_by is None:
            self.banners.clear_alert(key)
            return
        text = reminder_text(incident_id, state.overdue_by, selected)
        due = reminder_to_announce(state, self.announced.get(incident_id))
        if due is None:
            self.banners.set_alert_text(key, text)
            return
        self.announced[incident_id] = due
        self._announce(key, text)

    def _announce(self, key: str, text: str) -> None:
        log.info("stakeholder update reminder: %s", text)
        self.banners.raise_alert(key, text, "warning", dismissable=True)
        self.beep()
        self._tray_message(text)

    def _tray_message(self, text: str) -> None:
        if self.tray is None:
            if not QSystemTrayIcon.isSystemTrayAvailable():
                return
            style = QApplication.style()
            icon = style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
            self.tray = QSystemTrayIcon(icon, self)
            self.tray.setToolTip("MIMDesk")
            self.tray.show()
        self.tray.showMessage(
            "Stakeholder update overdue",
            text,
            QSystemTrayIcon.MessageIcon.Warning,
            TRAY_MESSAGE_MS,
        )

    def close(self) -> None:
        if self.tray is not None:
            self.tray.hide()

    def _on_banners_dismissed(self, key: str) -> None:
        if key.startswith(_key("")):
            log.info("reminder dismissed by the operator: %s", key)


def _key(incident_id: str) -> str:
    return f"reminder:{incident_id}"
