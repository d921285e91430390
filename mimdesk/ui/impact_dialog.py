"""Overriding a business service's impact from the console: the dialog, and the
Incident menu entry (Ctrl+I) that records what it says through the store."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import QObject
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QVBoxLayout,
    QWidget,
)

from mimdesk.domain.catalogue import BusinessService
from mimdesk.domain.events import JournalEvent
from mimdesk.domain.impact import BusinessImpact
from mimdesk.domain.impact_override import OVERRIDE_LEVELS, decision
from mimdesk.domain.incident import Incident, describe
from mimdesk.ui.console_api import ConsoleCommands
from mimdesk.ui.header import IncidentHeader
from mimdesk.ui.impact_panel import ImpactPanel

if TYPE_CHECKING:  # the console imports this module
    pass

CLEAR = "clear"
SHORTCUT = "Ctrl+I"


class OverrideDialog(QDialog):
    """Choose a business service, the level it really is (or clear the override)
    and say why. Record is enabled once there is a reason, or when clearing."""

    def __init__(
        self,
        incident_id: str,
        business: Sequence[BusinessImpact],
        others: Sequence[BusinessService],
        chosen: str | None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("OverrideDialog")
        self.setWindowTitle(f"Override business impact for {incident_id}")
        self.setMinimumWidth(640)
        self.business = QComboBox()
        self.business.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.business.setMinimumContentsLength(32)
        for item in business:
            self.business.addItem(self._entry(item), item.business.id)
        for other in others:
            self.business.addItem(f"{other.name} \u2014 not in this impact", other.id)
        ids = [b.business.id for b in business] + [b.id for b in others]
        self.business.setCurrentIndex(ids.index(chosen) if chosen in ids else 0)
        self.level = QComboBox()
        for level in reversed(OVERRIDE_LEVELS):
            self.level.addItem(level.label, level.value)
        self.level.addItem("Clear the override (the computed level counts)", CLEAR)
        self.reason = QLineEdit()
        self.reason.setPlaceholderText(
            "Why (kept in the journal), e.g. all branches closed by the outage"
        )
        self.note = QLabel()
        self.note.setObjectName("Muted")
        self.note.setWordWrap(True)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText("Record")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("&Business service", self.business)
        form.addRow("&Impact", self.level)
        form.addRow("&Reason", self.reason)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.note)
        layout.addWidget(buttons)
        self._items = {b.business.id: b for b in business}
        for signal in (
            self.business.currentIndexChanged,
            self.level.currentIndexChanged,
            self.reason.textChanged,
        ):
            signal.connect(self._on_input_changed)
        self._on_input_changed()
        self.reason.setFocus()

    @staticmethod
    def _entry(item: BusinessImpact) -> str:
        if item.override is None:
            return f"{item.business.name} \u2014 {item.level.label}"
        return (
            f"{item.business.name} \u2014 {item.level.label} by override "
            f"(computed {item.computed.value})"
        )

    def _on_input_changed(self) -> None:
        action, _, _, reason = self.choice()
        item = self._items.get(str(self.business.currentData()))
        clearing = action == CLEAR
        self.reason.setEnabled(not clearing)
        if clearing and item is not None and item.override is None:
            self.note.setText("This business service has no override to clear.")
            self.ok.setEnabled(False)
            return
        self.note.setText(
            "The computed level stays on show beside the override."
            if not clearing
            else "The override is taken back; the record of it stays."
        )
        self.ok.setEnabled(clearing or bool(reason))

    def choice(self) -> tuple[str, str, str | None, str]:
        """(action 'override' or 'clear', business service id, level, reason)."""
        level = str(self.level.currentData())
        business = str(self.business.currentData())
        reason = self.reason.text().strip()
        if level == CLEAR:
            return CLEAR, business, None, ""
        return "override", business, level, reason


class _Console(ConsoleCommands, Protocol):
    """What the impact actions use of the console window."""

    @property
    def header(self) -> IncidentHeader: ...
    @property
    def impact_panel(self) -> ImpactPanel: ...


class ImpactActions(QObject):
    """The Incident menu's 'Override business impact…' (Ctrl+I) and the command
    it records through the console."""

    def __init__(self, console: _Console, menu: QMenu) -> None:
        super().__init__(console.window())
        self.console = console
        self.override_action = console._action(
            menu, "Override business &impact\u2026", SHORTCUT, self.override
        )

    def enable(self, chosen: bool) -> None:
        """`chosen`: a writable store and an incident selected."""
        self.override_action.setEnabled(chosen)

    def _ready(self) -> Incident | None:
        """The selected incident, if its impact can be overridden; else say why."""
        console = self.console
        incident = console.header.incident
        if incident is None:
            return None
        if not console.impact_panel.current_catalogue().business_services:
            console.show_error(
                "The catalogue names no business services to override; add "
                "[[business_service]] tables (README, Business impact)."
            )
            return None
        return incident

    def override(self) -> None:
        """Ask which business service, what level and why, then record it."""
        incident = self._ready()
        if incident is None:
            return
        panel = self.console.impact_panel
        panel.tick()
        shown = list(panel.report.business) if panel.report else []
        ids = {b.business.id for b in shown}
        others = [
            b for b in panel.current_catalogue().business_services if b.id not in ids
        ]
        dialog = OverrideDialog(
            incident.id, shown, others, panel.selected_business(), self.console.window()
        )
        if self.console.run_dialog(dialog):
            self.submit(incident.id, dialog)
        dialog.deleteLater()

    def submit(self, incident_id: str, dialog: OverrideDialog) -> None:
        action, business, level, reason = dialog.choice()
        ctx = self.console.ctx
        catalogue = self.console.impact_panel.current_catalogue()
        known = [b.id for b in catalogue.business_services]
        decide = decision(
            action, business, actor=ctx.settings.operator, known=known,
            level=level, reason=reason,
        )  # fmt: skip
        submit = partial(ctx.store.impact_command, incident_id, decide)
        self.console._command(submit, self._on_recorded)

    def _on_recorded(self, events: list[JournalEvent]) -> None:
        self.console.show_message(f"{events[0].incident_id}: {describe(events[0])}")
