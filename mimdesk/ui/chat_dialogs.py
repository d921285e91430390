"""Posting to the incident's chat, and the console's Chat menu: open the
channel, post, pin a message, show the outbox."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from datetime import tzinfo
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from mimdesk.domain import chat as chat_model
from mimdesk.domain import events as ev
from mimdesk.domain.errors import DomainError
from mimdesk.domain.events import JournalEvent
from mimdesk.domain.incident import Incident
from mimdesk.domain.outbox import Item
from mimdesk.domain.roster import Roster
from mimdesk.ui.bridge import StoreBridge
from mimdesk.ui.chat_feed import ChatFeed, platform_name, tick_boxes
from mimdesk.ui.console_api import ConsoleCommands
from mimdesk.ui.header import IncidentHeader
from mimdesk.ui.outbox_dialog import OutboxDialog
from mimdesk.ui.theme import Theme

if TYPE_CHECKING:  # the console imports this module
    pass

log = logging.getLogger(__name__)

# Platforms that can invite people (a Teams webhook cannot).
CAN_INVITE = ("matrix", "slack")
NOT_RUNNING = "Chat is not running in this window."
NO_PLATFORM = (
    "No chat platform is set up: add [matrix], [slack] or [teams] to the "
    "settings (see the README, 'Chat'), then restart MIMDesk."
)
EMPTY = "Write the message first: an empty message is not posted."
NO_CHOICE = "Tick at least one platform to post to."


class PostDialog(QDialog):
    """A message for the incident's channels: the text, and which of the
    platforms set up it goes to (the default ones ticked). Ctrl+Enter posts;
    an empty text or no platform keeps the dialog open and says why."""

    def __init__(
        self,
        incident: Incident,
        platforms: Sequence[str],
        default_platforms: Sequence[str],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("PostDialog")
        self.setWindowTitle(f"Post to the {incident.id} chat")
        self.setMinimumWidth(620)
        title = QLabel(chat_model.status_line(incident))
        title.setObjectName("Muted")
        title.setWordWrap(True)
        self.text = QPlainTextEdit()
        self.text.setObjectName("PostText")
        self.text.setAccessibleName("Message")
        self.text.setPlaceholderText(
            "What the channel should read \u2014 Ctrl+Enter posts"
        )
        self.text.setTabChangesFocus(True)
        self.text.setMinimumHeight(140)
        chat = [p for p in platforms if p in chat_model.PLATFORMS]  # not email
        self.boxes = {p: QCheckBox(platform_name(p)) for p in chat}
        for platform, box in self.boxes.items():
            box.setChecked(platform in default_platforms)
        self.problem = QLabel()
        self.problem.setObjectName("PostProblem")
        self.problem.setWordWrap(True)
        self.problem.hide()
        note = QLabel(
            "Queued in the outbox and sent in order; if the platform cannot be "
            "reached it waits there and goes out once it can."
        )
        note.setObjectName("Muted")
        note.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.post_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.post_button.setText("&Post (Ctrl+Enter)")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            QShortcut(QKeySequence(keys), self, self.accept)
        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addWidget(self.text, 1)
        layout.addLayout(self._platform_row())
        layout.addWidget(self.problem)
        layout.addWidget(note)
        layout.addWidget(self.buttons)
        self.text.setFocus(Qt.FocusReason.OtherFocusReason)

    def _platform_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        row.addWidget(QLabel("Post to:"))
        for box in self.boxes.values():
            row.addWidget(box)
        row.addStretch(1)
        return row

    def message(self) -> tuple[str, list[str]]:
        """The text and the platforms ticked."""
        chosen = [p for p, box in self.boxes.items() if box.isChecked()]
        return self.text.toPlainText().strip(), chosen

    def refusal(self) -> str:
        """Why the message cannot be posted as it is; empty when it can."""
        text, chosen = self.message()
        if not text:
            return EMPTY
        if len(text) > chat_model.MAX_POST:
            return (
                f"The message is {len(text):,} characters; at most "
                f"{chat_model.MAX_POST:,} can be posted (put the rest in a note)."
            )
        return "" if chosen else NO_CHOICE

    def accept(self) -> None:
        refusal = self.refusal()
        if refusal:
            self.problem.setText(f"\u26a0 {refusal}")
            self.problem.show()
            self.text.setFocus(Qt.FocusReason.OtherFocusReason)
            return
        super().accept()

    def set_theme(self, theme: Theme) -> None:
        self.setStyleSheet(tick_boxes(theme))
        self.problem.setStyleSheet(f"color:{theme.danger}; font-weight:600;")


class _Console(ConsoleCommands, Protocol):
    """What the chat actions use of the console window."""

    @property
    def theme(self) -> Theme: ...
    @property
    def zone(self) -> tzinfo: ...
    @property
    def header(self) -> IncidentHeader: ...
    @property
    def bridge(self) -> StoreBridge: ...
    @property
    def confirm(self) -> Callable[[str, str], bool]: ...
    @property
    def roster(self) -> Roster: ...
    @property
    def writable(self) -> bool: ...

    def _why_not_writable(self) -> str: ...
    def selected_event(self) -> JournalEvent | None: ...
    def timeline_events(self) -> list[JournalEvent]: ...


class ChatActions(QObject):
    """The Chat menu's entries and what they send to the store through the
    console; after each write the outbox sender is woken."""

    def __init__(self, console: _Console, feed: ChatFeed | None, menu: QMenu) -> None:
        super().__init__(console.window())
        self.console, self.feed = console, feed
        self.outbox_dialog: OutboxDialog | None = None
        # Outbox commands in flight from the dialog: their failure is said there.
        self._dialog_commands = 0
        add = console._action
        self.open_action = add(
            menu, "&Open chat channel", "Ctrl+Shift+O", self.open_channel
        )
        self.post_action = add(menu, "&Post to chat\u2026", "Ctrl+Shift+M", self.post)
        self.pin_action = add(menu, "P&in message", "Ctrl+Shift+P", self.pin)
        menu.addSeparator()
        self.outbox_action = add(menu, "Out&box\u2026", "F4", self.show_outbox)
        self.outbox_action.setEnabled(feed is not None)
        console.bridge.command_failed.connect(self._on_bridge_command_failed)

    def enable(self, chosen: bool) -> None:
        """`chosen`: a writable store and an incident selected."""
        running = chosen and self.feed is not None
        self.open_action.setEnabled(running)
        self.post_action.setEnabled(running)
        self.pin_action.setEnabled(chosen)

    def _ready(self) -> Incident | None:
        """The selected incident, if chat can be used for it; else say why."""
        incident = self.console.header.incident
        if incident is None:
            return None
        feed = self.feed
        problem = (
            NOT_RUNNING
            if feed is None
            else feed.off_reason or ("" if feed.platforms else NO_PLATFORM)
        )
        if not problem:
            try:
                chat_model.check_open(incident)
            except DomainError as exc:
                problem = str(exc)
        if problem:
            self.console.show_error(problem)
            return None
        return incident

    def _wake(self, _result: object = None) -> None:
        if self.feed is not None:
            self.feed.wake()

    # --- open the channel ---------------------------------------------------------

    def open_channel(self) -> None:
        """Open the channel on the default platforms, inviting the roster."""
        incident = self._ready()
        if incident is None or self.feed is None:
            return
        platforms = self.feed.default_platforms
        if not platforms:
            self.console.show_error(
                "None of the platforms in [chat] platforms is set up; fix the "
                "settings (see the README, 'Chat'), then restart MIMDesk."
            )
            return
        people = list(self.console.roster.participants)
        invites: dict[str, list[chat_model.Invite]] = {}
        missing: dict[str, list[str]] = {}
        for platform in platforms:
            if platform not in CAN_INVITE:
                continue
            found, nobody = chat_model.invites_for(
                people, self.console.ctx.directory, platform
            )
            invites[platform], missing[platform] = found, nobody
        ctx = self.console.ctx
        submit = partial(
            ctx.store.open_chat, incident.id, list(platforms),
            actor=ctx.settings.operator, invites=invites,
        )  # fmt: skip
        self.console._command(submit, partial(self._on_opened, incident.id, missing))

    def _on_opened(
        self,
        incident_id: str,
        missing: dict[str, list[str]],
        events: list[JournalEvent],
    ) -> None:
        """Say what was queued (platforms opened before are left out) and who
        could not be invited."""
        self._wake()
        opened = next((e for e in events if e.kind == ev.CHAT_OPENED), None)
        platforms = list(opened.payload["platforms"]) if opened else []
        count = sum(len(v) for v in opened.payload["invites"].values()) if opened else 0
        names = ", ".join(platform_name(p) for p in platforms)
        text = f"{incident_id}: channel queued on {names}, {count} invite(s)"
        name = self.console.ctx.directory.name
        unreached = {p: missing[p] for p in platforms if missing.get(p)}
        for platform, nobody in unreached.items():
            who = ", ".join(name(person) for person in nobody)
            text += f"; no {platform_name(platform)} handle for {who}"
        if unreached:
            text += " (add one to the directory to invite them)"
        self.console.show_message(text)

    # --- post -----------------------------------------------------------------

    def post(self) -> None:
        """Ask for a message and queue it for the incident's channels."""
        incident = self._ready()
        if incident is None or self.feed is None:
            return
        dialog = PostDialog(
            incident,
            self.feed.platforms,
            self.feed.default_platforms,
            self.console.window(),
        )
        dialog.set_theme(self.console.theme)
        if self.console.run_dialog(dialog):
            self.submit_post(incident.id, dialog)
        dialog.deleteLater()

    def submit_post(self, incident_id: str, dialog: PostDialog) -> None:
        text, platforms = dialog.message()
        ctx = self.console.ctx
        submit = partial(
            ctx.store.post_chat, incident_id, text, platforms,
            actor=ctx.settings.operator,
        )  # fmt: skip
        names = ", ".join(platform_name(p) for p in platforms)
        done = f"{incident_id}: message queued for {names}"
        self.console._command(submit, partial(self._on_posted, done))

    def _on_posted(self, text: str, _events: object) -> None:
        self._wake()
        self.console.show_message(text)

    # --- pin ------------------------------------------------------------------

    def pin(self) -> None:
        """Pin the chat message selected in the timeline (unpin it if pinned)."""
        incident = self.console.header.incident
        if incident is None:
            return
        event = self.console.selected_event()
        if event is None:
            self.console.show_error(
                "Select a chat message in the timeline first, then pin it "
                "(Ctrl+Shift+P)."
            )
            return
        if event.kind not in (ev.CHAT_RECEIVED, ev.CHAT_POSTED):
            self.console.show_error(
                "Only chat messages can be pinned (ones read from the channel or "
                "posted to it); the selected row is not one."
            )
            return
        unpin = event.id in chat_model.pinned(self.console.timeline_events())
        ctx = self.console.ctx
        submit = partial(
            ctx.store.pin_chat, incident.id, event.id,
            actor=ctx.settings.operator, unpin=unpin,
        )  # fmt: skip
        done = "unpinned" if unpin else "pinned as a key timeline entry"
        self.console._command(
            submit, partial(self._on_posted, f"{incident.id}: message {done}")
        )

    # --- the outbox -------------------------------------------------------------

    def show_outbox(self) -> None:
        """Open (or bring forward) the outbox window (F4)."""
        if self.feed is None:
            self.console.show_error(NOT_RUNNING)
            return
        if self.outbox_dialog is None:
            console = self.console
            dialog = OutboxDialog(
                console.bridge, self.feed, console.theme, console.zone,
                console.ctx.clock.now, console.window(),
            )  # fmt: skip
            dialog.retry_asked.connect(self._on_outbox_retry_asked)
            dialog.cancel_asked.connect(self._on_outbox_cancel_asked)
            self.outbox_dialog = dialog
        dialog = self.outbox_dialog
        dialog.reload()
        if dialog.isVisible():
            dialog.raise_()  # behind the console: bring it forward
        dialog.show()
        dialog.activateWindow()

    def _on_outbox_retry_asked(self, item: Item) -> None:
        ctx = self.console.ctx
        submit = partial(ctx.store.outbox_retry, item.id, actor=ctx.settings.operator)
        self._outbox_command(submit, f"#{item.id} queued again: {item.describe()}")

    def _on_outbox_cancel_asked(self, item: Item) -> None:
        question = (
            f"Cancel outbox #{item.id} ({platform_name(item.platform)}, "
            f"{item.incident_id}: {item.describe()})? It will not be sent, and the "
            "messages queued behind it go ahead. The cancelling is recorded in "
            "the incident's timeline."
        )
        if not self.console.confirm("Cancel message", question):
            return
        ctx = self.console.ctx
        submit = partial(ctx.store.outbox_cancel, item.id, actor=ctx.settings.operator)
        self._outbox_command(submit, f"#{item.id} cancelled: {item.describe()}")

    def _outbox_command(self, submit: Callable[[], Future[Any]], done: str) -> None:
        if self.console.writable:
            self._dialog_commands += 1
        elif self.outbox_dialog is not None:
            why = self.console._why_not_writable()
            self.outbox_dialog.say(f"Not recorded: {why}", error=True)
        self.console._command(submit, partial(self._on_outbox_done, done))

    def _on_outbox_done(self, text: str, _item: object) -> None:
        self._dialog_commands = max(self._dialog_commands - 1, 0)
        self._wake()
        self.console.show_message(text)
        if self.outbox_dialog is not None:
            self.outbox_dialog.say(text)
            self.outbox_dialog.reload()

    def _on_bridge_command_failed(self, text: str) -> None:
        if self._dialog_commands and self.outbox_dialog is not None:
            self._dialog_commands -= 1
            self.outbox_dialog.say(text, error=True)

    def set_look(self, theme: Theme, zone: tzinfo) -> None:
        if self.outbox_dialog is not None:
            self.outbox_dialog.set_look(theme, zone)
