"""Declare an incident: title, severity, services, when it was detected."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from mimdesk.clock import MonotonicClock
from mimdesk.domain.catalogue import Catalogue
from mimdesk.domain.errors import DomainError
from mimdesk.domain.severity import LEVELS, SeverityScale
from mimdesk.domain.times import TypedInstant, format_instant, parse_instant


@dataclass(frozen=True)
class Declaration:
    title: str
    severity: int
    services: tuple[str, ...]
    detected: TypedInstant


class DeclareDialog(QDialog):
    """Declare is enabled once there is a title and the time reads as one instant."""

    def __init__(
        self,
        catalogue: Catalogue,
        scale: SeverityScale,
        zone: tzinfo,
        clock: MonotonicClock,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("DeclareDialog")
        self.setWindowTitle("Declare incident")
        self.setMinimumWidth(560)
        self.zone, self.clock = zone, clock
        self.title = QLineEdit()
        self.title.setPlaceholderText(
            "What is hurt, for whom (e.g. Card payments failing)"
        )
        self.severity = QComboBox()
        for level in LEVELS:
            self.severity.addItem(scale.name(level), level)
        self.severity.setCurrentIndex(1)
        self.services = QListWidget()
        self.services.setObjectName("ServiceChoice")
        for service in catalogue.services:
            item = QListWidgetItem(
                f"{service.name}  ({service.id}, tier {service.tier})"
            )
            item.setData(Qt.ItemDataRole.UserRole, service.id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.services.addItem(item)
        self.detected = QLineEdit("now")
        self.detected.setToolTip(
            "ISO 8601 (2026-12-03T14:05Z, 14:05+01:00), 'now' or '15m ago'"
        )
        self.detected_reading = QLabel()
        self.detected_reading.setObjectName("Muted")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Declare")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("&Title", self.title)
        form.addRow("&Severity", self.severity)
        form.addRow("Ser&vices", self.services)
        form.addRow("&Detected at", self.detected)
        form.addRow("", self.detected_reading)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self.title.textChanged.connect(self._on_input_changed)
        self.detected.textChanged.connect(self._on_input_changed)
        self._on_input_changed()

    def _read_time(self) -> TypedInstant | str:
        try:
            return parse_instant(
                self.detected.text(), zone=self.zone, now=self.clock.now()
            )
        except DomainError as exc:
            return str(exc)

    def _on_input_changed(self) -> None:
        reading = self._read_time()
        ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        if isinstance(reading, str):
            self.detected_reading.setText(f"\u26a0 {reading}")
        else:
            self.detected_reading.setText(f"= {format_instant(reading.utc, self.zone)}")
        ok_button.setEnabled(
            bool(self.title.text().strip()) and not isinstance(reading, str)
        )

    def declaration(self) -> Declaration:
        reading = self._read_time()
        if isinstance(reading, str):
            raise DomainError(reading)
        chosen = tuple(
            str(self.services.item(n).data(Qt.ItemDataRole.UserRole))
            for n in range(self.services.count())
            if self.services.item(n).checkState() == Qt.CheckState.Checked
        )
        return Declaration(
            self.title.text(), int(self.severity.currentData()), chosen, reading
        )
