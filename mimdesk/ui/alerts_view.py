"""The console's Alerts view: Alertmanager groups, firing first, and their alerts."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime, timedelta, tzinfo

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from mimdesk.domain.alert_links import services_for, suggestion
from mimdesk.domain.alerts import AlertRecord, Group, group_ref, summary_of
from mimdesk.domain.catalogue import Catalogue
from mimdesk.domain.times import format_clock, format_duration, format_instant
from mimdesk.ui.alert_feed import AlertFeed
from mimdesk.ui.theme import Theme, ink_on

log = logging.getLogger(__name__)

COLUMNS = ("Group / alert", "Status", "Services", "Started", "Duration", "Seen")
ADVICE_COLUMN = len(COLUMNS)
KEY_ROLE = Qt.ItemDataRole.UserRole
RECORD_ROLE = Qt.ItemDataRole.UserRole + 1
TITLE = "ALERTS \u2014 ENTER ON A GROUP: DECLARE OR ATTACH \u00b7 F3 BACK"
EMPTY = (
    "No alerts yet. Turn on the receiver or the Alertmanager poller (README, "
    "Alerts), or feed a saved payload: mimdesk alerts ingest FILE"
)
ADVICE = {
    "declare": "advice: declare an incident",
    "keep open": "advice: keep open (not all recovered)",
    "mark mitigated": "advice: mark mitigated (all resolved)",
}


def started(instant: datetime, zone: tzinfo) -> str:
    """'2024-05-01 13:00 CEST (11:00 UTC)': the display zone, then UTC."""
    shown = format_instant(instant, zone, seconds=False)
    if shown.endswith(" UTC"):
        return shown
    return f"{shown} ({format_clock(instant, UTC)})"


def group_duration(group: Group, now: datetime) -> timedelta:
    """From the first start to now, or to the last end once all have resolved."""
    start = group.detected_at or now
    ends = [a.ends_at or a.last_seen for a in group.alerts]
    end = now if group.open or not ends else max(ends)
    return max(timedelta(0), end - start)


def alert_duration(record: AlertRecord, now: datetime) -> timedelta:
    return timedelta(seconds=int(record.duration(now)))


def advice(group: Group, incident_id: str | None, notices: tuple[str, ...]) -> str:
    """Following which incident, what might be done (never done here), and what
    the latest delivery said ('+2 alerts not included')."""
    parts = [f"follows {incident_id}"] if incident_id else []
    said = suggestion(group, incident_id)
    parts += [ADVICE[said]] if said else ["all resolved; no incident"]
    parts += list(notices)
    return " \u00b7 ".join(parts)


class AlertsView(QWidget):
    """A tree of groups (firing first) and their alerts, from `feed`; durations
    move on `tick()`. Times in the display zone `zone` and in UTC.

    Signals: group_activated(str) with the group key, on Enter or a double click
    on a group or one of its alerts.
    """

    group_activated = Signal(str)

    def __init__(
        self,
        feed: AlertFeed,
        theme: Theme,
        zone: tzinfo,
        catalogue: Catalogue,
        now: Callable[[], datetime],
    ) -> None:
        super().__init__()
        self.setObjectName("AlertsView")
        self.feed, self._theme, self._zone = feed, theme, zone
        self.catalogue, self.now = catalogue, now
        self.title = QLabel(TITLE)
        self.title.setObjectName("SectionTitle")
        self.empty = QLabel(EMPTY)
        self.empty.setWordWrap(True)
        self.tree = QTreeWidget()
        self.tree.setObjectName("AlertGroups")
        self.tree.setHeaderLabels([*COLUMNS, "Incident / advice"])
        self.tree.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.tree.setUniformRowHeights(True)
        header = self.tree.header()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.tree.itemActivated.connect(self._on_tree_item_activated)
        self.setFocusProxy(self.tree)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.empty)
        layout.addWidget(self.tree, 1)
        feed.alerts_changed.connect(self._on_feed_alerts_changed)
        self.show_groups()

    @property
    def theme(self) -> Theme:
        return self._theme

    @theme.setter
    def theme(self, theme: Theme) -> None:
        """Set by the console when it switches theme: redraw in the new colours."""
        self._theme = theme
        self.show_groups()

    @property
    def zone(self) -> tzinfo:
        return self._zone

    @zone.setter
    def zone(self, zone: tzinfo) -> None:
        self._zone = zone
        self.show_groups()

    # --- drawing --------------------------------------------------------------

    def _on_feed_alerts_changed(self) -> None:
        self.show_groups()

    def show_groups(self) -> None:
        """Redraw every group, keeping the current one chosen."""
        current = self.current_key()
        groups = self.feed.groups
        self.empty.setVisible(not groups)
        self.tree.clear()
        now = self.now()
        for group in groups:
            self.tree.addTopLevelItem(self._group_item(group, now))
        self.tree.expandAll()
        self._choose(current)

    def _group_item(self, group: Group, now: datetime) -> QTreeWidgetItem:
        item = QTreeWidgetItem()
        names = ", ".join(dict.fromkeys(a.name for a in group.alerts))
        item.setText(0, f"{group_ref(group.key)}  {names}")
        item.setToolTip(0, f"Alertmanager group {group.key or '(none: polled)'}")
        font = QFont(item.font(0))
        font.setBold(True)
        item.setFont(0, font)
        status = f"{group.firing} FIRING" if group.open else "RESOLVED"
        self._status(item, f"{status} \u00b7 {group.recovered} recovered", group.open)
        item.setText(2, self._services(group.alerts))
        if group.detected_at is not None:
            item.setText(3, started(group.detected_at, self.zone))
        item.setText(4, format_duration(group_duration(group, now)))
        item.setText(5, f"seen {sum(a.seen for a in group.alerts)}\u00d7")
        notices = self.feed.notices.get(group.key, ())
        item.setText(
            ADVICE_COLUMN, advice(group, self.feed.links.get(group.key), notices)
        )
        item.setToolTip(
            ADVICE_COLUMN, "Advice only: MIMDesk never changes an incident by itself."
        )
        item.setData(0, KEY_ROLE, group.key)
        for record in group.alerts:
            item.addChild(self._alert_item(group.key, record, now))
        return item

    def _alert_item(
        self, key: str, record: AlertRecord, now: datetime
    ) -> QTreeWidgetItem:
        item = QTreeWidgetItem()
        labels = dict(record.labels)
        item.setText(0, summary_of(record))
        item.setToolTip(0, "\n".join(f"{k}={v}" for k, v in sorted(labels.items())))
        self._status(item, record.status.upper(), record.firing)
        item.setText(2, self._services((record,)))
        item.setText(3, started(record.starts_at, self.zone))
        item.setText(4, format_duration(alert_duration(record, now)))
        if record.ends_at is not None:
            item.setToolTip(4, f"ended {started(record.ends_at, self.zone)}")
        item.setText(5, f"seen {record.seen}\u00d7")
        where = labels.get("instance") or labels.get("pod") or ""
        item.setText(ADVICE_COLUMN, f"{record.name} on {where}" if where else "")
        item.setData(0, KEY_ROLE, key)
        item.setData(0, RECORD_ROLE, record)
        return item

    def _status(self, item: QTreeWidgetItem, text: str, firing: bool) -> None:
        """The words, on the colour: FIRING on red, RESOLVED on green."""
        colour = self.theme.danger if firing else self.theme.status_resolved
        item.setText(1, text)
        item.setBackground(1, QBrush(QColor(colour)))
        item.setForeground(1, QBrush(QColor(ink_on(colour))))

    def _services(self, records: tuple[AlertRecord, ...]) -> str:
        ids = services_for(records, self.catalogue.ids, self.catalogue.alert_labels)
        names = _names(self.catalogue, ids)
        return ", ".join(names) if names else "\u2014 (no catalogue service)"

    def tick(self) -> None:
        """Move the durations on (the console calls this every second)."""
        if not self.isVisible():
            return
        now = self.now()
        groups = {g.key: g for g in self.feed.groups}
        for item in self._group_items():
            group = groups.get(str(item.data(0, KEY_ROLE)))
            if group is not None:
                item.setText(4, format_duration(group_duration(group, now)))
            for child in (item.child(c) for c in range(item.childCount())):
                record = child.data(0, RECORD_ROLE) if child else None
                if child is not None and isinstance(record, AlertRecord):
                    child.setText(4, format_duration(alert_duration(record, now)))

    def _group_items(self) -> list[QTreeWidgetItem]:
        found = (
            self.tree.topLevelItem(n) for n in range(self.tree.topLevelItemCount())
        )
        return [item for item in found if item is not None]

    # --- choosing -------------------------------------------------------------

    def current_key(self) -> str | None:
        item = self.tree.currentItem()
        return None if item is None else str(item.data(0, KEY_ROLE))

    def _choose(self, key: str | None) -> None:
        for item in self._group_items():
            if key is None or item.data(0, KEY_ROLE) == key:
                self.tree.setCurrentItem(item)
                return

    def choose_group(self, key: str) -> None:
        self._choose(key)

    def _on_tree_item_activated(self, item: QTreeWidgetItem, _column: int) -> None:
        key = item.data(0, KEY_ROLE)
        if isinstance(key, str):
            self.group_activated.emit(key)


def _names(catalogue: Catalogue, ids: Collection[str]) -> list[str]:
    by_id: Mapping[str, str] = {s.id: s.name for s in catalogue.services}
    return [by_id.get(i, i) for i in ids]
