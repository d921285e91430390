"""The outbox: rows written with their journal event, delivered once and in order
per destination, failures handled by kind, nothing lost across a restart.

The platform here is a scripted in-process double of the ChatPlatform
interface: the real clients are tested against Synapse and the Slack/Teams
contract servers; these tests are about what the sender decides."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from mimdesk.connectors.chat import (
    Batch,
    ChatMessage,
    DeliveryUnknown,
    Limits,
    Membership,
    OutMessage,
    Posted,
    RateLimited,
)
from mimdesk.connectors.errors import AuthFailed, Permanent, Unreachable
from mimdesk.domain import events as ev
from mimdesk.domain.chat import Invite
from mimdesk.domain.directory import Directory, Person
from mimdesk.domain.errors import DomainError
from mimdesk.domain.incident import describe
from mimdesk.domain.outbox import State
from mimdesk.domain.times import parse_utc
from mimdesk.store import outbox as outbox_store
from mimdesk.store.store import Store
from mimdesk.sync.chat_poller import ChatPoller, drafts_for
from mimdesk.sync.chat_status import ChatHealth, Link
from mimdesk.sync.outbox_sender import OutboxSender

T0 = "2026-12-04T03:00:00Z"


class Clock:
    def __init__(self) -> None:
        self.now = parse_utc(T0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Platform:
    """Does what the test scripts, and remembers what arrived where."""

    name = "matrix"
    limits = Limits(max_text=100)
    can_read = True
    can_create = True
    can_find_sent = True
    user_id = "@mimdesk:localhost"

    def __init__(self) -> None:
        self.script: list[Exception | None] = []
        self.arrived: list[tuple[str, str, str]] = []  # (channel, txn, text)
        self.calls = 0
        self.invited: list[str] = []
        self.stored_but_lost: set[str] = set()

    def _next(self) -> None:
        self.calls += 1
        if self.script:
            failure = self.script.pop(0)
            if failure is not None:
                raise failure

    def ensure_channel(self, incident_id: str, title: str, topic: str) -> str:
        self._next()
        return f"!room-{incident_id}"

    def set_topic(self, channel: str, topic: str) -> None:
        self._next()

    def invite(self, channel: str, user: str) -> None:
        self._next()
        self.invited.append(user)

    def post(self, channel: str, message: OutMessage) -> Posted:
        assert message.text.strip()
        assert message.txn_id
        if message.txn_id in self.stored_but_lost:
            pass  # an earlier attempt arrived; the retry is idempotent
        else:
            self._next()
            self.arrived.append((channel, message.txn_id, message.text))
        return Posted(f"$event-{message.txn_id}")

    def find_sent(self, channel: str, txn_id: str) -> str | None:
        hit = [a for a in self.arrived if a[1] == txn_id]
        return f"$event-{txn_id}" if hit else None

    def read(
        self, channels: Sequence[str], position: str | None, **_kw: object
    ) -> Batch:
        raise NotImplementedError

    def close(self) -> None:
        pass


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> Iterator[Store]:
    opened = Store.open(tmp_path / "mimdesk.sqlite", clock=clock)
    yield opened
    opened.close()


@pytest.fixture
def incident(store: Store) -> str:
    return store.declare(
        title="Card payments failing", severity=1, services=[], detected_at=None,
        actor="dana",
    ).result()  # fmt: skip


@pytest.fixture
def platform() -> Platform:
    return Platform()


@pytest.fixture
def health() -> ChatHealth:
    return ChatHealth()


@pytest.fixture
def sender(
    store: Store, platform: Platform, health: ChatHealth, clock: Clock
) -> OutboxSender:
    return OutboxSender(store, {"matrix": lambda: platform}, health, clock=clock)


def opened(store: Store, incident: str, sender: OutboxSender) -> None:
    store.open_chat(incident, ["matrix"], actor="dana").result()
    sender.run_once()
    assert store.chat_channel(incident, "matrix") == f"!room-{incident}"


def texts(platform: Platform) -> list[str]:
    return [a[2] for a in platform.arrived]


def test_a_post_and_its_outbox_row_are_one_transaction(
    store: Store, incident: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = store.event_count()

    def full_disk(*_args: object, **_kw: object) -> list[int]:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(outbox_store, "rows_for", full_disk)
    with pytest.raises(sqlite3.OperationalError):
        store.post_chat(
            incident, "Payments degraded", ["matrix"], actor="dana"
        ).result()
    assert store.event_count() == before  # no event without its message
    monkeypatch.undo()
    store.post_chat(incident, "Payments degraded", ["matrix"], actor="dana").result()
    assert store.event_count() == before + 1
    [item] = store.outbox_open()
    assert item.payload == {"text": "Payments degraded"}
    assert item.txn_id.startswith("mimdesk-")
    assert item.event_id == store.timeline(incident)[-1].id


def test_messages_arrive_once_in_order_through_failures(
    store: Store, incident: str, sender: OutboxSender, platform: Platform,
    clock: Clock,
) -> None:  # fmt: skip
    opened(store, incident, sender)
    for n in (1, 2, 3):
        store.post_chat(incident, f"update {n}", ["matrix"], actor="dana").result()
    platform.script = [None, Unreachable("connection refused")]
    sender.run_once()  # 1 arrives, 2 fails, 3 must wait behind it
    assert texts(platform) == ["update 1"]
    clock.advance(1)
    sender.run_once()
    assert texts(platform) == ["update 1"]  # back-off: 2 s after the first failure
    clock.advance(2)
    sender.run_once()
    assert texts(platform) == ["update 1", "update 2", "update 3"]
    assert store.outbox_waiting().queued == 0
    second = [
        i for i in store.outbox_items(include_done=True) if i.kind.value == "post"
    ][1]
    outcomes = [a[1] for a in store.outbox_attempts(second.id)]
    assert outcomes == ["retry", "delivered"]


def test_rate_limit_waits_what_the_server_asked_and_reuses_the_txn_id(
    store: Store, incident: str, sender: OutboxSender, platform: Platform,
    clock: Clock,
) -> None:  # fmt: skip
    """C21: wait 3 s, the same PUT with the same txn id, nothing lost."""
    opened(store, incident, sender)
    store.post_chat(incident, "INC-0042: mitigated", ["matrix"], actor="d").result()
    platform.script = [RateLimited("M_LIMIT_EXCEEDED", retry_after=3.0)]
    sender.run_once()
    [item] = store.outbox_open()
    assert item.next_attempt_at == clock.now + timedelta(seconds=3)
    clock.advance(2.9)
    sender.run_once()
    assert platform.arrived == []
    clock.advance(0.2)
    sender.run_once()
    assert [(a[1], a[2]) for a in platform.arrived] == [
        (item.txn_id, "INC-0042: mitigated")
    ]


def test_a_retry_after_a_lost_answer_does_not_post_twice(
    store: Store, incident: str, sender: OutboxSender, platform: Platform,
    clock: Clock,
) -> None:  # fmt: skip
    """C22: the first attempt reached the server but its answer was lost."""
    opened(store, incident, sender)
    store.post_chat(incident, "INC-0042: resolved", ["matrix"], actor="d").result()
    [item] = store.outbox_open()

    original = platform.post

    def lost_answer(channel: str, message: OutMessage) -> Posted:
        original(channel, message)
        raise Unreachable("read timed out")

    platform.post = lost_answer  # type: ignore[method-assign]
    sender.run_once()
    platform.post = original  # type: ignore[method-assign]
    clock.advance(5)
    sender.run_once()
    assert [a[1] for a in platform.arrived] == [item.txn_id]  # one event
    done = store.outbox_item(item.id)
    assert done.state is State.DELIVERED
    assert done.remote_id == f"$event-{item.txn_id}"


def crashed_mid_send(store: Store, platform: Platform, incident: str) -> int:
    """A sender marked the update as being sent, the message reached the
    server, and the process died before it could record that."""
    store.post_chat(incident, "INC-0042: resolved", ["matrix"], actor="d").result()
    [item] = store.outbox_open()
    claimed = store.outbox_claim(item.id).result()
    assert claimed is not None
    platform.arrived.append((f"!room-{incident}", item.txn_id, "INC-0042: resolved"))
    return item.id


def test_a_send_cut_off_by_a_crash_is_looked_for_not_repeated(
    store: Store, incident: str, sender: OutboxSender, platform: Platform,
    clock: Clock,
) -> None:  # fmt: skip
    opened(store, incident, sender)
    item_id = crashed_mid_send(store, platform, incident)

    sender.run_once()  # the mark is fresh: maybe another sender is on it
    assert store.outbox_item(item_id).state is State.QUEUED
    clock.advance(121)  # the lease ran out: whoever had it died
    sender.run_once()

    assert len(platform.arrived) == 1  # found in the room, not posted again
    assert store.outbox_item(item_id).state is State.DELIVERED


def test_a_send_cut_off_where_nothing_can_be_looked_up_asks_the_operator(
    store: Store, incident: str, sender: OutboxSender, platform: Platform,
    clock: Clock,
) -> None:  # fmt: skip
    platform.can_find_sent = False  # Slack, Teams, email
    opened(store, incident, sender)
    item_id = crashed_mid_send(store, platform, incident)
    clock.advance(121)

    sender.run_once()

    assert len(platform.arrived) == 1
    done = store.outbox_item(item_id)
    assert done.state is State.UNKNOWN
    assert "stopped while this was being sent" in done.last_error
    assert f"mimdesk outbox cancel {item_id}" in done.last_error
    assert done.sending_since is None


def test_two_senders_never_take_the_same_row(
    store: Store, incident: str, sender: OutboxSender, platform: Platform,
    health: ChatHealth, clock: Clock,
) -> None:  # fmt: skip
    opened(store, incident, sender)
    store.post_chat(incident, "once", ["matrix"], actor="d").result()
    [item] = store.outbox_open()
    assert store.outbox_claim(item.id).result() is not None  # the other sender
    other = OutboxSender(store, {"matrix": lambda: platform}, health, clock=clock)

    assert other.attempt(item) == item  # not taken
    assert store.outbox_claim(item.id).result() is None
    assert platform.arrived == []


def test_a_permanent_failure_stops_its_destination_until_the_operator_acts(
    store: Store, incident: str, sender: OutboxSender, platform: Platform,
) -> None:  # fmt: skip
    opened(store, incident, sender)
    other = store.declare(
        title="Branch network down", severity=2, services=[], detected_at=None,
        actor="d",
    ).result()  # fmt: skip
    opened(store, other, sender)
    store.post_chat(incident, "first", ["matrix"], actor="d").result()
    store.post_chat(incident, "second", ["matrix"], actor="d").result()
    store.post_chat(other, "elsewhere", ["matrix"], actor="d").result()
    platform.script = [Permanent("M_FORBIDDEN: not in the room")]
    sender.run_once()
    sender.run_once()
    assert texts(platform) == ["elsewhere"]  # the other room is not held up
    failed, waiting = store.outbox_open()
    assert failed.state is State.FAILED
    assert waiting.state is State.QUEUED
    assert "mimdesk outbox retry" in failed.advice()
    assert store.outbox_heads() == [failed]  # "second" waits behind it
    counts = store.outbox_waiting()
    assert (counts.queued, counts.needs_operator) == (2, 1)
    assert counts.oldest == failed.created_at
    store.outbox_retry(failed.id, actor="dana").result()
    sender.run_once()
    assert texts(platform) == ["elsewhere", "first", "second"]
    assert any(
        e.kind == ev.OUTBOX_CHANGED and "retried" in describe(e)
        for e in store.timeline(incident)
    )


def test_cancel_lets_later_messages_go(
    store: Store, incident: str, sender: OutboxSender, platform: Platform,
) -> None:  # fmt: skip
    opened(store, incident, sender)
    store.post_chat(incident, "wrong room", ["matrix"], actor="d").result()
    store.post_chat(incident, "next", ["matrix"], actor="d").result()
    platform.script = [Permanent("M_FORBIDDEN")]
    sender.run_once()
    first = store.outbox_open()[0]
    store.outbox_cancel(first.id, actor="dana").result()
    sender.run_once()
    assert texts(platform) == ["next"]
    with pytest.raises(DomainError, match="already cancelled"):
        store.outbox_cancel(first.id, actor="dana").result()


def test_a_revoked_token_stops_sending_and_keeps_the_queue(
    store: Store, incident: str, sender: OutboxSender, platform: Platform,
    health: ChatHealth, clock: Clock,
) -> None:  # fmt: skip
    """C18: no attempt after the first auth error; the outbox is kept."""
    opened(store, incident, sender)
    for n in (1, 2, 3):
        store.post_chat(incident, f"update {n}", ["matrix"], actor="d").result()
    platform.script = [AuthFailed("M_UNKNOWN_TOKEN: needs re-authentication")]
    sender.run_once()
    calls = platform.calls
    for _ in range(5):
        clock.advance(600)
        sender.run_once()
    assert platform.calls == calls  # attempts after the first auth error: 0
    assert health.get("matrix").link is Link.NEEDS_AUTH
    assert [i.state for i in store.outbox_open()] == [State.QUEUED] * 3
    assert all(i.attempts == 0 for i in store.outbox_open())
    sender.reauthenticate("matrix")
    sender.run_once()
    assert texts(platform) == ["update 1", "update 2", "update 3"]


def test_an_unknown_outcome_is_never_retried_blindly(
    store: Store, incident: str, sender: OutboxSender, platform: Platform,
    clock: Clock,
) -> None:  # fmt: skip
    opened(store, incident, sender)
    store.post_chat(incident, "Slack may have it", ["matrix"], actor="d").result()
    platform.script = [DeliveryUnknown("timed out after sending")]
    sender.run_once()
    clock.advance(3600)
    sender.run_once()
    [item] = store.outbox_open()
    assert item.state is State.UNKNOWN
    assert "it may have arrived" in item.advice()
    assert platform.arrived == []


def test_nothing_is_lost_across_a_restart(
    tmp_path: Path, clock: Clock, platform: Platform
) -> None:
    path = tmp_path / "mimdesk.sqlite"
    first = Store.open(path, clock=clock)
    incident = first.declare(
        title="Outage", severity=1, services=[], detected_at=None, actor="d"
    ).result()
    first.open_chat(incident, ["matrix"], actor="d").result()
    for n in range(5):
        first.post_chat(incident, f"queued offline {n}", ["matrix"], actor="d").result()
    first.close()

    again = Store.open(path, clock=clock)
    try:
        sender = OutboxSender(again, {"matrix": lambda: platform}, ChatHealth(),
                              clock=clock)  # fmt: skip
        sender.run_once()
        assert texts(platform) == [f"queued offline {n}" for n in range(5)]
        sender.run_once()
        assert len(platform.arrived) == 5
    finally:
        again.close()


def test_a_long_message_is_split_to_the_platform_limit(
    store: Store, incident: str, sender: OutboxSender, platform: Platform,
) -> None:  # fmt: skip
    opened(store, incident, sender)
    text = "\n".join(f"line {n:03d} of the status" for n in range(12))
    store.post_chat(incident, text, ["matrix"], actor="d").result()
    sender.run_once()
    parts = texts(platform)
    assert len(parts) > 1
    assert all(len(p) <= 100 for p in parts)
    assert len({a[1] for a in platform.arrived}) == len(parts)  # a txn id each
    assert "line 000" in parts[0]


def test_a_platform_not_set_up_keeps_its_messages(
    store: Store, incident: str, health: ChatHealth, clock: Clock
) -> None:
    store.open_chat(incident, ["slack"], actor="d").result()
    sender = OutboxSender(store, {}, health, clock=clock)
    sender.run_once()
    assert [i.state for i in store.outbox_open()] == [State.QUEUED]
    assert health.get("slack").link is Link.NOT_CONFIGURED


def test_people_asked_to_join_are_invited_once_the_channel_exists(
    store: Store, incident: str, sender: OutboxSender, platform: Platform,
) -> None:  # fmt: skip
    from mimdesk.domain import roster as roster_model

    handles = {
        "ana": {"matrix": "@ana:localhost"},
        "bo": {"email": "bo@x"},  # no chat handle: asked, not invited
        "cy": {"chat": "@cy:localhost"},
    }
    store.chat_handles = lambda person: handles.get(person, {})
    store.open_chat(
        incident, ["matrix"], actor="d",
        invites={"matrix": [Invite("ana", "@ana:localhost")]},
    ).result()  # fmt: skip
    sender.run_once()
    for person in ("bo", "cy"):
        store.roster_command(
            incident, roster_model.decision("request", person, None, at=None, actor="d")
        ).result()
    sender.run_once()
    assert platform.invited == ["@ana:localhost", "@cy:localhost"]


def test_a_webhook_skips_invites_and_still_posts(
    store: Store, incident: str, sender: OutboxSender, platform: Platform,
) -> None:  # fmt: skip
    platform.can_create = False  # a webhook: one fixed destination, no invites
    store.open_chat(
        incident, ["matrix"], actor="d",
        invites={"matrix": [Invite("ana", "@ana:localhost")]},
    ).result()  # fmt: skip
    store.post_chat(incident, "Payments degraded", ["matrix"], actor="d").result()
    sender.run_once()

    assert texts(platform) == ["Payments degraded"]
    assert platform.invited == []
    invite = next(
        i for i in store.outbox_items(include_done=True) if i.kind.value == "invite"
    )
    assert invite.state is State.CANCELLED
    assert "cannot invite @ana:localhost" in invite.last_error
    assert store.outbox_waiting().needs_operator == 0


# --- reading back ------------------------------------------------------------------


def at(seconds: int) -> datetime:
    return parse_utc(T0) + timedelta(seconds=seconds)


def test_replies_and_joins_come_back_into_the_timeline_once(
    store: Store, incident: str, sender: OutboxSender, platform: Platform,
    clock: Clock,
) -> None:  # fmt: skip
    opened(store, incident, sender)
    store.post_chat(incident, "we are on it", ["matrix"], actor="dana").result()
    sender.run_once()
    room = f"!room-{incident}"
    ours = platform.arrived[0][1]
    directory = Directory((Person("ana", "Ana Ruiz", handles={"matrix": "@ana:x"}),))
    batch = Batch(
        messages=(
            ChatMessage(room, f"$event-{ours}", "@someone-else:x", at(1), "echo"),
            ChatMessage(room, "$r1", "@ana:x", at(2), "DB failover started"),
            ChatMessage("!unknown-room", "$r2", "@ana:x", at(3), "elsewhere"),
        ),
        memberships=(Membership(room, "$m1", "@ana:x", "join", at(1)),
                     Membership(room, "$m2", "@guest:x", "join", at(1))),
        position="s120",
    )  # fmt: skip
    channels = store.chat_channels("matrix")
    drafts = drafts_for("matrix", batch, channels, directory, own_user="@mimdesk:x")
    clock.advance(10)
    assert store.store_chat("matrix", drafts, batch.position).result() == 3
    assert store.store_chat("matrix", drafts, batch.position).result() == 0  # dedupe
    assert store.chat_position("matrix") == "s120"
    lines = [describe(e) for e in store.timeline(incident)]
    assert "[matrix] DB failover started" in lines
    assert "echo" not in " ".join(lines)  # our own post is not news
    assert "ana joined the bridge" in lines
    assert "@guest:x joined the matrix channel" in lines
    said = next(e for e in store.timeline(incident) if e.kind == ev.CHAT_RECEIVED)
    assert said.actor == "Ana Ruiz"
    assert said.occurred_at == at(2)
    assert [p.person for p in store.roster(incident).participants.values()] == ["ana"]


def test_the_position_is_not_saved_when_storing_fails(
    store: Store, incident: str, sender: OutboxSender, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    """C23: persist the since token only after the batch is committed."""
    opened(store, incident, sender)
    room = f"!room-{incident}"
    batch = Batch(
        messages=(ChatMessage(room, "$E6", "@a:x", at(6), "update 6"),),
        position="s120",
    )
    drafts = drafts_for("matrix", batch, store.chat_channels("matrix"), Directory(),
                        own_user=None)  # fmt: skip

    def broken(*_a: object, **_k: object) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(outbox_store, "mark_seen", broken)
    with pytest.raises(sqlite3.OperationalError):
        store.store_chat("matrix", drafts, batch.position).result()
    assert store.chat_position("matrix") is None
    assert not any(e.kind == ev.CHAT_RECEIVED for e in store.timeline(incident))


def test_pinning_a_reply_makes_it_a_key_entry(
    store: Store, incident: str, sender: OutboxSender
) -> None:
    opened(store, incident, sender)
    room = f"!room-{incident}"
    batch = Batch(
        messages=(ChatMessage(room, "$r", "@a:x", at(5), "root cause: cert"),)
    )
    drafts = drafts_for("matrix", batch, store.chat_channels("matrix"), Directory(),
                        own_user=None)  # fmt: skip
    store.store_chat("matrix", drafts, None).result()
    said = next(e for e in store.timeline(incident) if e.kind == ev.CHAT_RECEIVED)
    store.pin_chat(incident, said.id, actor="scribe").result()
    pin = store.timeline(incident)[-1]
    assert describe(pin) == "pinned: @a:x: root cause: cert"
    with pytest.raises(DomainError, match="only chat messages"):
        store.pin_chat(incident, store.timeline(incident)[0].id, actor="s").result()


def test_the_reader_stops_after_an_auth_failure(
    store: Store, incident: str, sender: OutboxSender, health: ChatHealth
) -> None:
    opened(store, incident, sender)
    calls: list[int] = []

    class Revoked(Platform):
        def read(
            self, channels: Sequence[str], position: str | None, **_kw: object
        ) -> Batch:
            calls.append(1)
            raise AuthFailed("M_UNKNOWN_TOKEN: needs re-authentication")

    poller = ChatPoller(store, "matrix", Revoked, health, Directory)
    assert poller.read_once() is None  # stop reading: no retry loop
    assert calls == [1]
    assert health.get("matrix").link is Link.NEEDS_AUTH
