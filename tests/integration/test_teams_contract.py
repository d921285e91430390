"""The Teams client against the loopback Workflows webhook: the Adaptive Card it
posts, retired Office 365 connector URLs refused with directions, oversize
messages cut below the limit, and each failure turned into the right connector
error without showing the URL's signature."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from mimdesk.connectors.chat import (
    ChatPlatform,
    DeliveryUnknown,
    OutMessage,
    RateLimited,
)
from mimdesk.connectors.errors import (
    AuthFailed,
    ConnectorError,
    Permanent,
    Transient,
    Unreachable,
)
from mimdesk.connectors.teams import LegacyWebhook, TeamsWebhook, check_url

from .chat_contract import TEAMS_SIG, ChatContract, Reply, serving
from .servers import free_port

LIMIT = 28_000
CARD = "application/vnd.microsoft.card.adaptive"


@pytest.fixture
def contract() -> Iterator[ChatContract]:
    with serving("unused-slack-token") as server:
        yield server


@pytest.fixture
def make(contract: ChatContract) -> Iterator[Callable[..., TeamsWebhook]]:
    made: list[TeamsWebhook] = []

    def build(url: str | None = None, **kw: Any) -> TeamsWebhook:
        kw.setdefault("timeout", (2.0, 5.0))
        client = TeamsWebhook(url or contract.teams_url, **kw)
        made.append(client)
        return client

    yield build
    for client in made:
        client.close()


def test_a_post_is_a_workflows_message_with_an_adaptive_card(
    contract: ChatContract, make: Callable[..., TeamsWebhook]
) -> None:
    text = "INC-0042 · SEV1 · mitigated\nCheckout is back.\nNext update 10:30 UTC."

    posted = make().post("webhook", OutMessage(text))

    assert posted.remote_id == ""
    call = contract.calls("teams")[0]
    assert call.headers["Content-Type"] == "application/json; charset=utf-8"
    envelope = call.json
    assert envelope["type"] == "message"
    (attachment,) = envelope["attachments"]
    assert attachment["contentType"] == CARD
    card = attachment["content"]
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    title, body = card["body"]
    assert title == {"type": "TextBlock", "text": "INC-0042 · SEV1 · mitigated",
                     "weight": "Bolder", "size": "Medium", "wrap": True}  # fmt: skip
    assert body == {"type": "TextBlock", "wrap": True,
                    "text": "Checkout is back.\nNext update 10:30 UTC."}  # fmt: skip
    assert contract.teams.cards == [card]  # accepted: 202


def test_rich_text_is_the_body_and_an_empty_text_still_has_a_title(
    contract: ChatContract, make: Callable[..., TeamsWebhook]
) -> None:
    client = make()
    client.post("webhook", OutMessage("INC-1 update", rich="**Checkout** is back"))
    client.post("webhook", OutMessage("  "))

    first, second = contract.teams.cards
    assert [b["text"] for b in first["body"]] == [
        "INC-1 update",
        "**Checkout** is back",
    ]
    assert [b["text"] for b in second["body"]] == ["(no details)"]


def test_a_webhook_is_a_post_only_chat_platform(
    make: Callable[..., TeamsWebhook],
) -> None:
    client = make()
    assert isinstance(client, ChatPlatform)
    assert (client.name, client.can_read, client.can_create) == ("teams", False, False)
    assert client.limits.max_payload == LIMIT
    assert client.ensure_channel("INC-1", "t", "topic") == "webhook"
    client.set_topic("webhook", "ignored")
    with pytest.raises(Permanent, match="Teams webhooks cannot invite"):
        client.invite("webhook", "someone@example.org")
    with pytest.raises(Permanent, match="can only post"):
        client.read(["webhook"], None)


@pytest.mark.parametrize(
    "url",
    [
        "https://contoso.webhook.office.com/webhookb2/0000-1111@2222/IncomingWebhook/"
        "abcdef/3333",
        "https://outlook.office.com/webhook/0000-1111@2222/IncomingWebhook/abcdef/3333",
    ],
)
def test_retired_connector_urls_are_refused_with_directions(url: str) -> None:
    with pytest.raises(LegacyWebhook) as legacy:
        TeamsWebhook(url)
    message = legacy.value.message
    assert "Office 365 connector" in message
    assert "retired" in message
    assert "Workflows" in message
    assert "teams.webhook" in message
    assert "abcdef" not in message
    assert legacy.value.source_level
    assert isinstance(legacy.value, Permanent)


@pytest.mark.parametrize(
    "url",
    [
        "https://prod-42.westeurope.logic.azure.com:443/workflows/0f1e2d/triggers/"
        "manual/paths/invoke?api-version=2016-06-01&sig=abc",
        "https://default0f1e2d.3c.environment.api.powerplatform.com:443/powerautomate/"
        "automations/direct/workflows/0f1e2d/triggers/manual/paths/invoke?sig=abc",
    ],
)
def test_workflows_urls_are_accepted(url: str) -> None:
    assert check_url(url).endswith((".logic.azure.com", ".api.powerplatform.com"))


def test_plain_http_is_refused_except_on_loopback() -> None:
    with pytest.raises(Permanent, match="https://"):
        check_url("http://prod-42.westeurope.logic.azure.com/workflows/x?sig=abc")
    assert check_url("http://127.0.0.1:8080/workflows/x") == "127.0.0.1"


@pytest.mark.parametrize(
    ("text", "limit"),
    [
        ("INC-1 long update\n" + "all systems degraded " * 3_000, LIMIT),  # 63 kB
        ("INC-1 ünïcödé\n" + "Störung behoben – 障害 🚨 " * 2_000, LIMIT),
        ("INC-1 small limit\n" + "word " * 2_000, 3_000),
    ],
)
def test_an_oversize_message_is_cut_below_the_limit_and_still_a_card(
    contract: ChatContract,
    make: Callable[..., TeamsWebhook],
    text: str,
    limit: int,
) -> None:
    contract.teams.max_bytes = limit

    make(max_payload=limit).post("webhook", OutMessage(text, txn_id="INC-1 outbox #9"))

    sent = contract.calls("teams")[0].body
    assert len(sent) <= limit
    assert len(sent) > limit * 0.9  # cut no further than needed
    card = json.loads(sent)["attachments"][0]["content"]
    assert card["body"][0]["text"] == text.partition("\n")[0]
    assert card["body"][1]["text"].endswith("[…continued in MIMDesk: INC-1 outbox #9]")
    assert len(contract.teams.cards) == 1


@pytest.mark.parametrize(
    ("reply", "kind", "match"),
    [
        (Reply(400, {"error": {"code": "TriggerInputSchemaMismatch",
                               "message": "The input is not a message."}}),
         Permanent, "HTTP 400\\): TriggerInputSchemaMismatch: The input is not"),
        (Reply(413, {"error": {"code": "RequestEntityTooLarge", "message": "big"}}),
         Permanent, "payload too large"),
        (Reply(401, {"error": {"code": "DirectApiInvalidAuthorizationSignature",
                               "message": "bad sig"}}),
         AuthFailed, "create a new one in Workflows"),
        (Reply(403, ""), AuthFailed, "create a new one in Workflows"),
        (Reply(503, "<html>Service Unavailable</html>", content_type="text/html"),
         Transient, "upstream error 503"),
        (Reply(500, {"error": {"code": "InternalServerError", "message": "x"}}),
         Transient, "InternalServerError"),
    ],
)  # fmt: skip
def test_error_answers(
    contract: ChatContract,
    make: Callable[..., TeamsWebhook],
    reply: Reply,
    kind: type[ConnectorError],
    match: str,
) -> None:
    contract.script("teams", reply)
    with pytest.raises(kind, match=match) as failed:
        make().post("webhook", OutMessage("INC-1 update"))
    assert failed.value.status == reply.status
    assert failed.value.transient is (reply.status >= 500)


def test_a_deleted_workflow_needs_a_new_url(
    contract: ChatContract, make: Callable[..., TeamsWebhook]
) -> None:
    contract.teams.deleted = True
    with pytest.raises(AuthFailed, match="no longer exists") as gone:
        make().post("webhook", OutMessage("INC-1 update"))
    assert gone.value.status == 404


def test_a_wrong_signature_is_refused(
    contract: ChatContract, make: Callable[..., TeamsWebhook]
) -> None:
    url = contract.teams_url.replace(TEAMS_SIG, "tampered")
    with pytest.raises(AuthFailed) as refused:
        make(url).post("webhook", OutMessage("INC-1 update"))
    assert refused.value.status == 401
    assert "tampered" not in refused.value.message


def test_a_429_gives_retry_after(
    contract: ChatContract, make: Callable[..., TeamsWebhook]
) -> None:
    contract.script("teams", Reply(429, "", {"Retry-After": "7"}))
    with pytest.raises(RateLimited) as slowed:
        make().post("webhook", OutMessage("INC-1 update"))
    assert slowed.value.retry_after == 7


def test_no_answer_is_delivery_unknown(
    contract: ChatContract, make: Callable[..., TeamsWebhook]
) -> None:
    contract.script("teams", Reply(delay=3.0))
    with pytest.raises(DeliveryUnknown, match="look in the channel"):
        make(timeout=(2.0, 0.3)).post("webhook", OutMessage("INC-1 update"))
    assert len(contract.calls("teams")) == 1


def test_connection_refused_is_unreachable_and_hides_the_signature(
    make: Callable[..., TeamsWebhook],
) -> None:
    url = f"http://127.0.0.1:{free_port()}/workflows/0f1e/triggers/manual/paths/"
    with pytest.raises(Unreachable, match="connection refused") as refused:
        make(url + "invoke?api-version=2016-06-01&sig=SIGSECRET").post(
            "webhook", OutMessage("INC-1 update")
        )
    assert refused.value.transient
    assert "SIGSECRET" not in str(refused.value)
    assert "0f1e" not in str(refused.value)
