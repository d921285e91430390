"""The selected incident at a glance: severity, status, elapsed time, milestones."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, tzinfo

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
)

from mimdesk.domain.incident import Incident
from mimdesk.domain.lifecycle import ORDER, Status
from mimdesk.domain.severity import SeverityScale
from mimdesk.domain.times import format_ago, format_clock, format_duration
from mimdesk.ui.theme import Theme, pill

# Links a click may hand to the system: web, phone and meeting apps, never files.
BRIDGE_SCHEMES = frozenset(
    {"http", "https", "tel", "sip", "sips", "msteams", "zoommtg", "zoomus"}
)


class IncidentHeader(QFrame):
    """Shows one incident; `set_now` moves the elapsed counter and
    `show_mobilisation` how long mobilising took, once known.

    "Open bridge" hands the incident's conference link to `open_url` (the
    system's opener; tests replace it). Emits bridge_open_failed(str) with the
    reason when the link is missing, not one we open, or the system refused it.
    """

    bridge_open_failed = Signal(str)

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
        self.mobilisation = QLabel()
        self.mobilisation.setObjectName("HeaderMobilisation")
        self.mobilisation.setToolTip(
            "From the first request to join the bridge until every required "
            "role was held by someone on it"
        )
        self._build_bridge()
        self._layout()
        self.show_incident(None)

    def _build_bridge(self) -> None:
        self.open_url: Callable[[QUrl], bool] = QDesktopServices.openUrl
        self.bridge_button = QPushButton("Open bridge")
        self.bridge_button.setObjectName("OpenBridge")
        self.bridge_button.setAccessibleName("Open the bridge conference link")
        self.bridge_button.clicked.connect(self._on_bridge_button_clicked)
        self.dial_in = QLabel()
        self.dial_in.setObjectName("DialIn")
        self.dial_in.setWordWrap(True)  # a long dial-in must not widen the header
        self.dial_in.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
        )

    def _layout(self) -> None:
        badges = QHBoxLayout()
        for widget in (self.severity, self.ident, self.status, self.demo):
            badges.addWidget(widget)
        badges.addStretch(1)
        left = QVBoxLayout()
        left.addLayout(badges)
        left.addWidget(self.title)
        left.addWidget(self.detail)
        left.addWidget(self.dial_in)
        right = QVBoxLayout()
        right.addWidget(self.elapsed)
        right.addWidget(self.elapsed_caption)
        right.addWidget(self.bridge_button, 0, Qt.AlignmentFlag.AlignRight)
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
        mobilised = ORDER.index(Status.MOBILISED)
        strip.addWidget(self.mobilisation, 2, mobilised, 1, len(ORDER) - mobilised)
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
        exercise = bool(incident and incident.exercise)
        self.demo.setText("EXERCISE" if exercise else "DEMO")
        self.demo.setVisible(bool(incident and (incident.demo or exercise)))
        self._show_bridge(incident)
        if incident is None:
            self.show_mobilisation(None)
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
        self.severity.setStyleSheet(pill(t.severity[incident.severity - 1]))
        self.status.setText(incident.status.label.upper())
        colour = t.status_colour(incident.status.value).name()
        self.status.setStyleSheet(pill(colour, filled=False))
        self.demo.setStyleSheet(pill(t.exercise if incident.exercise else t.demo))
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

    def show_mobilisation(self, took: timedelta | None) -> None:
        """'Mobilised in 12 min' under the milestones; hidden until known."""
        self.mobilisation.setVisible(took is not None)
        text = "" if took is None else f"Mobilised in {format_ago(took)}"
        self.mobilisation.setText(text)
        colour = self.theme.status_resolved
        self.mobilisation.setStyleSheet(f"color:{colour}; font-weight:600;")

    def set_now(self, now: datetime) -> None:
        if self.incident is not None:
            self.elapsed.setText(format_duration(self.incident.elapsed(now)))

    def _show_bridge(self, incident: Incident | None) -> None:
        url = incident.bridge_url if incident else None
        dial_in = incident.dial_in if incident else None
        self.bridge_button.setVisible(bool(url))
        self.bridge_button.setToolTip(f"{url} (Ctrl+B)" if url else "")
        self.dial_in.setVisible(bool(dial_in))
        self.dial_in.setText(f"Dial-in: {dial_in}" if dial_in else "")

    def _on_bridge_button_clicked(self) -> None:
        self.open_bridge()

    def open_bridge(self) -> bool:
        """Open the incident's conference link; False, with a reason, if not."""
        url = self.incident.bridge_url if self.incident else None
        if not url:
            return self._fail("No bridge link is set; Ctrl+Shift+B sets one.")
        link = QUrl.fromUserInput(url)
        if not link.isValid() or link.scheme().lower() not in BRIDGE_SCHEMES:
            return self._fail(
                f"Not opened: {url} is not a web, phone or meeting link. "
                "Copy it by hand if you trust it."
            )
        if not self.open_url(link):
            return self._fail(f"The system could not open {url}.")
        return True

    def _fail(self, reason: str) -> bool:
        self.bridge_open_failed.emit(reason)
        return False
