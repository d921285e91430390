"""Small dialogs for the milestone clock: an update sent, the bridge link."""

from __future__ import annotations

from datetime import tzinfo

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from mimdesk.clock import MonotonicClock
from mimdesk.domain.errors import DomainError
from mimdesk.domain.incident import Incident
from mimdesk.domain.times import TypedInstant, format_instant, parse_instant


def _buttons(dialog: QDialog, ok_text: str) -> QDialogButtonBox:
    buttons = QDialogButtonBox(
        QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
    )
    buttons.button(QDialogButtonBox.StandardButton.Ok).setText(ok_text)
    buttons.accepted.connect(dialog.accept)
    buttons.rejected.connect(dialog.reject)
    return buttons


def _text_or_none(edit: QLineEdit) -> str | None:
    return edit.text().strip() or None


class UpdateDialog(QDialog):
    """Record that a stakeholder update went out: what it said, to whom, when.

    Record is enabled once there is a summary and the time reads as one instant.
    """

    def __init__(
        self,
        incident_id: str,
        zone: tzinfo,
        clock: MonotonicClock,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("UpdateDialog")
        self.setWindowTitle(f"Stakeholder update sent for {incident_id}")
        self.setMinimumWidth(560)
        self.zone, self.clock = zone, clock
        self.summary = QLineEdit()
        self.summary.setPlaceholderText(
            "One line: what it said (e.g. Failover under way; next update 14:30)"
        )
        self.audience = QLineEdit()
        self.audience.setPlaceholderText("Optional: who it went to (e.g. executives)")
        self.sent_at = QLineEdit("now")
        self.sent_at.setToolTip("ISO 8601 (14:05Z, 14:05+01:00), 'now' or '10m ago'")
        self.reading = QLabel()
        self.reading.setObjectName("Muted")
        self.buttons = _buttons(self, "Record")
        form = QFormLayout()
        form.addRow("&Summary", self.summary)
        form.addRow("&Audience", self.audience)
        form.addRow("Sent &at", self.sent_at)
        form.addRow("", self.reading)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self.summary.textChanged.connect(self._on_input_changed)
        self.sent_at.textChanged.connect(self._on_input_changed)
        self._on_input_changed()

    def _read_time(self) -> TypedInstant | str:
        try:
            return parse_instant(
                self.sent_at.text(), zone=self.zone, now=self.clock.now()
            )
        except DomainError as exc:
            return str(exc)

    def _on_input_changed(self) -> None:
        reading = self._read_time()
        if isinstance(reading, str):
            self.reading.setText(f"\u26a0 {reading}")
        else:
            self.reading.setText(f"= {format_instant(reading.utc, self.zone)}")
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(
            bool(self.summary.text().strip()) and not isinstance(reading, str)
        )

    def update_sent(self) -> tuple[str, str | None, TypedInstant]:
        """(summary, audience or None, when it was sent)."""
        reading = self._read_time()
        if isinstance(reading, str):
            raise DomainError(reading)
        return self.summary.text().strip(), _text_or_none(self.audience), reading


class BridgeDialog(QDialog):
    """Where the bridge is: a conference link and a dial-in, either or both."""

    def __init__(self, incident: Incident, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("BridgeDialog")
        self.setWindowTitle(f"Bridge link for {incident.id}")
        self.setMinimumWidth(560)
        self.url = QLineEdit(incident.bridge_url or "")
        self.url.setPlaceholderText("https://\u2026 (Teams, Zoom, Meet, Jitsi) or tel:")
        self.dial_in = QLineEdit(incident.dial_in or "")
        self.dial_in.setPlaceholderText("Optional: number and PIN, as people dial it")
        self.buttons = _buttons(self, "Save")
        form = QFormLayout()
        form.addRow("Conference &link", self.url)
        form.addRow("&Dial-in", self.dial_in)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self.url.textChanged.connect(self._on_input_changed)
        self.dial_in.textChanged.connect(self._on_input_changed)
        self._on_input_changed()

    def _on_input_changed(self) -> None:
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(any(self.link()))

    def link(self) -> tuple[str | None, str | None]:
        """(conference link, dial-in), each None when left empty."""
        return _text_or_none(self.url), _text_or_none(self.dial_in)
