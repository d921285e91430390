"""The console's side of the automation rules: fire them after the operator's
own declarations and status or severity changes, offer their undo (Ctrl+Alt+Z),
and run the recovery watch's checks in the background on a timer.

The rules themselves are mimdesk.domain.rules; mimdesk.automation records them.
"""

from __future__ import annotations

import logging
from concurrent.futures import Future
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QObject, QTimer

from mimdesk import automation
from mimdesk.domain import rules
from mimdesk.domain.events import JournalEvent
from mimdesk.domain.incident import describe
from mimdesk.domain.times import format_clock
from mimdesk.ui.actions_panel import in_background

if TYPE_CHECKING:
    from mimdesk.ui.actions_panel import RecoveryActions
    from mimdesk.ui.console import ConsoleContext

log = logging.getLogger(__name__)
WATCH_TICK_MS = 15_000  # how often the console looks for recovery watch work
UNDO_KEY = "Ctrl+Alt+Z"


class RuleActions(QObject):
    """Fires the rules for the console, undoes a firing, runs recovery watches.

    `check_runner`, when set, runs checks instead of the monitoring source
    (tests give one that needs no network)."""

    def __init__(self, recovery: RecoveryActions) -> None:
        super().__init__(recovery)
        self.recovery = recovery
        self.console = recovery.console
        self.firings: list[rules.Firing] = []
        self.check_runner: automation.CheckRunner | None = None
        self._book: automation.Rulebook | None = None
        self._watching = False
        self.timer = QTimer(self)
        self.timer.setInterval(WATCH_TICK_MS)
        self.timer.timeout.connect(self.watch)
        self.timer.start()
        self.console.window().installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Close:
            self.timer.stop()
        return False

    @property
    def book(self) -> automation.Rulebook:
        if self._book is None:
            ctx = self.console.ctx
            self._book = automation.rulebook(
                ctx.settings, runbooks=ctx.runbooks.runbooks, roles=ctx.roles,
                directory=ctx.directory, cadence=ctx.targets.cadence,
            )  # fmt: skip
            for n, problem in enumerate(self._book.problems()):
                log.warning("%s", problem)
                self.console.banners.raise_alert(
                    f"automation-{n}", problem, kind="warning", dismissable=True
                )
        return self._book

    def show(self, events: list[JournalEvent] | None) -> None:
        self.firings = rules.firings(events or [])

    # --- firing -----------------------------------------------------------------

    def fire(self, incident_id: str) -> None:
        """Record the rules due on the incident now (each fires once)."""
        if not self.console.ctx.settings.automation.enabled:
            return
        submit = partial(
            automation.fire, self.console.ctx.store, incident_id, self.book
        )
        self.console._command(submit, self._on_fired)

    def _on_fired(self, events: list[JournalEvent]) -> None:
        fired = [e for e in events if e.kind in rules.KINDS]
        if fired:
            names = ", ".join(str(e.payload.get("rule", "watch")) for e in fired)
            self.console.show_message(
                f"{fired[0].incident_id}: automation: {names} ({UNDO_KEY} undoes)"
            )

    # --- undo -------------------------------------------------------------------

    def undo(self) -> None:
        """Choose one of the selected incident's firings and take it back."""
        from mimdesk.ui.actions_panel import ActionDialog

        incident = self.recovery.incident
        if incident is None or not self.recovery.writable:
            return
        live = [f for f in reversed(self.firings) if not f.undone]
        if not live:
            self.console.show_error(f"No automation rule to undo on {incident.id}.")
            return
        zone = self.console.actions_panel.zone
        dialog = ActionDialog(
            f"Undo an automation rule on {incident.id}",
            choices=[_choice(f, zone) for f in live],
            parent=self.console.window(),
        )
        try:
            if not self.console.run_dialog(dialog):
                return
            chosen = live[dialog.choice.currentIndex()]
        finally:
            dialog.deleteLater()
        submit = partial(
            automation.undo, self.console.ctx.store, incident.id, chosen.event_id,
            actor=self.console.ctx.settings.operator,
        )  # fmt: skip
        self.console._command(submit, self._on_undone)

    def _on_undone(self, events: list[JournalEvent]) -> None:
        if events:
            self.console.show_message(f"{events[0].incident_id}: {describe(events[0])}")

    # --- the recovery watch -------------------------------------------------------

    def watch(self) -> None:
        """Run due recovery watch checks on a worker thread (one round at a time)."""
        if self._watching or not self.console.writable:
            return
        self._watching = True
        work = partial(_watch_rounds, self.console.ctx, self.check_runner)
        future = in_background(work, name="recovery-watch")
        future.add_done_callback(self._on_round_finished)
        self.console.bridge.run(future, self._on_watched)

    def _on_round_finished(self, _future: Future[Any]) -> None:
        self._watching = False  # failed rounds too: the next tick tries again

    def _on_watched(self, events: list[JournalEvent]) -> None:
        ended = [e for e in events if e.kind == rules.WATCH_ENDED]
        for event in ended:
            self.console.show_message(f"{event.incident_id}: {describe(event)}")


def _choice(firing: rules.Firing, zone: Any) -> str:
    did = "; ".join(firing.payload.get("did", ())) or "nothing"
    return f"{format_clock(firing.at, zone)} {firing.rule}: {did}"


def _watch_rounds(
    ctx: ConsoleContext, runner: automation.CheckRunner | None
) -> list[JournalEvent]:
    """On a worker thread: every due watch round, each check with its timeout."""
    from mimdesk.checks import run_check  # requests: loaded when a check runs

    due = automation.watching(ctx.store, ctx.clock.now())
    if not due:
        return []
    source = ctx.open_check_source() if runner is None else None

    def run(check: Any, target: str, now: datetime) -> Any:
        return run_check(check, target=target, now=now, source=source)

    out: list[JournalEvent] = []
    try:
        for incident_id in due:
            out += automation.watch_round(
                ctx.store, incident_id, runner or run, now=ctx.clock.now,
                actor=ctx.settings.operator,
            )  # fmt: skip
    finally:
        if source is not None:
            source.close()
    return out
