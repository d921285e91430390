"""Small dialogs for the milestone clock: an update sent, a report sent, the bridge
link."""

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


class TimeEntry:
    """When something was sent, typed in the display zone ('now', '10m ago',
    '2026-12-03 14:05', or ISO 8601 with an offset), with what it reads as
    shown under it."""

    def __init__(self, zone: tzinfo, clock: MonotonicClock) -> None:
        self.zone, self.clock = zone, clock
        self.edit = QLineEdit("now")
        self.edit.setToolTip("ISO 8601 (14:05Z, 14:05+01:00), 'now' or '10m ago'")
        self.reading = QLabel()
        self.reading.setObjectName("Muted")

    def read(self) -> TypedInstant | str:
        """The instant typed, or why it does not read as one."""
        try:
            return parse_instant(self.edit.text(), zone=self.zone, now=self.clock.now())
        except DomainError as exc:
            return str(exc)

    def show_reading(self) -> bool:
        """Say what the text reads as; True if it is one instant."""
        reading = self.read()
        if isinstance(reading, str):
            self.reading.setText(f"\u26a0 {reading}")
            return False
        self.reading.setText(f"= {format_instant(reading.utc, self.zone)}")
        return True

    def instant(self) -> TypedInstant:
        reading = self.read()
        if isinstance(reading, str):
            raise DomainError(reading)
        return reading


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
        self.summary = QLineEdit()
        self.summary.setPlaceholderText(
            "One line: what it said (e.g. Failover under way; next update 14:30)"
        )
        self.audience = QLineEdit()
        self.audience.setPlaceholderText("Optional: who it went to (e.g. executives)")
        self.time = TimeEntry(zone, clock)
        self.sent_at, self.reading = self.time.edit, self.time.reading
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

    def _on_input_changed(self) -> None:
        readable = self.time.show_reading()
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(bool(self.summary.text().strip()) and readable)

    def update_sent(self) -> tuple[str, str | None, TypedInstant]:
        """(summary, audience or None, when it was sent)."""
        return (
            self.summary.text().strip(),
            _text_or_none(self.audience),
            self.time.instant(),
        )


class ReportDialog(QDialog):
    """Record that regulatory report `title` was sent, and when (default: now).

    Record is enabled while the time reads as one instant.
    """

    def __init__(
        self,
        title: str,
        incident_id: str,
        zone: tzinfo,
        clock: MonotonicClock,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("ReportDialog")
        self.setWindowTitle(f"Report sent for {incident_id}")
        self.setMinimumWidth(560)
        self.question = QLabel(f"Record the {title} for {incident_id} as sent.")
        self.question.setWordWrap(True)
        self.time = TimeEntry(zone, clock)
        self.sent_at, self.reading = self.time.edit, self.time.reading
        self.buttons = _buttons(self, "Record")
        form = QFormLayout()
        form.addRow("Sent &at", self.sent_at)
        form.addRow("", self.reading)
        layout = QVBoxLayout(self)
        layout.addWidget(self.question)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self.sent_at.textChanged.connect(self._on_input_changed)
        self._on_input_changed()

    def _on_input_changed(self) -> None:
        readable = self.time.show_reading()
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(readable)

    def report_sent(self) -> TypedInstant:
        """When the report was sent."""
        return self.time.instant()


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
