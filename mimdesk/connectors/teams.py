"""Microsoft Teams through a Workflows webhook ("Post to a channel when a webhook
request is received"): post only, as an Adaptive Card.

Office 365 connector URLs (`….webhook.office.com/webhookb2/…`,
`outlook.office.com/webhook/…`) are retired by Microsoft; they are refused here
with directions to make a Workflows webhook instead. A webhook URL carries its
own signature (`sig=…`), so it is a credential: only its host is ever shown.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3

from mimdesk.connectors.chat import (
    Batch,
    DeliveryUnknown,
    Limits,
    OutMessage,
    Posted,
    RateLimited,
    fit_text,
)
from mimdesk.connectors.errors import (
    AuthFailed,
    ConnectorError,
    Permanent,
    Transient,
    Unreachable,
    reason,
)
from mimdesk.connectors.http import json_session

log = logging.getLogger(__name__)

TIMEOUT = (3.05, 15.0)
# Teams refuses messages above about 28 KB, the JSON envelope included.
MAX_PAYLOAD = 28_000
# Longer texts are split by the sender into several cards rather than cut:
# 12,000 characters fit the payload limit even at two bytes a character.
MAX_TEXT = 12_000
MAX_TITLE = 200
CARD_TYPE = "application/vnd.microsoft.card.adaptive"
CARD_VERSION = "1.4"
JSON_TYPE = "application/json; charset=utf-8"
WEBHOOK = "webhook"
NO_DETAILS = "(no details)"
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
WORKFLOW_HOSTS = (".logic.azure.com", ".api.powerplatform.com", ".powerautomate.com")
SUCCESS = frozenset({200, 201, 202, 204})

CREATE = (
    "in Teams, open the channel's ⋯ menu, choose Workflows, pick 'Send webhook "
    "alerts to a channel', copy the URL it shows and store it as the secret "
    "'teams.webhook' (`mimdesk secret set teams.webhook`)"
)
LEGACY = (
    "this is an Office 365 connector URL, and Microsoft has retired those "
    f"connectors: nothing posted to it arrives. Create a Workflows webhook: {CREATE}"
)
GONE = (
    "the webhook URL no longer exists (or its workflow is off) — create a new one "
    f"in Workflows: {CREATE}"
)


class LegacyWebhook(Permanent):
    """A retired Office 365 connector URL: it must be replaced by Workflows."""

    def __init__(self) -> None:
        super().__init__(LEGACY, source_level=True)


def check_url(url: str) -> str:
    """The host of a usable Workflows webhook URL; LegacyWebhook for a retired
    connector URL, Permanent for anything else unusable."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    path = parts.path.lower()
    if (host.endswith(".webhook.office.com") and path.startswith("/webhookb2/")) or (
        host in ("outlook.office.com", "outlook.office365.com")
        and path.startswith("/webhook/")
    ):
        raise LegacyWebhook()
    if parts.scheme == "https" and host:
        if not host.endswith(WORKFLOW_HOSTS):
            log.info("Teams: %s is not a known Workflows host; posting anyway", host)
        return host
    if parts.scheme == "http" and host in LOOPBACK:
        return host
    raise Permanent(
        f"the Teams webhook must be an https:// URL from Workflows; {CREATE}",
        source_level=True,
    )


class TeamsWebhook:
    """One Teams channel, reached through its Workflows webhook. It can post and
    nothing else: channels, invitations and replies stay in Teams.

    FIXME(teams): Teams throttles more than four posts a second per webhook;
    the sender posts one at a time, so only a 429 slows us, not our own pacing.
    """

    name = "teams"
    can_read = False
    can_create = False
    can_find_sent = False

    def __init__(
        self,
        url: str,
        *,
        ca_file: str | None = None,
        timeout: tuple[float, float] = TIMEOUT,
        max_payload: int = MAX_PAYLOAD,
    ) -> None:
        self.host = check_url(url)
        self.limits = Limits(max_text=MAX_TEXT, max_payload=max_payload)
        self.timeout = timeout
        self._url = url.strip()
        self._session = json_session(None)
        # Passed with every request (see json_session).
        self._verify: str | bool = ca_file or True

    def close(self) -> None:
        self._session.close()

    def ensure_channel(self, incident_id: str, title: str, topic: str) -> str:
        return WEBHOOK

    def set_topic(self, channel: str, topic: str) -> None:
        log.debug("Teams: a webhook cannot set a topic; skipped")

    def invite(self, channel: str, user: str) -> None:
        raise Permanent(
            "Teams webhooks cannot invite; add people to the Teams channel there"
        )

    def read(
        self,
        channels: Sequence[str],
        position: str | None,
        *,
        since: datetime | None = None,
    ) -> Batch:
        raise Permanent("a Teams webhook can only post; replies stay in Teams")

    def find_sent(self, channel: str, txn_id: str) -> str | None:
        """A webhook cannot look back at what it posted."""
        return None

    def post(self, channel: str, message: OutMessage) -> Posted:
        """Post one card. A post that got no answer is DeliveryUnknown: the
        webhook has no idempotency key, so it is never sent again by itself."""
        limit = self.limits.max_payload or MAX_PAYLOAD
        data = fitted_card(message, limit)
        try:
            response = self._session.post(
                self._url, data=data, headers={"Content-Type": JSON_TYPE},
                timeout=self.timeout, verify=self._verify,
            )  # fmt: skip
        except requests.exceptions.RequestException as exc:
            raise self._failed(exc) from None
        if response.status_code not in SUCCESS:
            raise self._refused(response, limit)
        # FIXME(teams): 202 means the flow took the request, not that the card
        # reached the channel; a run that fails later is seen only in the
        # flow's run history. Nothing in the webhook's answer can tell us.
        return Posted("")

    def _failed(self, exc: Exception) -> ConnectorError:
        cause = reason(Exception(self._scrub(str(exc.args[0] if exc.args else exc))))
        if isinstance(exc, requests.exceptions.SSLError):
            return Permanent(
                f"TLS check failed for {self.host}: {cause} (set [teams] ca_file "
                "if a proxy uses a private CA)",
                source_level=True,
            )
        unsure = isinstance(exc, requests.exceptions.ReadTimeout) or (
            isinstance(exc, requests.exceptions.ConnectionError)
            and not isinstance(exc, requests.exceptions.ConnectTimeout)
            and isinstance(
                exc.args[0] if exc.args else None, urllib3.exceptions.ProtocolError
            )
        )
        if unsure:
            return DeliveryUnknown(
                f"Teams ({self.host}) gave no answer to a post: it may have "
                "arrived; look in the channel before sending it again"
            )
        if isinstance(
            exc, requests.exceptions.ConnectionError | requests.exceptions.Timeout
        ):
            return Unreachable(f"cannot reach Teams at {self.host}: {cause}")
        return Permanent(f"bad request to {self.host}: {cause}")

    def _refused(self, response: requests.Response, limit: int) -> ConnectorError:
        status = response.status_code
        text = self._scrub(_error_text(response))
        if status == 429:
            wait = _retry_after(response, 1.0)
            return RateLimited(
                f"Teams rate-limited the webhook; try again in {wait:g} s",
                retry_after=wait,
            )
        if status in (401, 403, 404):
            return AuthFailed(
                f"Teams refused the webhook (HTTP {status}): {GONE}", status=status
            )
        if status == 413:
            return Permanent(
                f"Teams: payload too large (HTTP 413) although it was cut to "
                f"{limit} bytes; lower the limit",
                status=status,
            )
        if status >= 500:
            return Transient(
                f"upstream error {status} from {self.host} ({text})", status=status
            )
        return Permanent(
            f"Teams refused the card (HTTP {status}): {text}", status=status
        )

    def _scrub(self, text: str) -> str:
        """`text` without the URL's secret parts (its path and signature)."""
        parts = urlsplit(self._url)
        for secret in (parts.query, parts.path):
            if len(secret) > 1:
                text = text.replace(secret, "…")
        return text


# --- the card ------------------------------------------------------------------------


def card(title: str, body: str) -> dict[str, Any]:
    """The Workflows envelope around an Adaptive Card: a bold title, a body."""
    blocks: list[dict[str, Any]] = []
    if title:
        blocks.append({"type": "TextBlock", "text": title, "weight": "Bolder",
                       "size": "Medium", "wrap": True})  # fmt: skip
    if body:
        blocks.append({"type": "TextBlock", "text": body, "wrap": True})
    content = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "body": blocks,
        "msteams": {"width": "Full"},
    }
    attachment = {"contentType": CARD_TYPE, "contentUrl": None, "content": content}
    return {"type": "message", "attachments": [attachment]}


def split_title(message: OutMessage) -> tuple[str, str]:
    """The text's first line as the title and the rest (or `rich`) as the body;
    a first line too long for a title stays in the body."""
    text = message.text.strip() or NO_DETAILS
    rich = (message.rich or "").strip()
    first, _, rest = text.partition("\n")
    if len(first) > MAX_TITLE:
        return "", rich or text
    return first.strip(), rich or rest.strip()


def fitted_card(message: OutMessage, limit: int) -> bytes:
    """The card as JSON bytes within `limit`: the body cut (with a pointer to
    the console) no further than needed. Characters take one to four bytes,
    so the longest body that fits is found by bisection."""
    title, body = split_title(message)
    ref = message.txn_id or "the incident timeline"

    def build(budget: int) -> bytes:
        return _encode(card(title, fit_text(body, budget, ref=ref)))

    best = build(len(body))
    if len(best) <= limit:
        return best
    best = build(0)
    if len(best) > limit:
        raise Permanent(
            f"Teams: even an empty card is over the {limit}-byte limit; the "
            "title is too long"
        )
    low, high = 0, len(body) - 1
    while low < high:
        middle = (low + high + 1) // 2
        data = build(middle)
        if len(data) <= limit:
            low, best = middle, data
        else:
            high = middle - 1
    return best


def _encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def _retry_after(response: requests.Response, default: float) -> float:
    try:
        return max(float(response.headers.get("Retry-After", "")), 0.0)
    except ValueError:
        return default


def _error_text(response: requests.Response) -> str:
    """The service's own words: Workflows answers {"error": {"code", "message"}}."""
    try:
        body = response.json()
    except ValueError:
        kind = response.headers.get("Content-Type", "") or "no content type"
        text = response.text.strip()
        return text[:300] if text and "html" not in kind else f"{kind} answer"
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        code, words = error.get("code", ""), error.get("message", "")
        return f"{code}: {words}"[:300] if code else str(words)[:300]
    return str(error or body)[:300]
