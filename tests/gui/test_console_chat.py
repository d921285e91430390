"""Chat in the console: banners at start, the status bar, the Chat menu, the
outbox window, and messages read back into the timeline.

Platforms are the scripted in-process double of the outbox sender's tests,
injected through `start_chat(setup=...)`; the sender and readers run on their
real threads."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence

import keyring
import pytest
from keyring.backends import fail
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog
from unit.sync.test_outbox_sender import Platform

from mimdesk import app
from mimdesk.connectors.chat import Batch, ChatMessage, OutMessage, Posted
from mimdesk.connectors.errors import AuthFailed
from mimdesk.demo import seed
from mimdesk.domain import events as ev
from mimdesk.domain.chat import Invite
from mimdesk.domain.outbox import Kind, Outcome, State
from mimdesk.settings import Settings, people_directory
from mimdesk.store.store import Store
from mimdesk.sync.chat_setup import ChatSetup
from mimdesk.ui.chat_dialogs import EMPTY, PostDialog
from mimdesk.ui.console import ConsoleWindow

pytestmark = pytest.mark.gui

CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
DIRECTORY, _ = people_directory(Settings(), demo=True)  # alice has a chat handle


class GatedPlatform(Platform):
    """Holds each post until the test opens the gate."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.gate.set()

    def post(self, channel: str, message: OutMessage) -> Posted:
        self.gate.wait(10)
        return super().post(channel, message)


class ReadingPlatform(Platform):
    """Gives the messages in `said` on the first read, nothing after."""

    def __init__(self, said: Sequence[ChatMessage]) -> None:
        super().__init__()
        self.said = list(said)

    def read(
        self, channels: Sequence[str], position: str | None, **_kw: object
    ) -> Batch:
        said, self.said = tuple(self.said), []
        return Batch(messages=said, position=f"p{len(said)}")


@pytest.fixture(autouse=True)
def _no_outside_chat(monkeypatch) -> Iterator[None]:
    """No settings or secrets from the machine; no keyring, as on a kiosk."""
    for name in ("MIMDESK_MATRIX_URL", "MIMDESK_SLACK_API_URL",
                 "MIMDESK_CHAT_PLATFORMS", "MIMDESK_SECRET_MATRIX_TOKEN",
                 "MIMDESK_SECRET_SLACK_TOKEN", "MIMDESK_SECRET_SLACK_WEBHOOK",
                 "MIMDESK_SECRET_TEAMS_WEBHOOK"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    before = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(before)


@pytest.fixture
def start_chat(store: Store) -> Iterator[Callable[..., app.ChatRun]]:
    runs: list[app.ChatRun] = []

    def start(
        *platforms: Platform,
        readable: bool = False,
        notices: list[tuple[str, str]] | None = None,
        demo: bool = False,
        on: Store | None = None,
    ) -> app.ChatRun:
        setup = None
        if platforms:
            factories = {p.name: (lambda p=p: p) for p in platforms}
            setup = ChatSetup(
                factories=dict(factories),
                default_platforms=tuple(factories),
                readable=set(factories) if readable else set(),
            )
        run = app.start_chat(
            Settings(), on or store, DIRECTORY, demo=demo, notices=notices,
            setup=setup,
        )  # fmt: skip
        runs.append(run)
        return run

    yield start
    for run in runs:
        run.stop()


def console_with(make_console, run: app.ChatRun, **kw) -> ConsoleWindow:
    return make_console(chat=run.feed, directory=DIRECTORY, **kw)


def outbox(store: Store) -> list[tuple[Kind, State, dict[str, object]]]:
    return [(i.kind, i.state, i.payload) for i in store.outbox_items(include_done=True)]


def opened(store: Store, incident_id: str, platform: str = "matrix") -> None:
    """The incident's channel exists: its opening was delivered earlier."""
    store.open_chat(incident_id, [platform], actor="dana").result()
    [create] = [i for i in store.outbox_open() if i.kind is Kind.CREATE_CHANNEL]
    store.outbox_record(
        create.id, Outcome.DELIVERED, channel=f"!room-{incident_id}"
    ).result()


def press(qtbot, window: ConsoleWindow, key: Qt.Key, mods=CTRL_SHIFT) -> None:
    qtbot.keyClick(window, key, mods)


# --- start-up -------------------------------------------------------------------


def test_no_keyring_is_one_banner_saying_how_to_pass_secrets(
    make_console, start_chat
) -> None:
    notices: list[tuple[str, str]] = []
    run = start_chat(notices=notices)

    window = console_with(make_console, run, banners=notices)

    shown = window.banners.shown()
    keyring_banners = [t for t in shown if "system keyring" in t]
    assert len(keyring_banners) == 1
    assert keyring_banners[0].startswith("no system keyring - secrets not persisted")
    assert "MIMDESK_SECRET_MATRIX_TOKEN" in keyring_banners[0]
    assert notices[0][0] == "warning"
    assert not window.chat_status.isVisible()  # nothing set up, nothing waits


def test_demo_and_read_only_stores_run_no_chat(start_chat, store: Store) -> None:
    demo = start_chat(Platform(), demo=True)
    read_only = Store(store.path, read_only=True)
    try:
        kept = start_chat(Platform(), on=read_only)
    finally:
        read_only.close()

    assert demo.sender is None
    assert not demo.pollers
    assert demo.feed is not None
    assert "DEMO" in demo.feed.off_reason
    assert kept.feed is None
    assert kept.sender is None


# --- the Chat menu ----------------------------------------------------------------


def test_opening_a_channel_queues_it_and_invites_those_with_a_handle(
    make_console, start_chat, store: Store, qtbot
) -> None:
    platform = Platform()
    window = console_with(make_console, start_chat(platform))
    incident = window.selected
    assert incident is not None

    press(qtbot, window, Qt.Key.Key_O)
    qtbot.waitUntil(lambda: platform.invited == ["@alice:example.invalid"])
    qtbot.waitUntil(lambda: "invite(s)" in window.statusBar().currentMessage())

    rows = outbox(store)
    assert rows[0][:2] == (Kind.CREATE_CHANNEL, State.DELIVERED)
    assert rows[1][0] is Kind.INVITE
    assert rows[1][2]["person"] == "alice"
    assert len(rows) == 2
    message = window.statusBar().currentMessage()
    assert "1 invite(s)" in message
    assert "no Matrix handle for Bob Okafor (DEMO)" in message
    assert store.chat_channel(incident, "matrix") == f"!room-{incident}"


def test_a_post_waits_in_the_status_bar_until_it_is_delivered(
    make_console, start_chat, store: Store, qtbot
) -> None:
    platform = GatedPlatform()
    run = start_chat(platform)
    window = console_with(make_console, run)
    incident = window.selected
    store.open_chat(incident, ["matrix"], actor="dana").result()
    run.feed.wake()
    qtbot.waitUntil(lambda: store.chat_channel(incident, "matrix") is not None)
    platform.gate.clear()

    def write(dialog: QDialog) -> bool:
        assert isinstance(dialog, PostDialog)
        assert [p for p, box in dialog.boxes.items() if box.isChecked()] == ["matrix"]
        dialog.show()
        dialog.activateWindow()
        qtbot.waitUntil(dialog.isActiveWindow)
        qtbot.keyClicks(dialog.text, "Failover started, next update 03:30")
        qtbot.keyClick(
            dialog.text, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier
        )
        return dialog.result() == QDialog.DialogCode.Accepted

    window.run_dialog = write
    press(qtbot, window, Qt.Key.Key_M)
    label = window.chat_status.outbox
    qtbot.waitUntil(lambda: label.text().startswith("1 message waiting since"))
    waiting = label.isVisible()
    platform.gate.set()
    qtbot.waitUntil(lambda: not label.isVisible())

    assert waiting
    assert platform.arrived[-1][2] == "Failover started, next update 03:30"
    assert window.chat_status.labels["matrix"].text() == "Matrix \u2713"


def test_an_empty_message_is_refused_in_the_dialog(
    make_console, start_chat, store: Store
) -> None:
    window = console_with(make_console, start_chat(Platform()))
    said: list[str] = []

    def send_empty(dialog: QDialog) -> bool:
        assert isinstance(dialog, PostDialog)
        dialog.text.setPlainText("   \n  ")
        dialog.accept()
        said.append(dialog.problem.text())
        return dialog.result() == QDialog.DialogCode.Accepted

    window.run_dialog = send_empty
    window.chat_actions.post()

    assert said == [f"\u26a0 {EMPTY}"]
    assert outbox(store) == []


def test_a_revoked_token_says_the_platform_needs_re_authentication(
    make_console, start_chat, store: Store, qtbot
) -> None:
    platform = Platform()
    platform.script = [AuthFailed("M_UNKNOWN_TOKEN: token revoked", status=401)]
    window = console_with(make_console, start_chat(platform))

    window.chat_actions.open_channel()
    label = window.chat_status.labels["matrix"]
    qtbot.waitUntil(lambda: label.text() == "Matrix needs re-authentication")

    assert window.theme.danger in label.styleSheet()
    assert "mimdesk secret set matrix.token" in label.toolTip()
    qtbot.waitUntil(lambda: "2 messages waiting" in window.chat_status.outbox.text())
    assert [state for _k, state, _p in outbox(store)] == [State.QUEUED] * 2


def test_pinning_needs_a_chat_message_and_pins_one_read_back(
    make_console, start_chat, store: Store, qtbot, fake_time
) -> None:
    seed(store, fake_time.now())
    incident = store.incidents()[0].id
    opened(store, incident)
    said = ChatMessage(
        f"!room-{incident}", "$m1", "@bob:example.invalid", fake_time.now(),
        "Gateway restarted on the secondary", author_name="Bob",
    )  # fmt: skip
    window = console_with(
        make_console, start_chat(ReadingPlatform([said]), readable=True), demo=False
    )
    timeline = window.timeline

    qtbot.waitUntil(lambda: _row_of(window, "Gateway restarted") is not None)
    timeline.setCurrentItem(timeline.topLevelItem(0))
    window.chat_actions.pin()
    refused = window.error.text()
    timeline.setCurrentItem(timeline.topLevelItem(_row_of(window, "Gateway")))
    press(qtbot, window, Qt.Key.Key_P)
    qtbot.waitUntil(lambda: _row_of(window, "pinned: Bob") is not None)

    assert "Only chat messages can be pinned" in refused
    pins = [e for e in store.timeline(incident) if e.kind == ev.CHAT_PINNED]
    assert pins[0].payload["text"] == "Gateway restarted on the secondary"


def _row_of(window: ConsoleWindow, text: str) -> int | None:
    timeline = window.timeline
    for row in range(timeline.topLevelItemCount()):
        item = timeline.topLevelItem(row)
        if item is not None and text in item.text(2):
            return row
    return None


def test_read_only_store_or_no_incident_disables_the_chat_actions(
    make_console, start_chat, store: Store, damaged_store
) -> None:
    read_only = damaged_store()
    window = make_console(demo=False, store=read_only)
    empty = console_with(make_console, start_chat(Platform()), demo=False)

    actions = window.chat_actions
    assert window.header.incident is not None
    for action in (actions.open_action, actions.post_action, actions.pin_action):
        assert not action.isEnabled()
    assert not actions.outbox_action.isEnabled()
    assert empty.header.incident is None
    assert not empty.chat_actions.post_action.isEnabled()
    assert empty.chat_actions.outbox_action.isEnabled()


# --- the outbox window --------------------------------------------------------------


def test_outbox_retry_and_cancel_change_the_row(
    make_console, start_chat, store: Store, qtbot
) -> None:
    window = console_with(make_console, start_chat())  # nothing sends: rows stay
    incident = window.selected
    alice = Invite("alice", "@alice:example.invalid")
    store.open_chat(
        incident, ["matrix"], actor="dana", invites={"matrix": [alice]}
    ).result()
    create, invite = store.outbox_open()
    store.outbox_record(create.id, Outcome.FAILED, detail="M_FORBIDDEN").result()

    press(qtbot, window, Qt.Key.Key_F4, Qt.KeyboardModifier.NoModifier)
    dialog = window.chat_actions.outbox_dialog
    assert dialog is not None
    qtbot.waitUntil(dialog.isVisible)
    dialog.activateWindow()
    qtbot.waitUntil(dialog.isActiveWindow)
    chosen = dialog.selected()
    assert chosen is not None
    assert chosen.id == create.id
    advice = dialog.advice.text()
    qtbot.keyClick(dialog.table, Qt.Key.Key_R)
    qtbot.waitUntil(lambda: store.outbox_item(create.id).state is State.QUEUED)

    asked: list[str] = []
    window.confirm = lambda _title, text: asked.append(text) or False
    dialog.table.selectRow(1)
    qtbot.keyClick(dialog.table, Qt.Key.Key_Delete)
    kept = store.outbox_item(invite.id).state
    window.confirm = lambda _title, _text: True
    qtbot.keyClick(dialog.table, Qt.Key.Key_Delete)
    qtbot.waitUntil(lambda: store.outbox_item(invite.id).state is State.CANCELLED)
    qtbot.waitUntil(lambda: dialog.table.rowCount() == 1)

    assert "M_FORBIDDEN" in advice
    assert "R retries" in advice
    assert kept is State.QUEUED
    assert "invite @alice:example.invalid" in asked[0]
    assert "cancelled" in dialog.outcome.text()
    timeline = [e.kind for e in store.timeline(incident)]
    assert timeline.count(ev.OUTBOX_CHANGED) == 2
    dialog.show_done.setChecked(True)
    assert dialog.table.rowCount() == 2


def test_the_wall_corner_says_messages_wait(qtbot, store: Store, fake_time) -> None:
    from datetime import UTC

    from mimdesk.ui.chat_feed import ChatFeed
    from mimdesk.ui.theme import DARK
    from mimdesk.ui.wall_corner import SourceStatus

    declared = store.declare(
        title="Card payments failing", severity=1, services=[], detected_at=None,
        actor="dana",
    ).result()  # fmt: skip
    store.post_chat(declared, "Failover started", ["slack"], actor="dana").result()
    wall_store = Store(store.path, read_only=True)
    feed = ChatFeed(wall_store)
    corner = SourceStatus(DARK, UTC)
    qtbot.addWidget(corner)
    corner.show()

    corner.follow_outbox(feed, now=fake_time.now)
    shown = corner.outbox.text(), corner.outbox.isVisible()
    feed.stop()
    wall_store.close()

    assert shown == ("1 message waiting since 14:00 UTC", True)
