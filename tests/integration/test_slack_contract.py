"""The Slack client against the loopback Slack contract server: channels made or
found again, invitations, posts within Slack's limits, history read back page by
page, and every kind of failure turned into the right connector error, with the
token and the webhook URL never shown."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from mimdesk.connectors.chat import (
    ChatMessage,
    ChatPlatform,
    DeliveryUnknown,
    Membership,
    OutMessage,
    RateLimited,
)
from mimdesk.connectors.errors import (
    AuthFailed,
    ConnectorError,
    Permanent,
    TimedOut,
    Transient,
    Unreachable,
)
from mimdesk.connectors.slack import SlackClient, channel_name

from .chat_contract import BOT, PEOPLE, ChatContract, Reply, serving
from .servers import free_port

TOKEN = "xoxb-424242-contract-token-do-not-show"
ALICE, BOB = PEOPLE
HTML_502 = Reply(502, "<html><body>Bad Gateway</body></html>", content_type="text/html")


@pytest.fixture
def contract() -> Iterator[ChatContract]:
    with serving(TOKEN) as server:
        yield server


@pytest.fixture
def make(contract: ChatContract) -> Iterator[Callable[..., SlackClient]]:
    """Clients of the contract server (token by default) that never really
    sleep; all closed after the test."""
    made: list[SlackClient] = []

    def build(*args: Any, **kw: Any) -> SlackClient:
        if not args and "webhook_url" not in kw:
            args = (TOKEN,)
        kw.setdefault("api_url", contract.api_url)
        kw.setdefault("sleep", lambda seconds: None)
        kw.setdefault("timeout", (2.0, 5.0))
        client = SlackClient(*args, **kw)
        made.append(client)
        return client

    yield build
    for client in made:
        client.close()


# --- channels and invitations ------------------------------------------------------


def test_a_token_client_is_a_full_chat_platform(
    make: Callable[..., SlackClient],
) -> None:
    client = make()
    assert isinstance(client, ChatPlatform)
    assert (client.name, client.can_read, client.can_create) == ("slack", True, True)
    assert client.limits.max_text == 40_000


@pytest.mark.parametrize(
    ("incident", "name"),
    [
        ("INC-20261203-0001", "inc-20261203-0001"),
        ("INC 2026/12 #7 Ünïcode", "inc-2026-12-7-unicode"),
        ("X" * 120, "x" * 80),
    ],
)
def test_channel_names_follow_slacks_rules(incident: str, name: str) -> None:
    made = channel_name(incident)
    assert made == name
    assert len(made) <= 80
    assert set(made) <= set("abcdefghijklmnopqrstuvwxyz0123456789-_")


def test_ensure_channel_creates_it_and_sets_the_topic(
    contract: ChatContract, make: Callable[..., SlackClient]
) -> None:
    topic = "INC-20261203-0001 · SEV1 · investigating · " + "checkout down " * 30

    channel = make().ensure_channel("INC-20261203-0001", "title", topic)

    made = contract.slack.channels[channel]
    assert made.name == "inc-20261203-0001"
    assert len(made.topic) == 250
    assert made.topic.endswith("…")
    assert made.topic.startswith("INC-20261203-0001 · SEV1")


def test_name_taken_finds_the_channel_of_an_earlier_attempt(
    contract: ChatContract, make: Callable[..., SlackClient]
) -> None:
    for number in range(450):  # three pages of conversations.list
        contract.slack.add_channel(f"other-{number}")
    earlier = contract.slack.add_channel("inc-20261203-0002")

    found = make().ensure_channel("INC-20261203-0002", "title", "topic")

    assert found == earlier.id
    assert [c.params.get("cursor", "") != "" for c in contract.calls(
        "conversations.list")] == [False, True, True]  # fmt: skip
    assert len(contract.slack.channels) == 451  # nothing new was made
    assert earlier.topic == "topic"


def test_name_taken_by_a_public_channel_without_the_app_joins_it(
    contract: ChatContract, make: Callable[..., SlackClient]
) -> None:
    outside = contract.slack.add_channel("inc-20261203-0003", member=False)

    found = make().ensure_channel("INC-20261203-0003", "title", "")

    assert found == outside.id
    assert BOT in outside.members


def test_name_taken_by_a_channel_the_app_cannot_see_says_what_to_do(
    contract: ChatContract, make: Callable[..., SlackClient]
) -> None:
    contract.slack.add_channel("inc-20261203-0004", archived=True)

    with pytest.raises(Permanent, match="unarchive it and invite the app"):
        make().ensure_channel("INC-20261203-0004", "title", "")


def test_invite_already_in_channel_is_success_unknown_user_is_permanent(
    contract: ChatContract, make: Callable[..., SlackClient]
) -> None:
    client = make()
    channel = client.ensure_channel("INC-1", "t", "")

    client.invite(channel, ALICE)
    client.invite(channel, ALICE)
    with pytest.raises(Permanent, match="user_not_found") as unknown:
        client.invite(channel, "U0NOBODY00")

    assert ALICE in contract.slack.channels[channel].members
    assert not unknown.value.transient
    assert "directory" in unknown.value.message


# --- posting -------------------------------------------------------------------------


def test_post_returns_the_ts_and_escapes_what_would_notify(
    contract: ChatContract, make: Callable[..., SlackClient]
) -> None:
    channel = contract.slack.add_channel("inc-1")

    posted = make().post(channel.id, OutMessage("db <!channel> & <@U1> > 5s"))

    stored = channel.messages[-1]
    assert posted.remote_id == stored["ts"]
    assert stored["text"] == "db &lt;!channel&gt; &amp; &lt;@U1&gt; &gt; 5s"
    call = contract.calls("chat.postMessage")[0]
    assert call.headers["Content-Type"] == "application/json; charset=utf-8"
    assert call.headers["Authorization"] == f"Bearer {TOKEN}"


def test_long_text_and_rich_stay_within_slacks_limits(
    contract: ChatContract, make: Callable[..., SlackClient]
) -> None:
    channel = contract.slack.add_channel("inc-1")
    text = "word " * 12_000  # 60,000 characters
    rich = "\n".join(f"*line {n}* " + "x" * 90 for n in range(3_000))

    make().post(channel.id, OutMessage(text, rich=rich, txn_id="INC-1 outbox #7"))

    body = contract.calls("chat.postMessage")[0].json
    assert len(body["text"]) <= 40_000
    assert body["text"].endswith("[…continued in MIMDesk: INC-1 outbox #7]")
    assert len(body["blocks"]) <= 50
    assert all(len(b["text"]["text"]) <= 3_000 for b in body["blocks"])
    assert body["blocks"][-1]["text"]["text"].endswith("INC-1 outbox #7]")
    assert channel.messages[-1]["ts"]  # the server took it


def test_a_burst_to_one_channel_is_paced_to_one_a_second(
    contract: ChatContract, make: Callable[..., SlackClient]
) -> None:
    channel = contract.slack.add_channel("inc-1")
    now = [0.0]
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    client = make(clock=lambda: now[0], sleep=sleep)
    for number in range(4):
        client.post(channel.id, OutMessage(f"update {number}"))
        now[0] += 0.25  # each post takes a quarter of a second

    assert waits == [0.75, 0.75, 0.75]


# --- reading back ------------------------------------------------------------------


def test_a_first_read_starts_from_now(
    contract: ChatContract, make: Callable[..., SlackClient]
) -> None:
    channel = contract.slack.add_channel("inc-1")
    for number in range(30):
        contract.slack.say(channel, f"old {number}")

    batch = make().read([channel.id], None)

    assert batch.messages == ()
    assert json.loads(batch.position or "")[channel.id] == channel.messages[-1]["ts"]
    assert [c.params["limit"] for c in contract.calls("conversations.history")] == ["1"]


def test_a_first_read_after_opening_returns_what_was_said_since(
    contract: ChatContract, make: Callable[..., SlackClient]
) -> None:
    channel = contract.slack.add_channel("inc-1")
    old = f"{time.time() - 3600:.6f}"  # an hour before MIMDesk opened it
    channel.messages.append(
        {"type": "message", "user": ALICE, "text": "old", "ts": old}
    )
    opened = datetime.now(UTC)
    early = contract.slack.say(channel, "on the bridge already", user=BOB)

    batch = make().read([channel.id], None, since=opened)

    assert [m.text for m in batch.messages] == ["on the bridge already"]
    assert json.loads(batch.position or "")[channel.id] == early


def test_new_messages_come_back_oldest_first_across_pages(
    contract: ChatContract, make: Callable[..., SlackClient]
) -> None:
    channel = contract.slack.add_channel("inc-1")
    client = make()
    start = client.read([channel.id], None)
    said = [contract.slack.say(channel, f"msg {n}", user=(ALICE, BOB)[n % 2])
            for n in range(40)]  # fmt: skip

    batch = client.read([channel.id], start.position)

    assert [m.text for m in batch.messages] == [f"msg {n}" for n in range(40)]
    assert [m.remote_id for m in batch.messages] == said
    assert {m.author for m in batch.messages} == {ALICE, BOB}
    first = batch.messages[0]
    assert isinstance(first, ChatMessage)
    assert first.at.tzinfo is not None
    assert first.at.timestamp() == pytest.approx(float(said[0]), abs=1e-6)
    history = contract.calls("conversations.history")[1:]
    assert len(history) == 3  # 15 + 15 + 10
    assert {c.params["oldest"] for c in history} == {json.loads(start.position or "")[
        channel.id]}  # fmt: skip
    assert json.loads(batch.position or "")[channel.id] == said[-1]


def test_a_429_mid_walk_loses_nothing_and_reads_nothing_twice(
    contract: ChatContract, make: Callable[..., SlackClient]
) -> None:
    channel = contract.slack.add_channel("inc-1")
    client = make()
    position = client.read([channel.id], None).position
    said = [contract.slack.say(channel, f"msg {n}") for n in range(40)]
    limited = Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "60"})
    contract.script("conversations.history", limited, skip=1)

    batches = []
    for _ in range(3):
        batch = client.read([channel.id], position)
        batches.append(batch)
        position = batch.position

    assert batches[0].next_read_after == 60
    assert batches[0].notes
    assert "rate-limited" in batches[0].notes[0]
    assert [len(b.messages) for b in batches] == [15, 25, 0]
    read = [m.remote_id for b in batches for m in b.messages]
    assert sorted(read) == said
    assert len(set(read)) == len(read)


def test_a_429_on_the_second_channel_leaves_it_for_the_next_read(
    contract: ChatContract, make: Callable[..., SlackClient]
) -> None:
    a = contract.slack.add_channel("inc-a")
    b = contract.slack.add_channel("inc-b")
    client = make()
    position = client.read([a.id, b.id], None).position
    contract.slack.say(a, "in a")
    contract.slack.say(b, "in b")
    limited = Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "30"})
    contract.script("conversations.history", limited, skip=1)

    first = client.read([a.id, b.id], position)
    second = client.read([a.id, b.id], first.position)

    assert [m.text for m in first.messages] == ["in a"]
    assert first.next_read_after == 60  # the tier's minute is longer than 30 s
    assert [m.text for m in second.messages] == ["in b"]  # b's turn comes first


def test_joins_and_leaves_are_memberships(
    contract: ChatContract, make: Callable[..., SlackClient]
) -> None:
    client = make()
    channel = client.ensure_channel("INC-1", "t", "status")
    position = client.read([channel], None).position

    client.invite(channel, BOB)
    contract.slack.say(contract.slack.channels[channel], "hello", user=BOB)
    batch = client.read([channel], position)

    assert [m.text for m in batch.messages] == ["hello"]
    assert [(j.user, j.state) for j in batch.memberships] == [(BOB, "join")]
    assert isinstance(batch.memberships[0], Membership)
    assert client.user_id == BOT


def test_a_channel_opened_after_reading_began_is_read_from_the_start(
    contract: ChatContract, make: Callable[..., SlackClient]
) -> None:
    first = contract.slack.add_channel("inc-1")
    contract.slack.say(first, "before")
    client = make()
    position = client.read([first.id], None).position
    later = client.ensure_channel("INC-2", "t", "")
    contract.slack.say(contract.slack.channels[later], "first words in INC-2")

    batch = client.read([first.id, later], position)

    assert [m.text for m in batch.messages] == ["first words in INC-2"]


# --- failures ---------------------------------------------------------------------


@pytest.mark.parametrize("code", ["token_revoked", "account_inactive", "invalid_auth"])
def test_dead_tokens_need_reauthentication(
    contract: ChatContract, make: Callable[..., SlackClient], code: str
) -> None:
    contract.slack.revoked = code
    with pytest.raises(AuthFailed, match="reinstall the app or set a new token"):
        make().ensure_channel("INC-1", "t", "")


def test_a_wrong_token_is_invalid_auth(make: Callable[..., SlackClient]) -> None:
    with pytest.raises(AuthFailed, match="invalid_auth"):
        make("xoxb-wrong").read(["C1"], None)


def test_a_missing_scope_names_the_scope(
    contract: ChatContract, make: Callable[..., SlackClient]
) -> None:
    needed = {"ok": False, "error": "missing_scope", "needed": "channels:manage",
              "provided": "chat:write"}  # fmt: skip
    contract.script("conversations.create", Reply(200, needed))
    with pytest.raises(AuthFailed, match="channels:manage"):
        make().ensure_channel("INC-1", "t", "")


@pytest.mark.parametrize(
    ("setup", "match"),
    [
        ({"name": "gone"}, "channel_not_found: invite the app to the channel"),
        ({"name": "outside", "member": False}, "not_in_channel: invite the app"),
        ({"name": "old", "archived": True}, "is_archived: the channel is archived"),
    ],
)
def test_channel_errors_are_permanent_with_a_hint(
    contract: ChatContract,
    make: Callable[..., SlackClient],
    setup: dict[str, Any],
    match: str,
) -> None:
    channel = contract.slack.add_channel(**setup).id
    if setup["name"] == "gone":
        channel = "C0DELETED00"
    with pytest.raises(Permanent, match=match) as refused:
        make().post(channel, OutMessage("update"))
    assert not refused.value.transient


def test_an_html_502_from_a_proxy_is_transient(
    contract: ChatContract, make: Callable[..., SlackClient]
) -> None:
    contract.script("chat.postMessage", HTML_502)
    with pytest.raises(Transient, match="upstream error 502") as failed:
        make().post("C1", OutMessage("update"))
    assert failed.value.status == 502


def test_a_fatal_error_on_a_post_may_have_posted(
    contract: ChatContract, make: Callable[..., SlackClient]
) -> None:
    contract.script(
        "chat.postMessage", Reply(200, {"ok": False, "error": "fatal_error"})
    )
    with pytest.raises(DeliveryUnknown, match="may have been posted"):
        make().post("C1", OutMessage("update"))


def test_a_429_on_a_post_gives_retry_after(
    contract: ChatContract, make: Callable[..., SlackClient]
) -> None:
    limited = Reply(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "3"})
    contract.script("chat.postMessage", limited)
    with pytest.raises(RateLimited) as slowed:
        make().post("C1", OutMessage("update"))
    assert slowed.value.retry_after == 3


def test_a_post_without_an_answer_is_delivery_unknown(
    contract: ChatContract, make: Callable[..., SlackClient]
) -> None:
    channel = contract.slack.add_channel("inc-1")
    contract.script("chat.postMessage", Reply(delay=3.0))
    with pytest.raises(DeliveryUnknown, match="look in the channel"):
        make(timeout=(2.0, 0.3)).post(channel.id, OutMessage("update"))
    assert len(contract.calls("chat.postMessage")) == 1


def test_a_connection_dropped_during_a_post_is_delivery_unknown(
    contract: ChatContract, make: Callable[..., SlackClient]
) -> None:
    contract.script("chat.postMessage", Reply(drop=True))
    with pytest.raises(DeliveryUnknown):
        make().post("C1", OutMessage("update"))


def test_a_slow_history_read_is_timed_out_not_unknown(
    contract: ChatContract, make: Callable[..., SlackClient]
) -> None:
    contract.script("conversations.history", Reply(delay=3.0))
    with pytest.raises(TimedOut) as slow:
        make(timeout=(2.0, 0.3)).read(["C1"], None)
    assert slow.value.transient


def test_connection_refused_is_unreachable(make: Callable[..., SlackClient]) -> None:
    client = make(api_url=f"http://127.0.0.1:{free_port()}/api")
    with pytest.raises(Unreachable, match="connection refused") as refused:
        client.post("C1", OutMessage("update"))
    assert refused.value.transient


# --- incoming webhooks ------------------------------------------------------------


def test_a_webhook_client_posts_and_does_nothing_else(
    contract: ChatContract, make: Callable[..., SlackClient]
) -> None:
    channel = contract.slack.add_channel("incidents")
    client = make(webhook_url=contract.webhook_url(channel))

    assert (client.can_read, client.can_create) == (False, False)
    assert client.ensure_channel("INC-1", "t", "topic") == "webhook"
    client.set_topic("webhook", "ignored")
    assert client.post("webhook", OutMessage("INC-1 · mitigated")).remote_id == ""
    with pytest.raises(Permanent, match="a webhook cannot invite"):
        client.invite("webhook", ALICE)
    with pytest.raises(Permanent, match="can only post"):
        client.read(["webhook"], None)

    assert [m["text"] for m in channel.messages] == ["INC-1 · mitigated"]
    assert "Authorization" not in contract.calls("webhook")[0].headers


@pytest.mark.parametrize(
    ("break_it", "kind", "match"),
    [
        ("revoke", AuthFailed, "the webhook was revoked"),
        ("delete", AuthFailed, "no_service: the webhook was revoked"),
        ("archive", Permanent, "channel_is_archived"),
    ],
)
def test_webhook_errors(
    contract: ChatContract,
    make: Callable[..., SlackClient],
    break_it: str,
    kind: type[ConnectorError],
    match: str,
) -> None:
    channel = contract.slack.add_channel("incidents")
    url = contract.webhook_url(channel)
    if break_it == "revoke":
        contract.slack.dead_webhooks.add(url.removeprefix(contract.url))
    elif break_it == "delete":
        contract.slack.webhooks.clear()
    else:
        channel.archived = True
    with pytest.raises(kind, match=match) as failed:
        make(webhook_url=url).post("webhook", OutMessage("update"))
    assert not failed.value.transient


def test_a_webhook_must_be_https(make: Callable[..., SlackClient]) -> None:
    with pytest.raises(Permanent, match="https://"):
        make(webhook_url="http://hooks.slack.example/services/T/B/X")


# --- secrets --------------------------------------------------------------------------


def test_the_token_and_the_webhook_secret_are_never_shown(
    contract: ChatContract,
    make: Callable[..., SlackClient],
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = "HOOKSECRET0123456789abcdef"
    channel = contract.slack.add_channel("inc-1")
    hook = contract.webhook_url(channel, f"/services/T000/B000/{secret}")
    dead = f"http://127.0.0.1:{free_port()}/services/T000/B000/{secret}"
    contract.script("chat.postMessage", HTML_502, Reply(delay=3.0), Reply(drop=True))
    contract.script("webhook", Reply(403, "invalid_token"))
    failures: list[ConnectorError] = []
    attempts: list[Callable[[], object]] = [
        lambda: make(timeout=(2.0, 0.3)).post(channel.id, OutMessage("a")),
        lambda: make(timeout=(2.0, 0.3)).post(channel.id, OutMessage("b")),
        lambda: make().post(channel.id, OutMessage("c")),
        lambda: make("xoxb-wrong-" + TOKEN).read([channel.id], None),
        lambda: make(api_url=f"http://127.0.0.1:{free_port()}/api").read(["C1"], None),
        lambda: make(webhook_url=hook).post("webhook", OutMessage("d")),
        lambda: make(webhook_url=dead).post("webhook", OutMessage("e")),
    ]

    with caplog.at_level(logging.DEBUG):
        for attempt in attempts:
            with pytest.raises(ConnectorError) as failed:
                attempt()
            failures.append(failed.value)
        contract.slack.revoked = "token_revoked"
        with pytest.raises(AuthFailed) as revoked:
            make().ensure_channel("INC-1", "t", "")
        failures.append(revoked.value)

    shown = [str(f) for f in failures] + [repr(f) for f in failures]
    assert not [s for s in shown if TOKEN in s or secret in s]
    # urllib3 logs request lines (with the webhook path) at DEBUG; ours never.
    records = [r.getMessage() for r in caplog.records]
    assert not [m for m in records if TOKEN in m]
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("mimdesk")]
    assert ours
    assert not [m for m in ours if secret in m]
