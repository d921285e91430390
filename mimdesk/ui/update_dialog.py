"""Send a stakeholder update from the console: choose the type and the
audiences, say what is new, see exactly what each audience will receive, send
(Ctrl+Enter). With approval on, sending makes a draft that someone else
approves from the same menu."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from mimdesk.domain import events as ev
from mimdesk.domain import stakeholder
from mimdesk.domain.audiences import UPDATE_TYPES, Audience, Audiences
from mimdesk.domain.errors import DomainError
from mimdesk.domain.events import JournalEvent
from mimdesk.domain.incident import Incident
from mimdesk.ui.console_api import ConsoleCommands
from mimdesk.updates import (
    Rendered,
    TemplateProblem,
    context_for,
    deliveries,
    render_all,
    update_type_for,
)

if TYPE_CHECKING:
    from mimdesk.ui.header import IncidentHeader

log = logging.getLogger(__name__)

RERENDER_MS = 150
TYPE_NAMES = {
    "initial": "Initial notification",
    "update": "Update",
    "mitigated": "Mitigated",
    "resolved": "Resolved",
}
Render = Callable[[str, Sequence[Audience], str], list[Rendered]]


def preview_text(r: Rendered) -> str:
    """Exactly what goes out, copy by copy, as the audience will see it."""
    a = r.audience
    parts: list[str] = []
    if a.email:
        parts.append(
            f"EMAIL\nTo: {', '.join(a.email)}\nSubject: {r.subject}\n\n{r.body}"
        )
    chats = [f"{p}: the incident's channel" for p in a.chat]
    chats += [f"{p}: {c}" for p, c in a.channels.items()]
    if chats:
        parts.append("CHAT (" + "; ".join(chats) + ")\n\n" + r.chat_text)
    if a.print:
        parts.append(
            f"PRINT (a PDF beside the store, in updates/)\n\n{r.subject}\n\n{r.body}"
        )
    return "\n\n" + ("\n\n" + "\u2500" * 40 + "\n\n").join(parts)


class ComposeUpdateDialog(QDialog):
    """Compose, preview, send."""

    def __init__(
        self,
        incident: Incident,
        audiences: Audiences,
        render: Render,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("ComposeUpdate")
        self.setWindowTitle(f"Stakeholder update \u2014 {incident.id}")
        self.resize(820, 680)
        self.incident, self.audiences, self._render = incident, audiences, render
        self.rendered: list[Rendered] = []

        self.kind = QComboBox()
        self.kind.setObjectName("UpdateType")
        for update_type in UPDATE_TYPES:
            self.kind.addItem(TYPE_NAMES[update_type], update_type)
        self.kind.setCurrentIndex(UPDATE_TYPES.index(update_type_for(incident)))
        self.boxes: dict[str, QCheckBox] = {}
        chosen_row = QVBoxLayout()
        for audience in audiences.audiences:
            box = QCheckBox(f"{audience.name}  \u2014 {', '.join(audience.routes())}")
            box.setObjectName(f"Audience-{audience.id}")
            self.boxes[audience.id] = box
            chosen_row.addWidget(box)
        self.message = QPlainTextEdit()
        self.message.setObjectName("UpdateMessage")
        self.message.setAccessibleName("What is new")
        self.message.setPlaceholderText(
            "What is new, in your words (optional) \u2014 Ctrl+Enter sends"
        )
        self.message.setTabChangesFocus(True)
        self.message.setMaximumHeight(110)
        self.preview = QTabWidget()
        self.preview.setObjectName("UpdatePreview")
        self.problem = QLabel()
        self.problem.setObjectName("UpdateProblem")
        self.problem.setWordWrap(True)
        self.problem.hide()

        form = QFormLayout()
        form.addRow("&Type:", self.kind)
        holder = QWidget()
        holder.setLayout(chosen_row)
        form.addRow("Audiences:", holder)
        form.addRow("&What is new:", self.message)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        verb = "Submit for approval" if audiences.approval else "Send"
        self.send_button = QPushButton(f"&{verb} (Ctrl+Enter)")
        self.send_button.setObjectName("SendUpdate")
        self.send_button.setDefault(True)
        buttons.addButton(self.send_button, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            QShortcut(QKeySequence(keys), self, self.accept)
        heading = QLabel("Preview \u2014 exactly what each audience receives")
        heading.setObjectName("SectionTitle")
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(heading)
        layout.addWidget(self.preview, 1)
        layout.addWidget(self.problem)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(buttons)
        layout.addLayout(row)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(RERENDER_MS)
        self._timer.timeout.connect(self.refresh)
        self.kind.currentIndexChanged.connect(self._on_kind_changed)
        for box in self.boxes.values():
            box.toggled.connect(self._timer.start)
        self.message.textChanged.connect(self._timer.start)
        self._tick_defaults()
        self.refresh()
        self.message.setFocus()

    @property
    def update_type(self) -> str:
        return str(self.kind.currentData())

    def chosen(self) -> list[Audience]:
        return [a for a in self.audiences.audiences if self.boxes[a.id].isChecked()]

    def _tick_defaults(self) -> None:
        wanted = {a.id for a in self.audiences.default_for(self.update_type)}
        for audience_id, box in self.boxes.items():
            box.blockSignals(True)
            box.setChecked(audience_id in wanted)
            box.blockSignals(False)

    def _on_kind_changed(self, _index: int) -> None:
        self._tick_defaults()
        self.refresh()

    # FIXME(ui): rendering runs on the GUI thread; the sandbox bounds it (1 s,
    # 100,000 loop steps), but a worker would keep typing smooth meanwhile.
    def refresh(self) -> None:
        """Render every chosen audience's copy again; say what is wrong."""
        self._timer.stop()
        current = self.preview.currentIndex()
        self.preview.clear()
        self.rendered = []
        chosen = self.chosen()
        problem = "" if chosen else "Choose at least one audience."
        if chosen:
            try:
                self.rendered = self._render(
                    self.update_type, chosen, self.message.toPlainText()
                )
            except DomainError as exc:
                problem = str(exc)
        for r in self.rendered:
            view = QPlainTextEdit(preview_text(r).strip())
            view.setReadOnly(True)
            view.setObjectName(f"Preview-{r.audience.id}")
            self.preview.addTab(view, r.audience.name)
        if 0 <= current < self.preview.count():
            self.preview.setCurrentIndex(current)
        self.problem.setText(f"\u26a0 {problem}" if problem else "")
        self.problem.setVisible(bool(problem))
        self.send_button.setEnabled(not problem)

    def accept(self) -> None:
        self.refresh()  # what is sent is what was rendered last, now
        if self.rendered and self.send_button.isEnabled():
            super().accept()


class _Console(ConsoleCommands, Protocol):
    """What the update actions use of the console window."""

    @property
    def header(self) -> IncidentHeader: ...

    def timeline_events(self) -> list[JournalEvent]: ...


class UpdateActions(QObject):
    """'Send stakeholder update…' (Ctrl+Shift+S) and 'Approve update' (the
    drafts awaiting approval, when approval is on)."""

    def __init__(
        self,
        console: _Console,
        menu: QMenu,
        impact: Callable[[Incident], Mapping[str, Any] | None] | None = None,
    ) -> None:
        super().__init__(console.window())
        self.console = console
        self.impact = impact or (lambda _incident: None)
        self.send_action = console._action(
            menu, "Send stakeholder &update\u2026", "Ctrl+Shift+S", self.compose
        )
        self.approve_menu = menu.addMenu("&Approve update")
        self.approve_menu.setObjectName("ApproveMenu")
        self.approve_menu.aboutToShow.connect(self._on_approve_menu_about_to_show)
        self.dialog: ComposeUpdateDialog | None = None

    def enable(self, chosen: bool) -> None:
        self.send_action.setEnabled(chosen)
        self.approve_menu.menuAction().setEnabled(chosen)

    def _audiences(self) -> Audiences | None:
        from mimdesk.settings import stakeholder_audiences

        ctx = self.console.ctx
        found, problem = stakeholder_audiences(ctx.settings, demo=ctx.demo)
        if problem or not found.audiences:
            self.console.show_error(
                problem
                or 'No audiences are set up: add `audiences = "audiences.toml"` '
                "to the settings (see the README, 'Stakeholder updates')."
            )
            return None
        return found

    def _renderer(self, incident: Incident, audiences: Audiences) -> Render:
        ctx = self.console.ctx
        folders = [_path(audiences.templates)] if audiences.templates else []
        impact = self.impact(incident)

        def render(
            update_type: str, chosen: Sequence[Audience], message: str
        ) -> list[Rendered]:
            context = context_for(
                incident, update_type=update_type, message=message,
                now=ctx.clock.now(), zone=self.console.header.zone,
                severity=ctx.settings.severity,
                next_update_in=ctx.targets.cadence.get(incident.severity),
                impact=impact, operator=ctx.settings.operator,
            )  # fmt: skip
            return render_all(chosen, update_type, context, folders)

        return render

    def compose(self) -> None:
        incident = self.console.header.incident
        if incident is None:
            return
        audiences = self._audiences()
        if audiences is None:
            return
        dialog = ComposeUpdateDialog(
            incident, audiences, self._renderer(incident, audiences),
            self.console.window(),
        )  # fmt: skip
        self.dialog = dialog
        try:
            if self.console.run_dialog(dialog):
                self._send(incident, audiences, dialog)
        except TemplateProblem as exc:
            self.console.show_error(str(exc))
        finally:
            self.dialog = None
            dialog.deleteLater()

    def _send(
        self, incident: Incident, audiences: Audiences, dialog: ComposeUpdateDialog
    ) -> None:
        from mimdesk.updates import not_set_up

        rendered = dialog.rendered
        feed = self.console.ctx.chat
        if feed is not None and not feed.off_reason:  # DEMO: nothing leaves anyway
            problem = not_set_up(deliveries(rendered), feed.platforms)
            if problem:
                self.console.show_error(f"{problem}. Nothing was sent.")
                return
        copies = [r.copy() for r in rendered]
        ctx = self.console.ctx
        submit = partial(
            ctx.store.send_update, incident.id, update_type=dialog.update_type,
            copies=copies, deliveries=deliveries(rendered),
            actor=ctx.settings.operator, draft=audiences.approval,
        )  # fmt: skip
        printed = {r.audience.id for r in rendered if r.audience.print}
        self.console._command(submit, partial(self._on_sent, incident.id, printed))

    def _on_sent(
        self, incident_id: str, printed: set[str], events: list[JournalEvent]
    ) -> None:
        if self.console.ctx.chat is not None:
            self.console.ctx.chat.wake()
        event = events[-1]
        p = event.payload
        if event.kind == ev.UPDATE_DRAFTED:
            text = (
                f"{incident_id}: update to {p['audience']} drafted; someone else "
                "approves it (Incident \u2192 Approve update)"
            )
        else:
            text = f"{incident_id}: update queued for {p['audience']}"
            text += self._print(incident_id, event, printed)
        skipped = p.get("skipped") or []
        if skipped:
            where = ", ".join(f"{s['audience']} on {s['platform']}" for s in skipped)
            text += f"; not sent to {where}: open the chat channel first"
            self.console.show_error(text)
        else:
            self.console.show_message(text)

    def _print(self, incident_id: str, event: JournalEvent, printed: set[str]) -> str:
        """Write the copies of paper audiences as PDF; say where, or why not."""
        from mimdesk.ui.pdf import write_update_pdf

        folder = self.console.ctx.store.path.parent / "updates"
        written: list[str] = []
        for copy in event.payload.get("copies", ()):
            if copy["audience"] not in printed:
                continue
            try:
                path = write_update_pdf(
                    folder, incident_id=incident_id, audience=copy["audience"],
                    subject=copy["subject"], body=copy["body"], at=event.occurred_at,
                )  # fmt: skip
            except OSError as exc:
                log.error("update PDF not written: %s", exc)
                self.console.show_error(f"The update PDF could not be written: {exc}")
                continue
            written.append(str(path))
        return f"; to print: {', '.join(written)}" if written else ""

    def _on_approve_menu_about_to_show(self) -> None:
        self.approve_menu.clear()
        drafts = stakeholder.pending_drafts(self.console.timeline_events())
        if not drafts:
            none = self.approve_menu.addAction("No update awaits approval")
            none.setEnabled(False)
            return
        for draft in drafts:
            p = draft.payload
            action = self.approve_menu.addAction(
                f"{p['update_type']} to {p['audience']} (by {draft.actor})"
            )
            action.triggered.connect(partial(self.approve, draft.id))

    def approve(self, draft_id: str) -> None:
        incident = self.console.header.incident
        if incident is None:
            return
        ctx = self.console.ctx
        submit = partial(
            ctx.store.approve_update, incident.id, draft_id,
            actor=ctx.settings.operator,
        )  # fmt: skip
        audiences = self._audiences()
        printed = {a.id for a in audiences.audiences if a.print} if audiences else set()
        self.console._command(submit, partial(self._on_sent, incident.id, printed))


def _path(folder: str) -> Any:
    from pathlib import Path

    return Path(folder)
