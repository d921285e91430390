"""The bridge roster panel: who holds each role, who is missing, who is waited for."""

from __future__ import annotations

from datetime import datetime, tzinfo

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QCompleter,
    QFrame,
    QGridLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
)

from mimdesk.domain.directory import Directory
from mimdesk.domain.incident import Incident
from mimdesk.domain.roster import (
    PARTICIPANT,
    Participant,
    Presence,
    RolePolicy,
    Roster,
    mobilisation_time,
)
from mimdesk.domain.times import format_ago
from mimdesk.ui.theme import Theme

ACTIONS = (
    ("request", "Request"),
    ("join", "Join"),
    ("leave", "Leave"),
    ("assign", "Give role"),
)


class RosterPanel(QFrame):
    """Shows one incident's roster; emits roster_action(action, person, role)."""

    roster_action = Signal(str, str, str)

    def __init__(self, theme: Theme, directory: Directory, policy: RolePolicy) -> None:
        super().__init__()
        self.setObjectName("BridgeRoster")
        self.setAccessibleName("Bridge roster")
        self.theme, self.directory, self.policy = theme, directory, policy
        self.zone: tzinfo | None = None
        self.missing = QLabel()
        self.missing.setObjectName("MissingRoles")
        self.missing.setWordWrap(True)
        self.mobilisation = QLabel()
        self.mobilisation.setObjectName("Mobilisation")
        self.people = QTreeWidget()
        self.people.setObjectName("RosterTable")
        self.people.setHeaderLabels(["Person", "Where", "Roles", "Local time"])
        self.people.setRootIsDecorated(False)
        self.people.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.people.itemSelectionChanged.connect(self._on_people_selection_changed)
        header = self.people.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.people.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._build_controls()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.missing)
        layout.addWidget(self.mobilisation)
        layout.addWidget(self.people, 1)
        layout.addLayout(self.controls)

    def _build_controls(self) -> None:
        self.person = QLineEdit()
        self.person.setObjectName("RosterPerson")
        self.person.setPlaceholderText("Person (directory id or handle) \u2014 Ctrl+J")
        ids = [p.id for p in self.directory.people]
        self.person.setCompleter(QCompleter(ids, self.person))
        self.role = QComboBox()
        self.role.setObjectName("RosterRole")
        self.role.addItem("Participant", PARTICIPANT)
        for role in self.policy.roles:
            self.role.addItem(role.label, role.id)
        self.buttons = {}
        self.controls = QGridLayout()
        self.controls.addWidget(self.person, 0, 0, 1, 2)
        self.controls.addWidget(self.role, 0, 2, 1, 2)
        for column, (action, label) in enumerate(ACTIONS):
            button = QPushButton(label)
            button.clicked.connect(lambda _=False, a=action: self._emit(a))
            self.buttons[action] = button
            self.controls.addWidget(button, 1, column)
        self.person.returnPressed.connect(lambda: self._emit("join"))

    def _emit(self, action: str) -> None:
        person = self.person.text().strip()
        if person:
            self.roster_action.emit(action, person, str(self.role.currentData()))

    def _on_people_selection_changed(self) -> None:
        items = self.people.selectedItems()
        if items:
            self.person.setText(items[0].data(0, 256))

    def action_done(self) -> None:
        self.person.clear()

    def show_roster(
        self, incident: Incident | None, roster: Roster, now: datetime
    ) -> None:
        self.people.clear()
        if incident is None:
            self.missing.setText("")
            self.mobilisation.setText("")
            return
        required = self.policy.required.get(incident.severity, ())
        self._show_missing(roster.missing(required), bool(required))
        self.mobilisation.setText(_mobilisation_text(roster, required, now))
        for participant in roster.participants.values():
            self.people.addTopLevelItem(self._item(participant, now))
        for column in (0, 1, 3):
            self.people.resizeColumnToContents(column)

    def _show_missing(self, missing: list[str], any_required: bool) -> None:
        t = self.theme
        if missing:
            labels = ", ".join(self.policy.role(r).label for r in missing)
            self.missing.setText(f"MISSING: {labels}")
            self.missing.setStyleSheet(f"color:{t.danger}; font-weight:700;")
        else:
            text = (
                "All required roles on the bridge"
                if any_required
                else "No roles required"
            )
            self.missing.setText(text)
            self.missing.setStyleSheet(f"color:{t.status_resolved}; font-weight:700;")

    def _item(self, p: Participant, now: datetime) -> QTreeWidgetItem:
        roles = ", ".join(
            self.policy.role(r).label for r in p.roles if r != PARTICIPANT
        )
        item = QTreeWidgetItem(
            [
                self.directory.name(p.person),
                self._where(p, now),
                roles,
                self._local(p, now),
            ]
        )
        item.setData(0, 256, p.person)
        if p.presence in (Presence.REQUESTED, Presence.ACKNOWLEDGED):
            item.setForeground(1, QColor(self.theme.warning))
        elif p.on_bridge:
            item.setForeground(1, QColor(self.theme.status_resolved))
        else:
            item.setForeground(1, QColor(self.theme.muted))
        return item

    def _where(self, p: Participant, now: datetime) -> str:
        if p.presence in (Presence.REQUESTED, Presence.ACKNOWLEDGED) and p.requested_at:
            return f"{p.presence.value} {format_ago(now - p.requested_at)} ago"
        if p.on_bridge:
            return f"on for {format_ago(p.active_time(now))}"
        return "left"

    def _local(self, p: Participant, now: datetime) -> str:
        person = self.directory.get(p.person)
        return (person.local_time(now) if person else None) or ""

    def set_writable(self, writable: bool) -> None:
        for widget in (self.person, self.role, *self.buttons.values()):
            widget.setEnabled(writable)


def _mobilisation_text(roster: Roster, required: tuple[str, ...], now: datetime) -> str:
    """'Mobilised in 12 min' once the required roles are on; until then, how long."""
    if roster.first_request is None:
        return "Nobody asked to join yet"
    took = mobilisation_time(roster, required)
    if took is not None:
        return f"Mobilised in {format_ago(took)} (first request to roles filled)"
    waited = format_ago(now - roster.first_request)
    return f"Mobilising for {waited} since the first request"
