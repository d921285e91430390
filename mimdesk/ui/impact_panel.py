"""The console's business impact panel for the selected incident: customers and
revenue at risk, each business service's level, and why.

What it shows is worked out by `mimdesk.domain.impact.incident_impact`, the
function behind `mimdesk impact ID`, from the incident's journal (its overrides)
and the health feed's latest state; this module lays it out and remembers when
this seat first saw each business service hurt.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, tzinfo

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QHeaderView,
    QLabel,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
)

from mimdesk.domain.catalogue import Catalogue
from mimdesk.domain.events import JournalEvent
from mimdesk.domain.impact import (
    BusinessImpact,
    ImpactReport,
    Level,
    Sightings,
    incident_impact,
    sighted,
)
from mimdesk.domain.impact_override import overrides_of
from mimdesk.domain.impact_view import count_text, empty_text, health_of, money_text
from mimdesk.domain.incident import Incident
from mimdesk.domain.times import format_clock, format_instant
from mimdesk.domain.wall import WallState
from mimdesk.ui.clock_panel import Cell, paint
from mimdesk.ui.health_feed import HealthFeed
from mimdesk.ui.theme import Theme, ink_on

IMPACT_TITLE = "BUSINESS IMPACT OF THE SELECTED INCIDENT \u2014 CTRL+I OVERRIDES"
HINT = "Ctrl+I overrides the selected business service's impact, with a reason."
NO_CATALOGUE = (
    "The catalogue names no business services, so no impact can be worked out: "
    "add [[business_service]] and [[segment]] tables (README, Business impact)."
)
# Rows shown before the table scrolls: the incident list and the health list
# around it keep their room.
MAX_ROWS = 5
LEVEL_COLOURS = {
    Level.DOWN: "danger",
    Level.DEGRADED: "warning",
    Level.UNKNOWN: "muted",
    Level.NONE: "status_resolved",
}


def level_cell(item: BusinessImpact) -> Cell:
    """The level in words and colour; an override says so."""
    text = item.level.label + (" (override)" if item.override else "")
    filled = item.level.impacted
    return Cell(text, LEVEL_COLOURS[item.level], "badge" if filled else "outline")


def when(instant: datetime, zone: tzinfo, now: datetime) -> str:
    """'13:13 UTC' today, with the date on another day."""
    if format_instant(instant, zone)[:10] == format_instant(now, zone)[:10]:
        return format_clock(instant, zone)
    return format_instant(instant, zone, seconds=False)


def totals_text(report: ImpactReport, zone: tzinfo, now: datetime) -> str:
    """'1.32 M customers affected · EUR 69.5 k/h at risk · EUR 54.5 k since 13:13'."""
    parts = [f"{count_text(report.customers_affected)} customers affected"]
    if report.revenue_per_hour:
        parts.append(f"{money_text(report.revenue_per_hour, True)} at risk")
    if report.running_cost and report.since is not None:
        since = when(report.since, zone, now)
        parts.append(f"{money_text(report.running_cost)} since {since}")
    if report.customers_unknown:
        parts.append(f"unknown for {count_text(report.customers_unknown)} more")
    return " \u00b7 ".join(parts)


class _LevelDelegate(QStyledItemDelegate):
    """Draws the level cell as if unselected, so its colour always shows."""

    def initStyleOption(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        super().initStyleOption(option, index)
        option.state &= ~QStyle.StateFlag.State_Selected


class ImpactPanel(QFrame):
    """Shows one incident's business impact; holds only the last read.

    `show_incident` after each store read, `tick` on the console's clock: the
    report is worked out again from the last read and the latest health, with
    no store access. `report` is what is on screen.
    """

    def __init__(
        self,
        theme: Theme,
        zone: tzinfo,
        catalogue: Catalogue,
        health: HealthFeed | None,
        now: Callable[[], datetime],
    ) -> None:
        super().__init__()
        self.setObjectName("ImpactPanel")
        self.setAccessibleName("Business impact")
        self.theme, self.zone, self.catalogue = theme, zone, catalogue
        self.health, self._now = health, now
        self.incident: Incident | None = None
        self._events: Sequence[JournalEvent] = ()
        self.report: ImpactReport | None = None
        self._sightings: dict[str, Sightings] = {}
        self._build()
        if health is not None:
            health.state_changed.connect(self._on_health_state_changed)

    def _build(self) -> None:
        self.totals = QLabel()
        self.totals.setObjectName("ImpactTotals")
        self.totals.setWordWrap(True)
        self.table = QTreeWidget()
        self.table.setObjectName("ImpactTable")
        self.table.setHeaderLabels(["Impact", "Business service", "Customers", "Since"])
        self.table.setRootIsDecorated(False)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.itemSelectionChanged.connect(self._on_table_selection_changed)
        self.table.setItemDelegateForColumn(0, _LevelDelegate(self.table))
        header = self.table.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        for column in (0, 2, 3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.detail = QLabel()
        self.detail.setObjectName("ImpactWhy")
        self.detail.setWordWrap(True)
        self.detail.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
        )
        self.setToolTip(HINT)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.totals)
        layout.addWidget(self.table)
        layout.addWidget(self.detail)
        layout.addStretch(1)

    # --- data -----------------------------------------------------------------

    @property
    def state(self) -> WallState | None:
        return self.health.latest if self.health is not None else None

    def current_catalogue(self) -> Catalogue:
        """The catalogue the health feed reloaded last, else the one given."""
        state = self.state
        return state.catalogue if state and state.catalogue.services else self.catalogue

    def show_incident(
        self, incident: Incident | None, events: Sequence[JournalEvent] | None
    ) -> None:
        """The selected incident and its journal; None events (unreadable) keeps
        the last read of the same incident."""
        if events is not None:
            self._events = tuple(events)
        elif (
            incident is None or self.incident is None or incident.id != self.incident.id
        ):
            self._events = ()
        self.incident = incident
        self.tick()

    def _on_health_state_changed(self, _state: WallState) -> None:
        self.tick()

    def tick(self) -> None:
        """Work the report out again at the clock's now."""
        self._style()
        now = self._now()
        incident = self.incident
        if incident is None:
            self.report = None
            self._show_nothing("No incident selected.")
            return
        catalogue = self.current_catalogue()
        report = incident_impact(
            catalogue,
            health_of(self.state),
            incident,
            overrides_of(self._events),
            now,
            self._sightings.get(incident.id),
        )
        if incident.is_open and self.state is not None:
            seen = self._sightings.get(incident.id, Sightings())
            self._sightings[incident.id] = sighted(seen, report, now)
        self.report = report
        if not catalogue.business_services:
            self._show_nothing(NO_CATALOGUE)
        else:
            self._show_report(report, now)

    # --- drawing --------------------------------------------------------------

    def _style(self) -> None:
        """Rows in the console's panel colours (the theme may have changed)."""
        t = self.theme
        sheet = (
            f"QTreeWidget#ImpactTable {{ background: {t.panel}; "
            f"border: 1px solid {t.border}; border-radius: 6px; }}"
            f"QTreeWidget#ImpactTable::item {{ padding: 3px 2px; }}"
            f"QTreeWidget#ImpactTable::item:selected {{ background: {t.raised}; "
            f"color: {t.text}; }}"
        )
        if self.table.styleSheet() != sheet:
            self.table.setStyleSheet(sheet)

    def _show_nothing(self, text: str) -> None:
        paint(self.totals, Cell(text, "muted"), self.theme)
        self.table.clear()
        self.table.hide()
        self.detail.hide()

    def _show_report(self, report: ImpactReport, now: datetime) -> None:
        t = self.theme
        if not report.business:
            text = empty_text(report)
            if self.state is None and report.incident and report.incident.is_open:
                text += " (No health yet: only overrides count.)"
            self._show_nothing(text)
            return
        look = "bold" if report.impacted else "plain"
        colour = "text" if report.impacted else "muted"
        paint(self.totals, Cell(totals_text(report, self.zone, now), colour, look), t)
        self.table.show()
        self.detail.show()
        self._fill_table(report, now)
        self._show_detail()

    def _fill_table(self, report: ImpactReport, now: datetime) -> None:
        chosen = self.selected_business()
        rows = [self._row(item, now) for item in report.business]
        if [r[0] for r in rows] != self._ids():
            self.table.clear()
            for _ in rows:
                QTreeWidgetItem(self.table)
        for index, (business_id, texts, cell, tip) in enumerate(rows):
            item = self.table.topLevelItem(index)
            assert item is not None
            for column, text in enumerate(texts):
                if item.text(column) != text:
                    item.setText(column, text)
                item.setToolTip(column, tip)
            item.setData(0, Qt.ItemDataRole.UserRole, business_id)
            self._paint_level(item, cell)
        self._fit_rows()
        self._select(chosen or (rows[0][0] if rows else None))

    def _paint_level(self, item: QTreeWidgetItem, cell: Cell) -> None:
        """A filled cell for degraded and down, coloured words for the others."""
        colour = getattr(self.theme, cell.colour)
        filled = cell.look == "badge"
        item.setBackground(0, QBrush(QColor(colour)) if filled else QBrush())
        item.setForeground(0, QBrush(QColor(ink_on(colour) if filled else colour)))
        item.setTextAlignment(0, Qt.AlignmentFlag.AlignCenter)
        font = item.font(0)
        font.setBold(True)
        item.setFont(0, font)

    def _fit_rows(self) -> None:
        """As tall as its rows, up to MAX_ROWS; the lists around keep the rest."""
        count = min(self.table.topLevelItemCount(), MAX_ROWS)
        first = self.table.topLevelItem(0)
        row = self.table.visualItemRect(first).height() if first else 0
        row = row or self.table.fontMetrics().height() + 8
        header = self.table.header().sizeHint().height()
        frame = 2 * self.table.frameWidth()
        self.table.setFixedHeight(header + count * row + frame + 2)

    def _row(
        self, item: BusinessImpact, now: datetime
    ) -> tuple[str, list[str], Cell, str]:
        since = when(item.since, self.zone, now) if item.since else ""
        cell = level_cell(item)
        texts = [cell.text, item.business.name, count_text(item.customers), since]
        return item.business.id, texts, cell, item.why

    def _ids(self) -> list[str]:
        items = (
            self.table.topLevelItem(i) for i in range(self.table.topLevelItemCount())
        )
        return [str(i.data(0, Qt.ItemDataRole.UserRole)) for i in items if i]

    def _select(self, business_id: str | None) -> None:
        ids = self._ids()
        if business_id in ids:
            item = self.table.topLevelItem(ids.index(business_id))
            if item is not None and not item.isSelected():
                self.table.setCurrentItem(item)

    def selected_business(self) -> str | None:
        """The business service of the selected row, if one is."""
        item = self.table.currentItem()
        return None if item is None else str(item.data(0, Qt.ItemDataRole.UserRole))

    def _on_table_selection_changed(self) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        """Why the selected business service is at its level, and what it costs."""
        report, chosen = self.report, self.selected_business()
        item = next(
            (b for b in report.business if b.business.id == chosen), None
        ) if report else None  # fmt: skip
        if report is None or item is None:
            self.detail.clear()
            return
        why = item.why or (
            "Not impacted now." if item.level is Level.NONE else item.level.label
        )
        hourly, so_far = report.business_cost(item)
        money = []
        if hourly:
            money.append(f"{money_text(hourly, True)} at risk")
        if so_far:
            money.append(f"{money_text(so_far)} so far")
        text = f"{item.business.name}: {why}"
        if money:
            text += f" \u00b7 {' · '.join(money)}"
        paint(self.detail, Cell(text, "muted"), self.theme)
