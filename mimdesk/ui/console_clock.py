"""The console's clock and bridge commands: updates and reports sent, the bridge
link, roster moves. Mixed into the console window, whose parts it uses."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from datetime import datetime, timedelta, tzinfo
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from PySide6.QtWidgets import QDialog, QMenu

from mimdesk.domain import incident as model
from mimdesk.domain import roster as roster_model
from mimdesk.domain.events import NewEvent
from mimdesk.domain.incident import Incident
from mimdesk.domain.roster import Roster
from mimdesk.ui.clock_dialogs import BridgeDialog, ReportDialog, UpdateDialog
from mimdesk.ui.header import IncidentHeader
from mimdesk.ui.roster_panel import RosterPanel

if TYPE_CHECKING:  # the console imports this module
    from mimdesk.ui.console import ConsoleContext


class _Console(Protocol):
    """What the clock commands use of the console window."""

    @property
    def ctx(self) -> ConsoleContext: ...
    @property
    def selected(self) -> str | None: ...
    @property
    def zone(self) -> tzinfo: ...
    @property
    def header(self) -> IncidentHeader: ...
    @property
    def roster_panel(self) -> RosterPanel: ...
    @property
    def clock_data(self) -> dict[str, Any] | None: ...
    @property
    def report_menu(self) -> QMenu: ...
    @property
    def run_dialog(self) -> Callable[[QDialog], bool]: ...
    @property
    def writable(self) -> bool: ...

    def _command(
        self,
        submit: Callable[[], Future[Any]],
        on_done: Callable[[Any], None] | None = None,
    ) -> None: ...
    def _why_not_writable(self) -> str: ...
    def _incident_command(
        self, decide: Callable[[Incident, datetime], list[NewEvent]], done: str
    ) -> None: ...
    def _on_report_action_triggered(
        self, report: str, title: str, _checked: bool = False
    ) -> None: ...
    def mark_report_sent(self, report: str, title: str) -> None: ...
    def submit_update(self, dialog: UpdateDialog) -> None: ...
    def submit_report(self, dialog: ReportDialog, report: str, title: str) -> None: ...
    def submit_bridge(self, dialog: BridgeDialog) -> None: ...
    def show_message(self, text: str) -> None: ...
    def show_error(self, text: str) -> None: ...


class ClockCommands:
    """Menu entries and commands for the milestone clock and the bridge."""

    def _add_update_actions(self: Any, menu: QMenu) -> None:
        """'Record stakeholder update sent' (Ctrl+U) and 'Mark report sent'."""
        self.update_action = self._action(
            menu,
            "Record stakeholder update &sent\u2026",
            "Ctrl+U",
            self.record_update,
        )
        self.report_menu = menu.addMenu("Mark re&port sent")
        self.report_menu.setObjectName("ReportMenu")
        self.report_menu.aboutToShow.connect(self._on_report_menu_about_to_show)

    def _add_bridge_actions(self: Any, menu: QMenu) -> None:
        """'Set bridge link' (Ctrl+Shift+B) and 'Open bridge' (Ctrl+B)."""
        self.bridge_action = self._action(
            menu, "Set bridge &link\u2026", "Ctrl+Shift+B", self.set_bridge_link
        )
        self.open_bridge_action = self._action(
            menu, "&Open bridge", "Ctrl+B", self.header.open_bridge
        )

    def _incident_command(
        self: _Console,
        decide: Callable[[Incident, datetime], list[NewEvent]],
        done: str,
    ) -> None:
        """Run a domain command on the selected incident; say `done` once saved."""
        if self.selected is None:
            return
        submit = partial(self.ctx.store.command, self.selected, decide)
        self._command(submit, lambda _events: self.show_message(done))

    def record_update(self: _Console) -> None:
        """Ask what stakeholder update went out, then record it (Ctrl+U)."""
        if self.selected is None:
            return
        parent = self.header.window()
        dialog = UpdateDialog(self.selected, self.zone, self.ctx.clock, parent)
        if self.run_dialog(dialog):
            self.submit_update(dialog)
        dialog.deleteLater()

    def submit_update(self: _Console, dialog: UpdateDialog) -> None:
        summary, audience, sent = dialog.update_sent()
        actor = self.ctx.settings.operator
        self._incident_command(
            lambda state, now: model.record_update_sent(
                state, summary, now=now, actor=actor, at=sent.utc, audience=audience
            ),
            "Stakeholder update recorded; the next one is due from it",
        )

    def _on_report_menu_about_to_show(self: _Console) -> None:
        """List the reports on the clock now; those already sent are greyed."""
        self.report_menu.clear()
        reports = self.clock_data["reports"] if self.clock_data else []
        for number, report in enumerate(reports, start=1):
            title = f"{report['regime'].upper()} {report['title']}"
            sent = " (sent)" if report["sent_at"] else ""
            action = self.report_menu.addAction(f"&{number} {title}{sent}")
            action.setEnabled(self.writable and not sent)
            action.triggered.connect(
                partial(self._on_report_action_triggered, report["key"], title)
            )
        if not reports:
            self.report_menu.addAction("No regulatory reports apply").setEnabled(False)

    def _on_report_action_triggered(
        self: _Console, report: str, title: str, _checked: bool = False
    ) -> None:
        self.mark_report_sent(report, title)

    def mark_report_sent(self: _Console, report: str, title: str) -> None:
        """Ask when regulatory report `report` was sent (default: now), then
        record it; the domain refuses a report whose earlier ones are not sent."""
        if self.selected is None:
            return
        if not self.writable:
            self.show_error(f"Not recorded: {self._why_not_writable()}")
            return
        parent = self.header.window()
        dialog = ReportDialog(title, self.selected, self.zone, self.ctx.clock, parent)
        if self.run_dialog(dialog):
            self.submit_report(dialog, report, title)
        dialog.deleteLater()

    def submit_report(
        self: _Console, dialog: ReportDialog, report: str, title: str
    ) -> None:
        sent, actor = dialog.report_sent(), self.ctx.settings.operator
        regimes = list(self.ctx.regimes)
        self._incident_command(
            lambda state, now: model.record_report_sent(
                state, report, now=now, actor=actor, at=sent.utc, regimes=regimes
            ),
            f"{title} recorded as sent",
        )

    def set_bridge_link(self: _Console) -> None:
        """Ask for the bridge's conference link and dial-in (Ctrl+Shift+B)."""
        incident = self.header.incident
        if incident is None:
            return
        dialog = BridgeDialog(incident, self.header.window())
        if self.run_dialog(dialog):
            self.submit_bridge(dialog)
        dialog.deleteLater()

    def submit_bridge(self: _Console, dialog: BridgeDialog) -> None:
        url, dial_in = dialog.link()
        actor = self.ctx.settings.operator
        self._incident_command(
            lambda state, now: model.set_bridge(
                state, url, dial_in=dial_in, now=now, actor=actor
            ),
            "Bridge link saved",
        )

    def _on_roster_panel_roster_action(
        self: _Console, action: str, person: str, role: str
    ) -> None:
        if self.selected is None:
            return
        decide = roster_model.decision(
            action,
            person,
            role,
            at=None,
            actor=self.ctx.settings.operator,
            policy=self.ctx.roles,
        )
        submit = partial(self.ctx.store.roster_command, self.selected, decide)
        self._command(submit, lambda _events: self.roster_panel.action_done())

    def _show_mobilisation(
        self: _Console, incident: Incident | None, roster: Roster
    ) -> None:
        """'Mobilised in 12 min' in the header once the required roles are on."""
        self.header.show_mobilisation(_mobilisation(self.ctx, incident, roster))


def _mobilisation(
    ctx: Any, incident: Incident | None, roster: Roster
) -> timedelta | None:
    if incident is None:
        return None
    required = ctx.roles.required.get(incident.severity, ())
    return roster_model.mobilisation_time(roster, required) if required else None
