"""A compact list of service health for the console: status, service, value."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
)

from mimdesk.domain.health import Health
from mimdesk.domain.wall import Tile, WallState
from mimdesk.ui.theme import Theme, health_look, ink_on
from mimdesk.ui.wall_corner import link_words

COLUMNS = ("Status", "Service", "Now")


def monitoring_words(state: WallState | None) -> str:
    """'Monitoring: DEMO', 'Monitoring: http://prom:9090 UNREACHABLE'..."""
    if state is None:
        return "Monitoring: not started"
    words, _ = link_words(state.source)
    name = state.source.name or "none"
    return f"Monitoring: {name}" if words == name else f"Monitoring: {name} {words}"


class HealthList(QTableWidget):
    """One row per monitored service, worst first; rows are reused on refresh.

    Signals: service_activated(str) when a row is double-clicked or Enter is
    pressed on it (the console then shows the Health view)."""

    service_activated = Signal(str)

    def __init__(self, theme: Theme) -> None:
        super().__init__(0, len(COLUMNS))
        self.setObjectName("HealthList")
        self.theme = theme
        self.setHorizontalHeaderLabels(COLUMNS)
        self.verticalHeader().hide()
        self.setShowGrid(False)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.itemActivated.connect(self._on_self_item_activated)
        self._ids: list[str] = []

    def show_state(self, state: WallState | None) -> None:
        """Rows for the state's tiles, the worst status first."""
        tiles = sorted(state.tiles, key=lambda t: -t.health.rank) if state else []
        self.setRowCount(len(tiles))
        self._ids = [t.service.id for t in tiles]
        for row, tile in enumerate(tiles):
            self._show_row(row, tile, demo=bool(state and state.source.demo))

    def _show_row(self, row: int, tile: Tile, *, demo: bool) -> None:
        colour, filled = health_look(self.theme, tile.health)
        status = self._item(row, 0, tile.health.label)
        status.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
        if filled:
            status.setBackground(QBrush(QColor(colour)))
            status.setForeground(QBrush(QColor(ink_on(colour))))
        else:
            status.setBackground(QBrush())
            status.setForeground(QBrush(QColor(colour)))
        name = tile.service.name + (" (DEMO)" if demo else "")
        self._item(row, 1, name).setToolTip(tile.detail or tile.service.owner)
        self._item(row, 2, tile.headline)

    def _item(self, row: int, column: int, text: str) -> QTableWidgetItem:
        item = self.item(row, column)
        if item is None:
            item = QTableWidgetItem()
            self.setItem(row, column, item)
        item.setText(text)
        return item

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme

    def _on_self_item_activated(self, item: QTableWidgetItem) -> None:
        if 0 <= item.row() < len(self._ids):
            self.service_activated.emit(self._ids[item.row()])


def summary(state: WallState | None) -> str:
    """'Health: 2 CRITICAL · 1 WARNING · 5 OK', worst first."""
    if state is None or not state.tiles:
        return "Health: no data"
    counts = {h: sum(1 for t in state.tiles if t.health is h) for h in Health}
    ranked = sorted((h for h in counts if counts[h]), key=lambda h: -h.rank)
    return "Health: " + " \u00b7 ".join(f"{counts[h]} {h.label}" for h in ranked)
