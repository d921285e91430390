"""The selected incident's timeline, in the order things happened."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import tzinfo

from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QTreeWidget, QTreeWidgetItem

from mimdesk.domain import events as ev
from mimdesk.domain.incident import describe, in_time_order
from mimdesk.domain.times import format_instant
from mimdesk.ui.theme import Theme


class Timeline(QTreeWidget):
    """One row per journal event: when (display zone), who, what.

    `incident_id` says whose events are shown (None: nobody's, or unreadable).
    """

    def __init__(self, theme: Theme, zone: tzinfo) -> None:
        super().__init__()
        self.setObjectName("Timeline")
        self.setAccessibleName("Timeline")
        self.theme, self.zone = theme, zone
        self.incident_id: str | None = None
        self.setColumnCount(3)
        self.setHeaderLabels(["When", "Who", "What"])
        self.setRootIsDecorated(False)
        self.setUniformRowHeights(False)
        self.setWordWrap(True)
        self.setAlternatingRowColors(False)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.header().setStretchLastSection(True)

    def show_events(
        self, events: Sequence[ev.JournalEvent], incident_id: str | None = None
    ) -> None:
        self.clear()
        self.incident_id = incident_id
        items, day = [], None
        for event in in_time_order(events):
            when = format_instant(event.occurred_at, self.zone)
            # The date only where the day changes ('03 Dec'); the rest, time of day.
            shown = (
                when[11:] if when[:10] == day else f"{_short_date(when)} {when[11:]}"
            )
            day = when[:10]
            items.append(self._item(event, shown))
        self.addTopLevelItems(items)
        for column in (0, 1):
            self.resizeColumnToContents(column)
        if items:
            self.scrollToItem(items[-1])

    def show_unreadable(self) -> None:
        """Say the events could not be read, rather than show someone else's."""
        self.clear()
        self.incident_id = None
        item = QTreeWidgetItem(["", "", "This timeline cannot be read from the store."])
        item.setForeground(2, QColor(self.theme.danger))
        self.addTopLevelItem(item)

    def _item(self, event: ev.JournalEvent, when: str) -> QTreeWidgetItem:
        item = QTreeWidgetItem([when, event.actor, describe(event)])
        happened = format_instant(event.occurred_at, self.zone)
        recorded = format_instant(event.recorded_at, self.zone)
        tip = f"{happened}; recorded {recorded} by seat {event.seat}"
        if event.typed_offset:
            tip += f"; typed with offset {event.typed_offset}"
        for column in range(3):
            item.setToolTip(column, tip)
        if event.kind == ev.STATUS_CHANGED:
            colour = self.theme.status_colour(str(event.payload["to"]))
            item.setForeground(2, colour)
        elif event.kind == ev.SEVERITY_CHANGED:
            item.setForeground(2, self.theme.severity_colour(int(event.payload["to"])))
        elif event.kind == ev.INCIDENT_CREATED:
            item.setForeground(2, QColor(self.theme.accent))
        return item


def _short_date(iso_text: str) -> str:
    """'2026-12-03 ...' -> '03 Dec'."""
    _, month, day = iso_text[:10].split("-")
    return f"{day} {_MONTHS[int(month) - 1]}"


_MONTHS = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)
