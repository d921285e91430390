"""Declare an incident from an alert group, or attach the group to the selected
incident; and what turns that choice into a store command."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future
from datetime import UTC, tzinfo
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from PySide6.QtCore import QObject
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from mimdesk.domain.alert_links import (
    services_for,
    suggested_severity,
    suggested_title,
)
from mimdesk.domain.alerts import Group, group_ref
from mimdesk.domain.catalogue import Catalogue
from mimdesk.domain.incident import Incident
from mimdesk.domain.severity import LEVELS, SeverityScale
from mimdesk.domain.times import format_instant
from mimdesk.ui.alert_feed import AlertFeed
from mimdesk.ui.alerts_view import AlertsView
from mimdesk.ui.header import IncidentHeader

if TYPE_CHECKING:  # the console imports this module
    from mimdesk.ui.console import ConsoleContext

log = logging.getLogger(__name__)

DECLARE, ATTACH = "declare", "attach"
FROM_ALERT = "Taken from the alert (its earliest startsAt), not from now."


class DeclareFromAlertsDialog(QDialog):
    """Title and severity are prefilled and editable; when it was detected and
    which services are hurt come from the alerts and are shown, not typed.
    `choice` says which button closed it: DECLARE, ATTACH, or None."""

    def __init__(
        self,
        group: Group,
        *,
        catalogue: Catalogue,
        scale: SeverityScale,
        zone: tzinfo,
        selected: Incident | None,
        following: str | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("DeclareFromAlertsDialog")
        self.setWindowTitle(f"Declare from alerts \u2014 group {group_ref(group.key)}")
        self.setMinimumWidth(620)
        self.group = group
        self.choice: str | None = None
        self.title = QLineEdit(suggested_title(group.alerts))
        self.severity = QComboBox()
        for level in LEVELS:
            self.severity.addItem(scale.name(level), level)
        self.severity.setCurrentIndex(LEVELS.index(suggested_severity(group.alerts)))
        self.detected = QLabel(_detected(group, zone))
        self.detected.setObjectName("DetectedFromAlert")
        why = QLabel(FROM_ALERT)
        why.setObjectName("Muted")
        self.services = QLabel(_services(group, catalogue))
        self.services.setObjectName("ServicesFromAlert")
        self.services.setWordWrap(True)
        self.alerts = QLabel(_alerts(group))
        self.alerts.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.declare_button = self.buttons.addButton(
            "&Declare", QDialogButtonBox.ButtonRole.AcceptRole
        )
        self.declare_button.setDefault(True)
        self.attach_button = self._attach_button(selected)
        self.declare_button.clicked.connect(partial(self.choose, DECLARE))
        self.attach_button.clicked.connect(partial(self.choose, ATTACH))
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("Alerts", self.alerts)
        form.addRow("&Title", self.title)
        form.addRow("&Severity", self.severity)
        form.addRow("Detected at", self.detected)
        form.addRow("", why)
        form.addRow("Services", self.services)
        if following:
            note = QLabel(f"\u26a0 This group already follows {following}.")
            note.setObjectName("FollowingNote")
            form.addRow("", note)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self.title.textChanged.connect(self._on_title_text_changed)
        self._on_title_text_changed(self.title.text())

    def _attach_button(self, selected: Incident | None) -> QPushButton:
        usable = selected is not None and selected.is_open
        text = (
            f"&Attach to {selected.id}"
            if selected is not None and usable
            else "&Attach (select an open incident first)"
        )
        button = self.buttons.addButton(text, QDialogButtonBox.ButtonRole.ActionRole)
        button.setEnabled(usable)
        self.selected = selected if usable else None
        return button

    def _on_title_text_changed(self, text: str) -> None:
        self.declare_button.setEnabled(bool(text.strip()))

    def choose(self, choice: str, _checked: bool = False) -> None:
        """Close with `choice` (DECLARE or ATTACH) as the answer."""
        self.choice = choice
        self.accept()

    @property
    def chosen_severity(self) -> int:
        return int(self.severity.currentData())


def _detected(group: Group, zone: tzinfo) -> str:
    """The earliest start in the display zone, then in UTC."""
    if group.detected_at is None:
        return "\u2014"
    local = format_instant(group.detected_at, zone)
    utc = format_instant(group.detected_at, UTC)
    return local if local == utc else f"{local}  ({utc})"


def _services(group: Group, catalogue: Catalogue) -> str:
    ids = services_for(group.alerts, catalogue.ids, catalogue.alert_labels)
    if not ids:
        labels = " or ".join(catalogue.alert_labels)
        return f"none: no alert's {labels} label names a catalogue service"
    names = {s.id: s.name for s in catalogue.services}
    return ", ".join(f"{names.get(i, i)} ({i})" for i in ids)


def _alerts(group: Group) -> str:
    count = len(group.alerts)
    noun = "alert" if count == 1 else "alerts"
    names = ", ".join(dict.fromkeys(a.name for a in group.alerts))
    return (
        f"{count} {noun} ({names}): {group.firing} firing, {group.recovered} recovered"
    )


class _Console(Protocol):
    """What the alert actions use of the console window."""

    @property
    def ctx(self) -> ConsoleContext: ...
    @property
    def zone(self) -> tzinfo: ...
    @property
    def header(self) -> IncidentHeader: ...
    @property
    def views(self) -> QStackedWidget: ...
    @property
    def run_dialog(self) -> Callable[[QDialog], bool]: ...

    def _command(
        self,
        submit: Callable[[], Future[Any]],
        on_done: Callable[[Any], None] | None = None,
    ) -> None: ...
    def _on_declared(self, incident_id: str) -> None: ...
    def show_message(self, text: str) -> None: ...


class AlertActions(QObject):
    """Opens the dialog for a group chosen in `view` and sends what it says to
    the store through the console, whose incident view then shows the result."""

    def __init__(self, console: _Console, view: AlertsView, feed: AlertFeed) -> None:
        super().__init__(view)
        self.console, self.feed = console, feed
        view.group_activated.connect(self._on_view_group_activated)

    def _on_view_group_activated(self, key: str) -> None:
        group = next((g for g in self.feed.groups if g.key == key), None)
        if group is None:
            return
        console = self.console
        dialog = DeclareFromAlertsDialog(
            group,
            catalogue=console.ctx.catalogue,
            scale=console.ctx.settings.severity,
            zone=console.zone,
            selected=console.header.incident,
            following=self.feed.links.get(key),
            parent=console.views,
        )
        if console.run_dialog(dialog):
            self.submit(dialog)
        dialog.deleteLater()

    def submit(self, dialog: DeclareFromAlertsDialog) -> None:
        ctx, key = self.console.ctx, dialog.group.key
        if dialog.choice == ATTACH and dialog.selected is not None:
            incident_id = dialog.selected.id
            attach = partial(
                ctx.store.attach_alerts, incident_id, key, actor=ctx.settings.operator
            )
            self.console._command(attach, partial(self._on_attached, incident_id))
        elif dialog.choice == DECLARE:
            declare = partial(
                ctx.store.declare_from_alerts,
                key,
                title=dialog.title.text(),
                severity=dialog.chosen_severity,
                actor=ctx.settings.operator,
                known_services=ctx.catalogue.ids,
                label_names=ctx.catalogue.alert_labels,
            )
            self.console._command(declare, self._on_declared)

    def _on_declared(self, incident_id: str) -> None:
        self.console._on_declared(incident_id)
        self.console.views.setCurrentIndex(0)

    def _on_attached(self, incident_id: str, _events: object) -> None:
        self.console.show_message(f"alerts attached to {incident_id}")
        self.console.views.setCurrentIndex(0)
