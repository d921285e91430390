"""The Slack client replaying field cases C14 (429 on a webhook and in the middle
of a history walk), C16 (no_text: a post without fallback text), C17 (HTTP 200
with ok:false) and C18 (revoked or inactive tokens) against the loopback Slack
contract server, asserting each case's expected values."""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from integration.chat_contract import PEOPLE, ChatContract, Reply, serving

from mimdesk.connectors.chat import (
    ChatPlatform,
    DeliveryUnknown,
    OutMessage,
    RateLimited,
    wait_for,
)
from mimdesk.connectors.errors import AuthFailed, Permanent
from mimdesk.connectors.slack import SlackClient
from mimdesk.domain import outbox
from mimdesk.sync.chat_poller import ChatPoller
from mimdesk.sync.chat_status import ChatHealth, Link

Case = Callable[[str], dict[str, Any]]
TOKEN = "xoxb-000000-case-token-never-shown"
# The cases' names for the states the console shows.
STATES = {"needs_reauth": Link.NEEDS_AUTH}


class FakeTime:
    """A monotonic clock that moves only when the client sleeps."""

    def __init__(self) -> None:
        self.now = 1_000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def contract() -> Iterator[ChatContract]:
    with serving(TOKEN) as server:
        yield server


@pytest.fixture
def make() -> Iterator[Callable[..., SlackClient]]:
    """Builds clients with a clock that never really sleeps; closes them after."""
    made: list[SlackClient] = []

    def build(*args: Any, **kw: Any) -> SlackClient:
        time = FakeTime()
        kw.setdefault("clock", time.clock)
        kw.setdefault("sleep", time.sleep)
        client = SlackClient(*args, timeout=(2.0, 5.0), **kw)
        made.append(client)
        return client

    yield build
    for client in made:
        client.close()


def sent(contract: ChatContract, endpoint: str) -> list[dict[str, Any]]:
    return [r.json for r in contract.calls(endpoint)]


# --- C14: rate limits ---------------------------------------------------------------


def test_c14_webhook_429_is_retried_after_retry_after(
    contract: ChatContract, make: Callable[..., SlackClient], load_case: Case
) -> None:
    fixture = load_case("C14")
    first, expected = fixture["responses"][0], fixture["expected"]
    request = first["request"]
    channel = contract.slack.add_channel("inc-0042")
    url = contract.webhook_url(channel, urlsplit(request["url"]).path)
    contract.script(
        "webhook", Reply(first["http_status"], first["body_text"], first["headers"])
    )
    client = make(webhook_url=url)

    with pytest.raises(RateLimited) as limited:
        client.post("webhook", OutMessage(request["json"]["text"]))
    client.post("webhook", OutMessage(request["json"]["text"]))  # the retry

    wait = expected["webhook_next_attempt_after_s"]
    assert limited.value.retry_after == wait
    assert wait_for([limited.value.retry_after], jitter=0) == wait
    assert outbox.backoff(1, limited.value.retry_after) >= wait
    calls = contract.calls("webhook")
    assert [(c.method, c.path) for c in calls] == [
        (request["method"], urlsplit(request["url"]).path)
    ] * 2
    assert calls[0].json == request["json"]
    arrived = [m["text"] for m in channel.messages]
    assert arrived == [request["json"]["text"]]  # lost: 0
    assert expected["messages_lost"] == 0


def test_c14_history_429_mid_walk_keeps_what_was_read_and_resumes(
    contract: ChatContract, make: Callable[..., SlackClient], load_case: Case
) -> None:
    fixture = load_case("C14")
    _, page, limited = fixture["responses"]
    expected = fixture["expected"]
    channel = page["request"]["params"]["channel"]
    last_seen = page["request"]["params"]["oldest"]
    contract.script(
        "conversations.history",
        Reply(page["http_status"], page["body"]),
        Reply(limited["http_status"], limited["body"], limited["headers"]),
    )
    client = make(TOKEN, api_url=contract.api_url)

    batch = client.read([channel], json.dumps({channel: last_seen}))

    first, second = contract.calls("conversations.history")
    assert first.method == page["request"]["method"]
    assert _has(first.params, page["request"]["params"])
    assert second.method == limited["request"]["method"]
    assert _has(second.params, limited["request"]["params"])
    assert second.params["oldest"] == last_seen  # cursor + oldest=last_seen_ts
    assert expected["history_pagination"] == "cursor + oldest=last_seen_ts"
    assert [m.remote_id for m in batch.messages] == ["1714550100.000200"]
    assert batch.next_read_after == expected["history_next_call_after_s"]

    # The next read goes on from the cursor it stopped at, still bounded by the
    # last message seen before, and only then moves the position forward.
    older = {"type": "message", "ts": "1714550050.000300", "user": PEOPLE[1],
             "text": "older"}  # fmt: skip
    contract.script(
        "conversations.history",
        Reply(
            200,
            {
                "ok": True,
                "messages": [older],
                "has_more": False,
                "response_metadata": {"next_cursor": ""},
            },
        ),
        Reply(200, {"ok": True, "messages": [], "has_more": False}),
    )
    rest = client.read([channel], batch.position)
    after = client.read([channel], rest.position)

    resumed, then = contract.calls("conversations.history")[2:]
    assert resumed.params["cursor"] == page["body"]["response_metadata"]["next_cursor"]
    assert resumed.params["oldest"] == last_seen
    assert then.params["oldest"] == "1714550100.000200"
    assert "cursor" not in then.params
    read = [m.remote_id for m in (*batch.messages, *rest.messages, *after.messages)]
    assert sorted(read) == ["1714550050.000300", "1714550100.000200"]  # lost: 0
    assert len(read) == len(set(read))  # nothing read twice
    assert rest.next_read_after >= expected["history_next_call_after_s"]


def _has(params: dict[str, str], wanted: dict[str, Any]) -> bool:
    return all(params.get(k) == str(v) for k, v in wanted.items())


def test_c14_reads_ask_for_at_most_15_and_wait_the_low_tier(
    contract: ChatContract, make: Callable[..., SlackClient], load_case: Case
) -> None:
    expected = load_case("C14")["expected"]
    channel = contract.slack.add_channel("inc-0042")
    client = make(TOKEN, api_url=contract.api_url)

    first = client.read([channel.id], None)
    contract.slack.say(channel, "on it")
    second = client.read([channel.id], first.position)

    assert [m.text for m in second.messages] == ["on it"]
    for batch in (first, second):
        assert batch.next_read_after >= expected["history_next_call_after_s"]
    limits = {int(r.params["limit"]) for r in contract.calls("conversations.history")}
    assert max(limits) <= 15


def test_c14_at_most_one_post_a_second_per_channel_in_order(
    contract: ChatContract, load_case: Case
) -> None:
    rate = load_case("C14")["expected"]["max_outbound_rate_per_channel_per_s"]
    a = contract.slack.add_channel("inc-a")
    b = contract.slack.add_channel("inc-b")
    time = FakeTime()
    client = SlackClient(TOKEN, api_url=contract.api_url, clock=time.clock,
                         sleep=time.sleep)  # fmt: skip
    sent_at: dict[str, list[float]] = {a.id: [], b.id: []}
    try:
        for number in range(5):
            for channel in (a, b):
                client.post(channel.id, OutMessage(f"update {number}"))
                sent_at[channel.id].append(time.now)
    finally:
        client.close()

    for times in sent_at.values():
        gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
        assert min(gaps) >= 1 / rate
    assert sent_at[b.id][0] == sent_at[a.id][0]  # another channel does not wait
    for channel in (a, b):
        texts = [m["text"] for m in channel.messages if m.get("user") == "UBOT000001"]
        assert texts == [f"update {n}" for n in range(5)]  # order_preserved


# --- C16: a post always has fallback text -------------------------------------------


def test_c16_the_contract_server_answers_the_fixture_attempts(
    contract: ChatContract, load_case: Case
) -> None:
    channel = contract.slack.add_channel("inc-0042")
    url = contract.webhook_url(channel)
    for attempt in load_case("C16")["attempts"]:
        answer = requests.post(url, json=attempt["json"], timeout=5)
        assert (answer.status_code, answer.text) == (
            attempt["http_status"],
            attempt["body_text"],
        )


@pytest.mark.parametrize("mode", ["webhook", "api"])
def test_c16_sent_json_always_has_text(
    contract: ChatContract,
    make: Callable[..., SlackClient],
    load_case: Case,
    mode: str,
) -> None:
    fixture = load_case("C16")
    expected = fixture["expected"]
    rich = fixture["attempts"][0]["json"]["blocks"][0]["text"]["text"]
    channel = contract.slack.add_channel("inc-0042")
    if mode == "webhook":
        client, endpoint = make(webhook_url=contract.webhook_url(channel)), "webhook"
    else:
        client, endpoint = make(TOKEN, api_url=contract.api_url), "chat.postMessage"

    client.post(channel.id, OutMessage(expected["fallback_text_example"], rich=rich))
    client.post(channel.id, OutMessage("", rich=rich))
    client.post(channel.id, OutMessage("   "))

    texts = [body["text"] for body in sent(contract, endpoint)]
    assert all(t.strip() for t in texts) is expected["sent_json_has_nonempty_text"]
    assert texts == [expected["fallback_text_example"], "(no details)", "(no details)"]
    blocks = sent(contract, endpoint)[0]["blocks"]
    assert blocks == [{"type": "section", "text": {"type": "mrkdwn", "text": rich}}]
    assert len(channel.messages) == 3  # all three accepted


@pytest.mark.parametrize("attempt", [0, 1])
def test_c16_a_400_is_not_retried_and_the_shape_is_logged(
    contract: ChatContract,
    make: Callable[..., SlackClient],
    load_case: Case,
    caplog: pytest.LogCaptureFixture,
    attempt: int,
) -> None:
    fixture = load_case("C16")
    answer = fixture["attempts"][attempt]
    channel = contract.slack.add_channel("inc-0042")
    client = make(webhook_url=contract.webhook_url(channel))
    contract.script("webhook", Reply(answer["http_status"], answer["body_text"]))
    words = "INC-0042 secret-ish words of the update"

    with caplog.at_level(logging.DEBUG), pytest.raises(Permanent) as refused:
        client.post("webhook", OutMessage(words, rich="*INC-0042* mitigated"))

    assert refused.value.transient is fixture["expected"]["retry_on_400"]
    assert answer["body_text"] in refused.value.message
    assert len(contract.calls("webhook")) == 1
    logged = [r.getMessage() for r in caplog.records if r.name.startswith("mimdesk")]
    assert any("text: 39 chars" in m and "blocks: 1 (section)" in m for m in logged)
    assert not any("secret-ish" in m or "mitigated" in m for m in logged)


# --- C17: HTTP 200 with ok:false ---------------------------------------------------


def test_c17_ok_false_is_not_delivered_not_retried_and_says_what_to_do(
    contract: ChatContract, make: Callable[..., SlackClient], load_case: Case
) -> None:
    fixture = load_case("C17")
    expected = fixture["expected"]
    client = make(TOKEN, api_url=contract.api_url)
    contract.script(
        "chat.postMessage",
        *(Reply(r["http_status"], r["body"]) for r in fixture["responses"]),
    )

    delivered, retried = [], []
    for response in fixture["responses"]:
        with pytest.raises(Permanent) as refused:
            client.post("C0000000001", OutMessage("INC-0042 update"))
        assert not isinstance(refused.value, AuthFailed | DeliveryUnknown)
        assert response["body"]["error"] in refused.value.message
        assert expected["user_hint"] in refused.value.message
        delivered.append(False)
        retried.append(refused.value.transient)

    assert delivered == expected["delivered"]
    assert retried == expected["retry"]
    calls = contract.calls("chat.postMessage")
    assert len(calls) == len(fixture["responses"])  # no retry behind our back
    kinds = {c.headers["Content-Type"] for c in calls}
    assert kinds == {expected["request_content_type"]}


def test_c17_the_model_gives_the_same_errors(
    contract: ChatContract, make: Callable[..., SlackClient], load_case: Case
) -> None:
    codes = [r["body"]["error"] for r in load_case("C17")["responses"]]
    outside = contract.slack.add_channel("inc-private", member=False)
    client = make(TOKEN, api_url=contract.api_url)
    for channel, code in zip(("C9999999999", outside.id), codes, strict=True):
        with pytest.raises(Permanent, match=code):
            client.post(channel, OutMessage("INC-0042 update"))


# --- C18: a dead token stops everything at the first answer ------------------------


def slack_auth_errors(load_case: Case) -> list[dict[str, Any]]:
    return [r for r in load_case("C18")["responses"] if r["service"] == "slack"]


@pytest.mark.parametrize("number", [0, 1, 2])
def test_c18_no_attempt_after_the_first_auth_error(
    contract: ChatContract,
    make: Callable[..., SlackClient],
    load_case: Case,
    number: int,
) -> None:
    expected = load_case("C18")["expected"]
    answer = slack_auth_errors(load_case)[number]
    channel = contract.slack.add_channel("inc-0042")
    client = make(TOKEN, api_url=contract.api_url)
    contract.script("chat.postMessage", Reply(answer["http_status"], answer["body"]))

    with pytest.raises(AuthFailed) as dead:
        client.post(channel.id, OutMessage("INC-0042 update"))
    later: list[Callable[[], object]] = [
        lambda: client.post(channel.id, OutMessage("again")),
        lambda: client.read([channel.id], None),
        lambda: client.invite(channel.id, PEOPLE[0]),
        lambda: client.ensure_channel("INC-0043", "t", "topic"),
    ]
    for call in later:
        with pytest.raises(AuthFailed):
            call()

    assert answer["body"]["error"] in dead.value.message
    assert "needs re-authentication" in dead.value.message
    assert len(contract.seen) - 1 == expected["attempts_after_first_auth_error"]


class _Channels:
    """The store reads a ChatPoller makes before it calls the platform."""

    def __init__(self, channel: str) -> None:
        self.channel = channel

    def chat_channels(self, platform: str) -> dict[str, str]:
        return {self.channel: "INC-0042"}

    def chat_position(self, platform: str) -> str | None:
        return None

    def chat_opened(self, platform: str) -> None:
        return None


def test_c18_the_reader_stops_and_shows_needs_reauth(
    contract: ChatContract, make: Callable[..., SlackClient], load_case: Case
) -> None:
    expected = load_case("C18")["expected"]
    contract.slack.revoked = slack_auth_errors(load_case)[0]["body"]["error"]
    client = make(TOKEN, api_url=contract.api_url)
    assert isinstance(client, ChatPlatform)
    health = ChatHealth()
    poller = ChatPoller(
        _Channels("C0000000001"),  # type: ignore[arg-type]
        "slack", lambda: client, health, lambda: None,  # type: ignore[arg-type,return-value]
    )  # fmt: skip

    assert poller.read_once() is None  # stopped for good
    state = health.get("slack")
    assert state.link is STATES[expected["integration_state"]]
    assert "token_revoked" in state.detail
    assert len(contract.seen) - 1 == expected["attempts_after_first_auth_error"]
