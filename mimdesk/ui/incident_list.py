"""The list of open and recent incidents, most urgent first."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QFont, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QWidget,
)

from mimdesk.domain.incident import Incident
from mimdesk.domain.severity import SeverityScale
from mimdesk.domain.times import format_duration
from mimdesk.ui.theme import Theme

COLUMNS = ("Sev", "Incident", "Status", "Elapsed")
_ELAPSED = 3
Index = QModelIndex | QPersistentModelIndex


class IncidentListModel(QAbstractTableModel):
    """Rows of incidents; the elapsed column follows the `now` it is given."""

    def __init__(self, theme: Theme, scale: SeverityScale) -> None:
        super().__init__()
        self._rows: list[Incident] = []
        self._now: datetime | None = None
        self.theme = theme
        self.scale = scale

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = 0
    ) -> Any:
        if (
            orientation == Qt.Orientation.Horizontal
            and role == Qt.ItemDataRole.DisplayRole
        ):
            return COLUMNS[section]
        return None

    def incident(self, row: int) -> Incident:
        return self._rows[row]

    def row_of(self, incident_id: str) -> int | None:
        return next((n for n, i in enumerate(self._rows) if i.id == incident_id), None)

    def set_incidents(self, incidents: list[Incident], now: datetime) -> None:
        self.beginResetModel()
        self._rows = incidents
        self._now = now
        self.endResetModel()

    def set_now(self, now: datetime) -> None:
        self._now = now
        if self._rows:
            top = self.index(0, _ELAPSED)
            bottom = self.index(len(self._rows) - 1, _ELAPSED)
            self.dataChanged.emit(top, bottom, [Qt.ItemDataRole.DisplayRole])

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        incident, column = self._rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(incident, column)
        if role == Qt.ItemDataRole.ForegroundRole:
            if column == 0:
                return self.theme.severity_colour(incident.severity)
            if column == 2:
                return self.theme.status_colour(incident.status.value)
            if not incident.is_open:
                return QColor(self.theme.muted)
        if role == Qt.ItemDataRole.FontRole and column in (0, 2):
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.ToolTipRole:
            return (
                f"{incident.id} {self.scale.name(incident.severity)}: {incident.title}"
            )
        if role == Qt.ItemDataRole.TextAlignmentRole and column == _ELAPSED:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _text(self, incident: Incident, column: int) -> str:
        if column == 0:
            return f"SEV{incident.severity}"
        if column == 1:
            demo = "DEMO \u00b7 " if incident.demo else ""
            demo = "EXERCISE \u00b7 " if incident.exercise else demo
            return f"{demo}{incident.title}\n{incident.id}"
        if column == 2:
            return incident.status.label
        if self._now is None:
            return ""
        return format_duration(incident.elapsed(self._now))


class _KeepColoursDelegate(QStyledItemDelegate):
    """Selected rows keep their severity and status colours (Qt would whiten them)."""

    def initStyleOption(self, option: QStyleOptionViewItem, index: Index) -> None:
        super().initStyleOption(option, index)
        colour = index.data(Qt.ItemDataRole.ForegroundRole)
        if not isinstance(colour, QColor):
            colour = option.palette.color(QPalette.ColorRole.Text)
        option.palette.setColor(QPalette.ColorRole.HighlightedText, colour)


class IncidentList(QTableView):
    """Selecting a row emits incident_selected(id)."""

    incident_selected = Signal(str)

    def __init__(self, model: IncidentListModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("IncidentList")
        self.setAccessibleName("Incidents")
        self.setModel(model)
        self.setItemDelegate(_KeepColoursDelegate(self))
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setShowGrid(False)
        self.setWordWrap(True)
        self.verticalHeader().hide()
        header = self.horizontalHeader()
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        for column in (0, 2, 3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.verticalHeader().setSectionResizeMode(
            QHeaderView.ResizeMode.ResizeToContents
        )
        self.selectionModel().currentRowChanged.connect(
            self._on_selection_current_changed
        )

    def _on_selection_current_changed(
        self, current: QModelIndex, _: QModelIndex
    ) -> None:
        if current.isValid():
            model = self.model()
            assert isinstance(model, IncidentListModel)
            self.incident_selected.emit(model.incident(current.row()).id)

    def select_incident(self, incident_id: str) -> None:
        model = self.model()
        assert isinstance(model, IncidentListModel)
        row = model.row_of(incident_id)
        if row is not None:
            self.selectRow(row)
