"""The console's RECOVERY panel: the selected incident's actions, keyboard first.

Ctrl+K moves to the list; there N adds an action, A assigns the selected one,
S starts it, D marks it done, B blocks it and X skips it (both with a reason),
C runs its check. Ctrl+Shift+V runs the verification checks off the GUI thread
and records each result; until they pass, or "Override verification…" records
the commander's word, the Status menu says mitigated and resolved must wait.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from datetime import datetime, tzinfo
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from PySide6.QtCore import QObject, QSize, Qt, Signal
from PySide6.QtGui import QAction, QKeyEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from mimdesk.domain import actions as model
from mimdesk.domain.errors import DomainError
from mimdesk.domain.events import JournalEvent
from mimdesk.domain.incident import Incident, describe
from mimdesk.domain.lifecycle import Status
from mimdesk.domain.roster import Roster
from mimdesk.domain.runbooks import Check, parse_duration
from mimdesk.domain.times import format_clock
from mimdesk.ui.console_api import ConsoleCommands
from mimdesk.ui.theme import Theme

if TYPE_CHECKING:  # the console imports this module
    from mimdesk.ui.banners import BannerStack
    from mimdesk.ui.bridge import StoreBridge
    from mimdesk.ui.console import ConsoleContext

log = logging.getLogger(__name__)
T = TypeVar("T")
TITLE = "RECOVERY \u2014 CTRL+K"
KEYS_HINT = (
    "keys: N new \u00b7 A assign \u00b7 S start \u00b7 D done \u00b7 B block "
    "\u00b7 X skip \u00b7 C runs its check \u00b7 Ctrl+Shift+V verifies"
)
KEYS = {
    Qt.Key.Key_N: "add", Qt.Key.Key_A: "assign", Qt.Key.Key_S: "start",
    Qt.Key.Key_D: "done", Qt.Key.Key_B: "block", Qt.Key.Key_X: "skip",
    Qt.Key.Key_C: "check",
}  # fmt: skip
STATUS_OF = {
    "start": model.ActionStatus.IN_PROGRESS, "done": model.ActionStatus.DONE,
    "block": model.ActionStatus.BLOCKED, "skip": model.ActionStatus.SKIPPED,
}  # fmt: skip
NOBODY = "(nobody yet)"
WAITS = " (waits for verification: Ctrl+Shift+V)"
ROWS_SHOWN = 7  # header included: the timeline and bridge above need the room


class ActionTree(QTreeWidget):
    """The list of actions; a letter key asks for a command on the current row.

    Signals: key_chosen(verb) for N, A, S, D, B, X."""

    key_chosen = Signal(str)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        verb = KEYS.get(Qt.Key(event.key()))
        if (
            verb is not None
            and not event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        ):
            self.key_chosen.emit(verb)
            return
        super().keyPressEvent(event)

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        return QSize(hint.width(), ROWS_SHOWN * self.fontMetrics().height() + 8)


class ActionsPanel(QWidget):
    """Progress (done/total, blocked, overdue) and one row per action."""

    def __init__(self, theme: Theme, zone: tzinfo) -> None:
        super().__init__()
        self.setObjectName("ActionsPanel")
        self.theme = theme
        self.zone = zone
        self.board = model.Board()
        title = QLabel(TITLE)
        title.setObjectName("SectionTitle")
        self.progress = QLabel("No incident selected.")
        self.progress.setWordWrap(True)
        self.tree = ActionTree()
        self.tree.setObjectName("ActionsList")
        self.tree.setHeaderLabels(["#", "Status", "Owner", "Action", "Due"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(title)
        layout.addWidget(self.progress)
        layout.addWidget(self.tree, 1)

    def show_board(
        self, incident: Incident | None, board: model.Board, now: datetime
    ) -> None:
        # FIXME(console): overdue is worked out when the store is read, not on
        # the console's tick; a tick() re-showing the last board would fix it.
        chosen = self.selected_id()
        self.board = board
        self.tree.clear()
        self.progress.setText(self._progress_text(incident, board, now))
        for action in board.actions.values():
            self.tree.addTopLevelItem(self._row(action, now))
        # No actions, no panel: the room goes to the timeline and bridge.
        self.setVisible(bool(board.actions))
        for column in (0, 1, 2, 4):
            self.tree.resizeColumnToContents(column)
        found = self.tree.findItems(chosen or "", Qt.MatchFlag.MatchExactly, 0)
        keep = found[0] if found else self.tree.topLevelItem(0)
        if keep is not None:
            self.tree.setCurrentItem(keep)

    def _progress_text(
        self, incident: Incident | None, board: model.Board, now: datetime
    ) -> str:
        if incident is None:
            return "No incident selected."
        if not board.actions:
            return "No actions yet: N adds one, or start a runbook (Incident menu)."
        done = model.progress(board, now)
        text = f"{done.done}/{done.total} done \u00b7 {done.blocked} blocked"
        if done.overdue:
            late = ", ".join(f"{a.id} ({a.owner or 'no owner'})" for a in done.overdue)
            text += f" \u00b7 overdue: {late}"
        failing = model.gate(board, Status.MITIGATED)
        if board.verify:
            text += " \u00b7 verify: " + ("not passed" if failing else "passed")
        return f"{text}   ({KEYS_HINT})"

    def _row(self, action: model.Action, now: datetime) -> QTreeWidgetItem:
        status = action.status.value + (f": {action.reason}" if action.reason else "")
        due = format_clock(action.due, self.zone) if action.due else ""
        title = action.title + (
            f" (after {', '.join(action.after)})" if action.after else ""
        )
        item = QTreeWidgetItem(
            [action.id, status, action.owner or "\u2014", title, due]
        )
        tip = action.decision or action.title
        item.setToolTip(3, tip)
        colour = None
        if action.status is model.ActionStatus.BLOCKED or action.overdue(now):
            colour = self.theme.danger
        elif action.status.finished:
            colour = self.theme.muted
        if colour:
            for column in range(5):
                item.setForeground(column, _brush(colour))
        return item

    def selected_id(self) -> str | None:
        item = self.tree.currentItem()
        return item.text(0) if item is not None else None


def _brush(colour: str) -> Any:
    from PySide6.QtGui import QBrush, QColor

    return QBrush(QColor(colour))


class ActionDialog(QDialog):
    """One small form for every action command: only the fields it needs show."""

    def __init__(
        self,
        title: str,
        *,
        people: Sequence[str] = (),
        text: bool = False,
        due: bool = False,
        reason: bool = False,
        choices: Sequence[str] = (),
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("ActionDialog")
        self.setWindowTitle(title)
        self.setMinimumWidth(520)
        form = QFormLayout()
        self.text = QLineEdit()
        self.owner = QComboBox()
        self.due = QLineEdit()
        self.due.setPlaceholderText("e.g. 30m, or a time like 14:30")
        self.after = QLineEdit()
        self.after.setPlaceholderText("actions it waits for, e.g. A1 A3")
        self.reason = QLineEdit()
        self.reason.setPlaceholderText("Why (kept in the journal)")
        self.choice = QComboBox()
        for value in choices:
            self.choice.addItem(value)
        if choices:
            form.addRow("&Status", self.choice)
        if text:
            form.addRow("&Action", self.text)
        if people:
            for person in people:
                self.owner.addItem(person)
            form.addRow("&Owner", self.owner)
        if due:
            form.addRow("&Due", self.due)
            form.addRow("&Waits for", self.after)
        if reason:
            form.addRow("&Reason", self.reason)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText("Record")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)
        needed = [w for w, on in ((self.text, text), (self.reason, reason)) if on]
        for widget in needed:
            widget.textChanged.connect(self._on_input_changed)
        self._needed = needed
        self._on_input_changed()
        (needed[0] if needed else self.owner).setFocus()

    def _on_input_changed(self) -> None:
        self.ok.setEnabled(all(w.text().strip() for w in self._needed))

    def person(self) -> str | None:
        chosen = self.owner.currentText()
        return None if not chosen or chosen == NOBODY else chosen


class _Console(ConsoleCommands, Protocol):
    """What the recovery actions use of the console window."""

    @property
    def actions_panel(self) -> ActionsPanel: ...
    @property
    def roster(self) -> Roster: ...
    @property
    def selected(self) -> str | None: ...
    @property
    def status_actions(self) -> dict[Status, QAction]: ...
    @property
    def writable(self) -> bool: ...
    @property
    def bridge(self) -> StoreBridge: ...
    @property
    def banners(self) -> BannerStack: ...


class RecoveryActions(QObject):
    """The Incident menu's recovery entries and the panel's keys, turned into
    store commands for the selected incident."""

    def __init__(self, console: _Console, menu: QMenu) -> None:
        super().__init__(console.window())
        self.console = console
        self.incident: Incident | None = None
        menu.addSeparator()
        self.focus_action = console._action(
            menu, "Recovery &actions", "Ctrl+K", self.focus
        )
        self.new_action = console._action(
            menu, "New recovery action\u2026", "Ctrl+Shift+K", partial(self.ask, "add")
        )
        self.runbook_action = console._action(
            menu, "Start a &runbook\u2026", None, self.start_runbook
        )
        self.verify_action = console._action(
            menu, "&Verify recovery", "Ctrl+Shift+V", self.verify
        )
        self.override_action = console._action(
            menu, "Override verification\u2026", None, self.override
        )
        console.actions_panel.tree.key_chosen.connect(self.ask)
        self.writable = False
        from mimdesk.ui.rule_actions import UNDO_KEY, RuleActions

        self.rules = RuleActions(self)
        self.undo_rule_action = console._action(
            menu, "Undo an au&tomation rule\u2026", UNDO_KEY, self.rules.undo
        )

    def enable(self, chosen: bool) -> None:
        """`chosen`: a writable store and an incident selected."""
        self.writable = chosen
        for action in (self.new_action, self.runbook_action, self.verify_action,
                       self.override_action, self.undo_rule_action):  # fmt: skip
            action.setEnabled(chosen)
        board = self.console.actions_panel.board
        for target in model.GATED:
            entry = self.console.status_actions[target]
            waiting = bool(model.gate(board, target))
            entry.setText(target.label + (WAITS if waiting else ""))

    def show(
        self, incident: Incident | None, events: list[JournalEvent] | None
    ) -> None:
        """Fold the board from the events the timeline just read."""
        panel = self.console.actions_panel
        if events is None and incident is not None and incident == self.incident:
            return  # unreadable: keep what is shown
        self.incident = incident
        self.rules.show(events)
        board = model.board_of(events or [])
        panel.show_board(incident, board, self.console.ctx.clock.now())

    def focus(self) -> None:
        panel = self.console.actions_panel
        if panel.isHidden():
            self.console.show_message(
                "No recovery actions yet: Ctrl+Shift+K adds one, or Incident "
                "\u2192 Start a runbook."
            )
            return
        panel.tree.setFocus()

    # --- commands -------------------------------------------------------------

    def ask(self, verb: str) -> None:
        """Ask what the command needs, then record it."""
        incident = self.incident
        if incident is None or not self.writable:
            return
        panel = self.console.actions_panel
        action_id = panel.selected_id()
        if verb != "add" and action_id is None:
            self.console.show_error("Select an action first (Ctrl+K, then the arrows).")
            return
        decide = self._decision(verb, action_id or "")
        if decide is not None:
            self._record(incident.id, decide)

    def _people(self, *, nobody: bool) -> list[str]:
        people = sorted(self.console.roster.participants)
        return [NOBODY, *people] if nobody else people

    def _decision(self, verb: str, action_id: str) -> model.Decision | None:
        actor = self.console.ctx.settings.operator
        if verb == "check":
            self.check(action_id)
            return None
        if verb in ("start", "done"):
            status = STATUS_OF[verb]
            return lambda i, b, _r, now: [
                model.set_status(i, b, action_id, status, now=now, actor=actor)
            ]
        if verb in ("block", "skip"):
            dialog = ActionDialog(
                f"{verb.capitalize()} {action_id}", reason=True,
                parent=self.console.window(),
            )  # fmt: skip
            if not self._run(dialog):
                return None
            why, status = dialog.reason.text(), STATUS_OF[verb]
            return lambda i, b, _r, now: [
                model.set_status(
                    i, b, action_id, status, now=now, actor=actor, reason=why
                )
            ]
        if verb == "assign":
            people = self._people(nobody=False)
            if not people:
                self.console.show_error("Nobody is on the bridge roster yet.")
                return None
            dialog = ActionDialog(
                f"Assign {action_id}", people=people, parent=self.console.window()
            )
            if not self._run(dialog):
                return None
            who = dialog.owner.currentText()
            return lambda i, b, r, now: [
                model.assign(i, b, r, action_id, who, now=now, actor=actor)
            ]
        return self._add(actor)

    def _add(self, actor: str) -> model.Decision | None:
        dialog = ActionDialog(
            "New recovery action", text=True, due=True,
            people=self._people(nobody=True), parent=self.console.window(),
        )  # fmt: skip
        if not self._run(dialog):
            return None
        title, owner = dialog.text.text(), dialog.person()
        after = dialog.after.text().replace(",", " ").split()
        try:
            due = self._due(dialog.due.text())
        except DomainError as exc:
            self.console.show_error(f"Not recorded: {exc}")
            return None
        return lambda i, b, r, now: [
            model.add_action(i, b, r, title, now=now, actor=actor, owner=owner,
                             due=due, after=after)
        ]  # fmt: skip

    def _due(self, text: str) -> datetime | None:
        if not text.strip():
            return None
        now = self.console.ctx.clock.now()
        try:
            return now + parse_duration(text)
        except DomainError:
            from mimdesk.domain.times import parse_instant

            return parse_instant(
                text, zone=self.console.actions_panel.zone, now=now
            ).utc

    def _run(self, dialog: QDialog) -> bool:
        try:
            return self.console.run_dialog(dialog)
        finally:
            dialog.deleteLater()

    def _record(self, incident_id: str, decide: model.Decision) -> None:
        store = self.console.ctx.store
        submit = partial(store.action_command, incident_id, decide)
        self.console._command(submit, self._on_recorded)

    def _on_recorded(self, events: list[JournalEvent]) -> None:
        if events:
            # A runbook's start says more than its last action does.
            shown = events[0] if len(events) > 1 else events[-1]
            self.console.show_message(f"{shown.incident_id}: {describe(shown)}")

    def start_runbook(self) -> None:
        """Offer the runbooks, fitting ones first; start the chosen one."""
        incident = self.incident
        if incident is None:
            return
        found = self.console.ctx.runbooks
        fits = [
            r for r in found.runbooks if r.fits(incident.services, incident.severity)
        ]
        ordered = fits + [r for r in found.runbooks if r not in fits]
        if not ordered:
            problems = "; ".join(found.problems) or "none in the runbooks folder"
            self.console.show_error(f"No runbooks to start ({problems}).")
            return
        dialog = ActionDialog(
            f"Start a runbook on {incident.id}",
            choices=[f"{r.id} \u2014 {r.name}" for r in ordered],
            parent=self.console.window(),
        )
        if not self._run(dialog):
            return
        chosen, actor = (
            ordered[dialog.choice.currentIndex()],
            self.console.ctx.settings.operator,
        )
        self._record(
            incident.id,
            lambda i, b, r, now: model.start_runbook(
                i, b, r, chosen, now=now, actor=actor
            ),
        )

    def declared(self, incident_id: str) -> None:
        """A declaration made here: the automation rules due on it fire."""
        self.rules.fire(incident_id)

    def changed(self, incident_id: str) -> None:
        """A status or severity change made here: rules due now fire (a SEV1
        escalation mobilises, "mitigated" starts the recovery watch)."""
        self.rules.fire(incident_id)

    def verify(self) -> None:
        """Run the verification checks in the background and record the results."""
        incident = self.incident
        if incident is None:
            return
        board = self.console.actions_panel.board
        if not board.verify:
            self.console.show_error(
                "No verification checks: start a runbook that has [[verify]]."
            )
            return
        ctx, checks = self.console.ctx, board.verify
        self.console.show_message(f"{incident.id}: verifying recovery\u2026")
        jobs = [(c, "verify") for c in checks]
        work = partial(_check_and_record, ctx, incident.id, jobs)
        self.console._command(partial(in_background, work), self._on_checked)

    def check(self, action_id: str) -> None:
        """Run the selected action's check in the background; record the result."""
        incident = self.incident
        action = self.console.actions_panel.board.actions.get(action_id)
        if incident is None or action is None:
            return
        if action.check is None:
            self.console.show_error(f"{action.id} has no automated check.")
            return
        self.console.show_message(f"{action.id}: checking\u2026")
        work = partial(
            _check_and_record,
            self.console.ctx,
            incident.id,
            [(action.check, action.id)],
        )
        self.console._command(partial(in_background, work), self._on_checked)

    def _on_checked(self, events: list[JournalEvent]) -> None:
        self.console.show_message("; ".join(describe(e) for e in events))

    def override(self) -> None:
        incident = self.incident
        if incident is None:
            return
        dialog = ActionDialog(
            f"Override verification for {incident.id}", reason=True,
            choices=[Status.MITIGATED.value, Status.RESOLVED.value],
            parent=self.console.window(),
        )  # fmt: skip
        if not self._run(dialog):
            return
        target, why = Status(dialog.choice.currentText()), dialog.reason.text()
        actor = self.console.ctx.settings.operator
        self._record(
            incident.id,
            lambda i, b, _r, now: [
                model.override_verification(i, b, target, why, now=now, actor=actor)
            ],
        )


def _check_and_record(
    ctx: ConsoleContext, incident_id: str, jobs: Sequence[tuple[Check, str]]
) -> list[JournalEvent]:
    """On a worker thread: each check with its timeout, then one command."""
    from mimdesk.checks import run_check  # requests: loaded when a check runs

    source = ctx.open_check_source()
    try:
        results = [
            run_check(check, target=target, now=ctx.clock.now(), source=source)
            for check, target in jobs
        ]
    finally:
        if source is not None:
            source.close()
    actor = ctx.settings.operator
    return ctx.store.action_command(
        incident_id,
        lambda _i, _b, _r, now: [
            model.record_check(r, now=now, actor=actor) for r in results
        ],
    ).result()


def in_background(work: Callable[[], T], name: str = "recovery-checks") -> Future[T]:
    """Run `work` on its own short-lived thread; the Future gives its result."""
    future: Future[T] = Future()

    def run() -> None:
        try:
            future.set_result(work())
        except Exception as exc:  # noqa: BLE001 - the GUI thread reports it
            future.set_exception(exc)

    threading.Thread(target=run, name=name, daemon=True).start()
    return future
