"""The selected incident at a glance: severity, status, elapsed time, milestones."""

from __future__ import annotations

from datetime import datetime, tzinfo

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
)

from mimdesk.domain.incident import Incident
from mimdesk.domain.lifecycle import ORDER
from mimdesk.domain.severity import SeverityScale
from mimdesk.domain.times import format_clock, format_duration
from mimdesk.ui.theme import Theme


def _pill(text: str, colour: str, *, filled: bool = True) -> str:
    background = colour if filled else "transparent"
    ink = "#ffffff" if QColor(colour).lightness() < 130 else "#0d1117"
    foreground = ink if filled else colour
    return (
        f"background:{background}; color:{foreground}; border:2px solid {colour};"
        " border-radius:4px; padding:2px 8px; font-weight:700;"
    )


class IncidentHeader(QFrame):
    """Shows one incident; `set_now` moves the elapsed counter."""

    def __init__(self, theme: Theme, scale: SeverityScale, zone: tzinfo) -> None:
        super().__init__()
        self.setObjectName("IncidentHeader")
        self.setAccessibleName("Selected incident")
        self.theme, self.scale, self.zone = theme, scale, zone
        self.incident: Incident | None = None
        self.severity = QLabel()
        self.status = QLabel()
        self.demo = QLabel("DEMO")
        self.ident = QLabel()
        self.ident.setObjectName("IncidentId")
        self.ident.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.title = QLabel("No incident selected")
        self.title.setWordWrap(True)
        self.title.setObjectName("IncidentTitle")
        self.detail = QLabel()
        self.detail.setObjectName("Muted")
        self.detail.setWordWrap(True)
        self.elapsed = QLabel("--:--:--")
        self.elapsed.setObjectName("Elapsed")
        self.elapsed.setAlignment(
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        )
        self.elapsed_caption = QLabel("since detection")
        self.elapsed_caption.setObjectName("Muted")
        self.elapsed_caption.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.milestones = {status: QLabel() for status in ORDER}
        self._layout()
        self.show_incident(None)

    def _layout(self) -> None:
        badges = QHBoxLayout()
        for widget in (self.severity, self.ident, self.status, self.demo):
            badges.addWidget(widget)
        badges.addStretch(1)
        left = QVBoxLayout()
        left.addLayout(badges)
        left.addWidget(self.title)
        left.addWidget(self.detail)
        right = QVBoxLayout()
        right.addWidget(self.elapsed)
        right.addWidget(self.elapsed_caption)
        right.addStretch(1)
        top = QHBoxLayout()
        top.addLayout(left, 1)
        top.addLayout(right)
        strip = QGridLayout()
        strip.setHorizontalSpacing(16)
        for column, status in enumerate(ORDER):
            name = QLabel(status.label.upper())
            name.setObjectName("SectionTitle")
            strip.addWidget(name, 0, column)
            strip.addWidget(self.milestones[status], 1, column)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(16, 12, 16, 12)
        outer.addLayout(top)
        outer.addSpacing(6)
        outer.addLayout(strip)

    def show_incident(self, incident: Incident | None) -> None:
        self.incident = incident
        visible = incident is not None
        for widget in (self.severity, self.status, self.ident, self.elapsed_caption):
            widget.setVisible(visible)
        self.demo.setVisible(bool(incident and incident.demo))
        if incident is None:
            self.title.setText("No incident selected")
            self.detail.setText(
                "Select an incident on the left, or declare one (Ctrl+N)."
            )
            self.elapsed.setText("")
            for label in self.milestones.values():
                label.setText("")
            return
        t = self.theme
        self.severity.setText(self.scale.name(incident.severity))
        self.severity.setStyleSheet(_pill("", t.severity[incident.severity - 1]))
        self.status.setText(incident.status.label.upper())
        colour = t.status_colour(incident.status.value).name()
        self.status.setStyleSheet(_pill("", colour, filled=False))
        self.demo.setStyleSheet(_pill("", t.demo))
        self.ident.setText(incident.id)
        self.title.setText(incident.title)
        self._show_details(incident)

    def _show_details(self, incident: Incident) -> None:
        services = ", ".join(incident.services) or "no service named"
        reopened = (
            f" \u00b7 reopened {incident.reopen_count}\u00d7"
            if incident.reopen_count
            else ""
        )
        self.detail.setText(
            f"Detected {format_clock(incident.detected_at, self.zone)} \u00b7 "
            f"Services: {services}{reopened}"
        )
        for status, label in self.milestones.items():
            milestone = incident.milestones.get(status)
            if milestone and milestone.at:
                label.setText(format_clock(milestone.at, self.zone))
                label.setStyleSheet(f"color:{self.theme.text}; font-weight:600;")
            elif milestone and milestone.skipped:
                label.setText("not reached")
                label.setStyleSheet(f"color:{self.theme.muted}; font-style:italic;")
            else:
                label.setText("\u2014")
                label.setStyleSheet(f"color:{self.theme.muted};")
        self.elapsed_caption.setText(
            "since detection" if incident.is_open else "detection to resolution"
        )

    def set_now(self, now: datetime) -> None:
        if self.incident is not None:
            self.elapsed.setText(format_duration(self.incident.elapsed(now)))
