"""Slack: the Web API with a bot token (create, invite, post, read back), or an
incoming webhook (post only).

Slack answers most failures with HTTP 200 and `{"ok": false, "error": code}`,
so a call succeeded only when `ok` is true, whatever the status. Codes become
connector errors here. The token and the webhook URL (a credential too) never
appear in an error message or the log.
"""

from __future__ import annotations

import json
import logging
import re
import time
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3

from mimdesk.connectors.chat import (
    OPENED_MARGIN,
    Batch,
    ChatMessage,
    DeliveryUnknown,
    Limits,
    Membership,
    OutMessage,
    Posted,
    RateLimited,
    fit_text,
    split_text,
)
from mimdesk.connectors.errors import (
    AuthFailed,
    ConnectorError,
    Permanent,
    TimedOut,
    Transient,
    Unreachable,
    reason,
)
from mimdesk.connectors.http import Auth, json_session

log = logging.getLogger(__name__)

API_URL = "https://slack.com/api"
TIMEOUT = (3.05, 15.0)
MAX_TEXT = 40_000  # Slack truncates a message's text beyond this
MAX_BLOCKS = 50
MAX_SECTION = 3_000  # characters in one section block
MAX_TOPIC = 250
MAX_NAME = 80
# conversations.history for apps outside the Marketplace (since May 2025):
# one call a minute, at most 15 messages a page.
HISTORY_LIMIT = 15
HISTORY_INTERVAL_S = 60.0
POST_INTERVAL_S = 1.0  # chat.postMessage: one message a second per channel
LIST_LIMIT = 200
MAX_PAGES = 20  # of history per channel and read; the rest waits for the next
NO_DETAILS = "(no details)"
JSON_TYPE = "application/json; charset=utf-8"
WEBHOOK = "webhook"
START = "*"  # position key: where reading began, for channels opened later
POSTING = "chat.postMessage"
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
TS = re.compile(r"\d{1,12}(\.\d{1,6})?")

REAUTH = "needs re-authentication: reinstall the app or set a new token"
INVITE_HINT = "invite the app to the channel / use channel ID"
WEBHOOK_GONE = (
    "the webhook was revoked: create a new incoming webhook in the Slack app "
    "settings and store it as 'slack.webhook'"
)

AUTH_ERRORS = frozenset(
    {"not_authed", "invalid_auth", "token_revoked", "token_expired",
     "account_inactive", "no_permission", "org_login_required",
     "team_access_not_granted"}
)  # fmt: skip
CHANNEL_ERRORS = frozenset({"channel_not_found", "not_in_channel"})
ARCHIVED = frozenset({"is_archived", "channel_is_archived"})
# The message as built was refused: a bug on our side, never retried.
PAYLOAD_ERRORS = frozenset(
    {"no_text", "missing_text_or_fallback_or_attachments", "invalid_blocks",
     "invalid_blocks_format", "msg_too_long", "msg_blocks_too_long",
     "too_many_attachments", "invalid_attachments", "invalid_payload",
     "invalid_arguments", "invalid_json", "json_not_object", "invalid_charset",
     "invalid_form_data", "missing_post_type", "invalid_post_type",
     "invalid_arg_name", "invalid_array_arg"}
)  # fmt: skip
TRANSIENT_ERRORS = frozenset(
    {"internal_error", "fatal_error", "service_unavailable", "request_timeout",
     "team_added_to_org"}
)  # fmt: skip
# Slack documents these as possibly having done part of the work.
UNSURE_ERRORS = frozenset({"internal_error", "fatal_error", "request_timeout"})
WEBHOOK_REVOKED = frozenset(
    {"invalid_token", "no_service", "no_service_id", "no_team", "team_disabled"}
)
HINTS = {
    "user_not_found": "no such Slack user: check the person's Slack id (U…) in "
    "the directory",
    "cant_invite": "Slack does not let this user be invited to the channel",
    "restricted_action": "a workspace setting stops the app from doing this; "
    "ask a Slack admin",
    "action_prohibited": "a Slack admin has restricted posting to the channel",
    "posting_to_general_channel_denied": "only admins may post to this channel",
    "too_long": "the text is longer than Slack allows",
}
# Message subtypes shown as chat; joins and leaves become memberships; the
# rest (topic changes, pins, edits) are housekeeping.
SHOWN = frozenset({None, "bot_message", "me_message", "thread_broadcast", "file_share"})
JOINS = {"channel_join": "join", "channel_leave": "leave"}


class SlackClient:
    """One Slack workspace, through a bot token or else an incoming webhook.

    With a token every call goes to the Web API (and `webhook_url` is unused);
    with only a webhook the client can post and nothing else. Meant for
    sequential use by one worker thread."""

    name = "slack"
    limits = Limits(max_text=MAX_TEXT)

    def __init__(
        self,
        token: str | None = None,
        *,
        webhook_url: str | None = None,
        api_url: str = API_URL,
        ca_file: str | None = None,
        timeout: tuple[float, float] = TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        history_interval: float = HISTORY_INTERVAL_S,
        history_limit: int = HISTORY_LIMIT,
    ) -> None:
        if not token and not webhook_url:
            raise Permanent(
                "Slack needs a bot token ('slack.token') or an incoming webhook "
                "URL ('slack.webhook')",
                source_level=True,
            )
        self.api_url = api_url.rstrip("/")
        self.can_read = self.can_create = bool(token)
        self.can_find_sent = False
        self._webhook = None if token else webhook_url
        self._where = _webhook_host(self._webhook) if self._webhook else self.api_url
        self.timeout = timeout
        self.history_interval = history_interval
        self.history_limit = history_limit
        self.user_id: str | None = None  # the app's own user, once known
        self._clock = clock
        self._sleep = sleep
        self._session = json_session(Auth(token=token) if token else None)
        # Passed with every request (see json_session).
        self._verify: str | bool = ca_file or True
        self._last_post: dict[str, float] = {}
        self._read_at: dict[str, float] = {}
        self._dead: AuthFailed | None = None

    def close(self) -> None:
        self._session.close()

    # --- channels ---------------------------------------------------------------

    def ensure_channel(self, incident_id: str, title: str, topic: str) -> str:
        """The incident's channel, created or (after an earlier attempt) found."""
        if self._webhook:
            return WEBHOOK
        name = channel_name(incident_id)
        body = self._call("conversations.create", {"name": name}, accept={"name_taken"})
        if not body.get("ok"):
            channel = self._find_channel(name)
        elif channel := _text(_object(body.get("channel")).get("id")):
            log.info("Slack: created #%s (%s) for %s", name, channel, incident_id)
        else:
            raise Permanent(
                f"Slack conversations.create gave no channel id for #{name}"
            )
        if topic.strip():
            self.set_topic(channel, topic)
        return channel

    def set_topic(self, channel: str, topic: str) -> None:
        if self._webhook:
            log.debug("Slack: a webhook cannot set a topic; skipped")
            return
        self._call("conversations.setTopic", {"channel": channel, "topic": _cut(topic)})

    def invite(self, channel: str, user: str) -> None:
        if self._webhook:
            raise Permanent(
                "a webhook cannot invite: store a bot token under 'slack.token' "
                "to invite people, or invite them in Slack"
            )
        payload = {"channel": channel, "users": user}
        present = {"already_in_channel", "cant_invite_self"}
        self._call("conversations.invite", payload, accept=present)

    def _find_channel(self, name: str) -> str:
        """The channel called `name` (taken: made by an earlier attempt)."""
        cursor = ""
        while True:
            params = {"types": "public_channel,private_channel", "limit": LIST_LIMIT,
                      "exclude_archived": "true", "cursor": cursor}  # fmt: skip
            body = self._call("conversations.list", params=params)
            for channel in body.get("channels") or ():
                if isinstance(channel, dict) and channel.get("name") == name:
                    return self._join(channel)
            cursor = _next_cursor(body)
            if not cursor:
                raise Permanent(
                    f"Slack: #{name} exists but the app cannot see it (archived, "
                    "or private without the app): unarchive it and invite the "
                    "app, or rename that channel"
                )

    def _join(self, channel: Mapping[str, Any]) -> str:
        channel_id = str(channel.get("id", ""))
        if channel.get("is_member", True):
            return channel_id
        if channel.get("is_private"):
            raise Permanent(f"Slack: #{channel.get('name')}: {INVITE_HINT}")
        self._call("conversations.join", {"channel": channel_id})
        return channel_id

    # --- posting ----------------------------------------------------------------

    def find_sent(self, channel: str, txn_id: str) -> str | None:
        """Slack keeps no transaction ids (see the FIXME in _answer)."""
        return None

    def post(self, channel: str, message: OutMessage) -> Posted:
        """Post once. Slack has no idempotency key, so a post that got no
        answer is reported as DeliveryUnknown, never sent again by itself."""
        self._check_alive()
        payload = build_message(message)
        self._pace(WEBHOOK if self._webhook else channel)
        if self._webhook:
            self._send_webhook(self._webhook, payload)
            return Posted("")
        body = self._call(POSTING, {"channel": channel, **payload})
        # FIXME(slack): a ts is unique within its channel only, and it is the
        # remote id here and in `read`; a composite "channel/ts" would be safe
        # across channels but changes what Posted means for every caller.
        self.user_id = self.user_id or _text(_object(body.get("message")).get("user"))
        return Posted(str(body.get("ts", "")))

    def _pace(self, key: str) -> None:
        """At most one post a second per channel: wait out the rest of it."""
        last = self._last_post.get(key)
        if last is not None:
            wait = last + POST_INTERVAL_S - self._clock()
            if wait > 0:
                self._sleep(wait)
        now = self._clock()
        if len(self._last_post) > 256:
            self._last_post = {
                k: t for k, t in self._last_post.items() if now - t < POST_INTERVAL_S
            }
        self._last_post[key] = now

    def _send_webhook(self, url: str, payload: dict[str, Any]) -> None:
        self._check_alive()
        try:
            response = self._session.post(
                url, data=_encode(payload), headers={"Content-Type": JSON_TYPE},
                timeout=self.timeout, verify=self._verify,
            )  # fmt: skip
        except requests.exceptions.RequestException as exc:
            raise self._failed(exc, "the webhook", posting=True) from None
        status, text = response.status_code, response.text.strip()
        if 200 <= status < 300 and (text == "ok" or _json_ok(response)):
            return
        if status == 429:
            raise _rate_limited(response, "the webhook", 1.0)
        code = text if re.fullmatch(r"[a-z_]{2,60}", text) else ""
        raise self._webhook_error(status, code, payload, response)

    def _webhook_error(
        self,
        status: int,
        code: str,
        payload: Mapping[str, Any],
        response: requests.Response,
    ) -> ConnectorError:
        what = f"Slack webhook ({self._where}): {code or f'HTTP {status}'}"
        if code in WEBHOOK_REVOKED:
            return self._auth_failed(
                AuthFailed(f"{what}: {WEBHOOK_GONE}", status=status)
            )
        if code in PAYLOAD_ERRORS:
            return _payload_refused(what, payload, status)
        if code in ARCHIVED:
            return Permanent(
                f"{what}: the webhook's channel is archived: unarchive it, or "
                "create a webhook for another channel",
                status=status,
            )
        if code == "channel_not_found":
            return Permanent(
                f"{what}: the webhook's channel no longer exists; create a webhook "
                "for another channel",
                status=status,
            )
        if code in HINTS:
            return Permanent(f"{what}: {HINTS[code]}", status=status)
        if status >= 500:
            return Transient(
                f"upstream error {status} from {self._where}", status=status
            )
        kind = response.headers.get("Content-Type", "no content type")
        return Permanent(f"{what} ({kind} answer)", status=status)

    # --- reading ----------------------------------------------------------------

    def read(
        self,
        channels: Sequence[str],
        position: str | None,
        *,
        since: datetime | None = None,
    ) -> Batch:
        """Messages since `position`, oldest first; a first read, from `since`
        (when the channel was opened) or else from now on.

        conversations.history answers newest first, so a read cut short by a
        429 keeps the cursor it stopped at and goes on from there next time:
        nothing is skipped, nothing read twice (unless Slack no longer knows
        the cursor: then the store drops the repeats). Channels read least recently
        go first, so under the one-call-a-minute tier every channel gets its
        turn."""
        if self._webhook:
            raise Permanent(
                "a Slack webhook can only post: store a bot token under "
                "'slack.token' to read replies"
            )
        self._check_alive()
        if self.user_id is None:
            self._whoami()
        marks, start = _load(position)
        found: list[tuple[str, dict[str, Any]]] = []
        kept: dict[str, _Mark] = {}
        waited: float | None = None
        for channel in sorted(channels, key=lambda c: self._read_at.get(c, -1.0)):
            mark = marks.get(channel)
            if waited is None:
                walk = self._read_channel(
                    channel, mark, start, fresh=position is None, since=since
                )
                found += [(channel, raw) for raw in walk.found]
                mark, waited = walk.mark or mark, walk.waited
                if waited is None:
                    self._read_at[channel] = self._clock()
            if mark is not None:
                kept[channel] = mark
        if position is None:
            start = max((m.ts for m in kept.values() if m.ts != "0"), key=ts_key,
                        default=None)  # fmt: skip
        return self._batch(found, kept, start, waited)

    def _read_channel(
        self,
        channel: str,
        mark: _Mark | None,
        start: str | None,
        *,
        fresh: bool,
        since: datetime | None,
    ) -> _Walk:
        if mark is not None:
            return self._walk(channel, mark)
        if start is not None and not fresh:
            return self._walk(channel, _Mark(start))  # opened since reading began
        if fresh and since is not None:
            # What was said between opening the channel and this first read.
            oldest = (since - OPENED_MARGIN).timestamp()
            return self._walk(channel, _Mark(f"{max(oldest, 0.0):.6f}"))
        return self._latest(channel)

    def _latest(self, channel: str) -> _Walk:
        """From now on: note the newest message, return nothing."""
        params = {"channel": channel, "limit": 1}
        try:
            body = self._call("conversations.history", params=params)
        except RateLimited as exc:
            return _Walk(waited=exc.retry_after)
        stamps = [_text(m.get("ts")) for m in _messages(body)]
        return _Walk(mark=_Mark(max(stamps, key=ts_key, default="0")))

    def _walk(self, channel: str, mark: _Mark) -> _Walk:
        """Everything newer than `mark.ts`, page by page (newest first).

        FIXME(slack): replies inside threads are not in the history (only
        their parents and broadcasts); reading them needs conversations.replies,
        which has the same low tier."""
        found: list[dict[str, Any]] = []
        cursor, top = mark.cursor, mark.top or mark.ts
        for _ in range(MAX_PAGES):
            params = {"channel": channel, "limit": self.history_limit,
                      "oldest": mark.ts, "cursor": cursor}  # fmt: skip
            try:
                body = self._call("conversations.history", params=params,
                                  accept={"invalid_cursor"})  # fmt: skip
            except RateLimited as exc:
                return _Walk(found, _Mark(mark.ts, cursor, top), exc.retry_after)
            if not body.get("ok"):
                if not cursor:
                    raise Permanent("Slack conversations.history: invalid_cursor")
                log.info("Slack: reading %s again from its last message", channel)
                cursor = ""
                found.clear()
                continue
            page = [m for m in _messages(body) if ts_key(_text(m.get("ts"))) >
                    ts_key(mark.ts)]  # fmt: skip
            found += page
            top = max([top, *(_text(m.get("ts")) for m in page)], key=ts_key)
            cursor = _next_cursor(body) if body.get("has_more") else ""
            if not cursor:
                return _Walk(found, _Mark(top))
        return _Walk(found, _Mark(mark.ts, cursor, top))  # the rest next time

    def _batch(
        self,
        found: list[tuple[str, dict[str, Any]]],
        marks: Mapping[str, _Mark],
        start: str | None,
        waited: float | None,
    ) -> Batch:
        found.sort(key=lambda item: ts_key(_text(item[1].get("ts"))))
        messages: list[ChatMessage] = []
        joins: list[Membership] = []
        for channel, raw in found:
            item = _convert(channel, raw)
            if isinstance(item, ChatMessage):
                messages.append(item)
            elif item is not None:
                joins.append(item)
        state: dict[str, Any] = {c: m.dump() for c, m in marks.items()}
        if start is not None:
            state[START] = start
        notes: tuple[str, ...] = ()
        if waited is not None:
            notes = (f"Slack rate-limited reading; going on in {waited:g} s",)
        return Batch(
            tuple(messages), tuple(joins), json.dumps(state, sort_keys=True),
            next_read_after=max(self.history_interval, waited or 0.0), notes=notes,
        )  # fmt: skip

    def _whoami(self) -> None:
        body = self._call("auth.test")
        self.user_id = _text(body.get("user_id")) or None

    # --- the Web API ------------------------------------------------------------

    def _call(
        self,
        method: str,
        payload: dict[str, Any] | None = None,
        *,
        params: Mapping[str, Any] | None = None,
        accept: frozenset[str] | set[str] = frozenset(),
    ) -> dict[str, Any]:
        """One Web API call: POST with a JSON body, or GET with `params`.
        Error codes in `accept` are answers, returned like a success."""
        self._check_alive()
        try:
            response = self._request(method, payload, params)
        except requests.exceptions.RequestException as exc:
            raise self._failed(exc, method, posting=method == POSTING) from None
        try:
            return self._answer(method, response, payload, accept)
        except AuthFailed as exc:
            raise self._auth_failed(exc) from None

    def _request(
        self,
        method: str,
        payload: dict[str, Any] | None,
        params: Mapping[str, Any] | None,
    ) -> requests.Response:
        url = f"{self.api_url}/{method}"
        if payload is None:
            query = {k: v for k, v in (params or {}).items() if v not in ("", None)}
            return self._session.get(
                url, params=query, timeout=self.timeout, verify=self._verify
            )
        return self._session.post(
            url, data=_encode(payload), headers={"Content-Type": JSON_TYPE},
            timeout=self.timeout, verify=self._verify,
        )  # fmt: skip

    def _answer(
        self,
        method: str,
        response: requests.Response,
        payload: Mapping[str, Any] | None,
        accept: frozenset[str] | set[str],
    ) -> dict[str, Any]:
        status = response.status_code
        if status == 429:
            wait = self.history_interval if method.endswith("history") else 1.0
            raise _rate_limited(response, method, wait)
        body = _json(response)
        if body is None:
            kind = response.headers.get("Content-Type", "") or "no content type"
            # FIXME(slack): a 502/504 from a proxy after Slack took a post is
            # retried and may post twice. Posting an outbox marker as message
            # metadata and offering `find_sent` (as Matrix does) would fix it.
            if status >= 500:
                raise Transient(
                    f"upstream error {status} from {self.api_url} ({kind} answer "
                    f"to {method})",
                    status=status,
                )
            raise Permanent(
                f"{self.api_url} answered {method} with HTTP {status} ({kind}), "
                "not Slack's JSON: check [slack] api_url",
                status=status,
                source_level=True,
            )
        if body.get("ok") is True:
            _log_warnings(method, body)
            return body
        code = _text(body.get("error")) or f"HTTP {status}"
        if code in accept:
            return body
        raise _refused(method, code, body, payload, status)

    def _failed(self, exc: Exception, what: str, *, posting: bool) -> ConnectorError:
        """The connector error for a request that got no answer."""
        cause = reason(Exception(self._scrub(str(exc.args[0] if exc.args else exc))))
        where = self._where
        if isinstance(exc, requests.exceptions.SSLError):
            return Permanent(
                f"TLS check failed for {where}: {cause} (set [slack] ca_file if "
                "a proxy uses a private CA)",
                source_level=True,
            )
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return Unreachable(f"cannot reach Slack at {where}: {cause}")
        if isinstance(exc, requests.exceptions.ReadTimeout):
            waited = f"{self.timeout[1]:g} s"
            if posting:
                return DeliveryUnknown(
                    f"Slack did not answer {what} within {waited}: the message may "
                    "have been posted; look in the channel before sending it again"
                )
            return TimedOut(f"Slack did not answer {what} within {waited}")
        if isinstance(exc, requests.exceptions.ConnectionError):
            if posting and _was_sent(exc):
                return DeliveryUnknown(
                    f"the connection to {where} broke during {what}: the message "
                    "may have been posted; look in the channel before sending it again"
                )
            return Unreachable(f"cannot reach Slack at {where}: {cause}")
        return Permanent(f"bad request to {where} ({what}): {cause}")

    def _scrub(self, text: str) -> str:
        """`text` without the webhook's secret path."""
        if self._webhook:
            secret = urlsplit(self._webhook).path
            if len(secret) > 1:
                text = text.replace(secret, "/…")
        return text

    def _auth_failed(self, exc: AuthFailed) -> AuthFailed:
        """Remember a dead credential: no further request is made with it."""
        self._dead = exc
        log.warning("Slack: %s; nothing more is sent with these credentials", exc)
        return exc

    def _check_alive(self) -> None:
        if self._dead is not None:
            raise AuthFailed(self._dead.message, status=self._dead.status)


@dataclass(frozen=True)
class _Mark:
    """Where reading a channel stands: the newest message seen (`ts`); while a
    walk back through newer messages is unfinished, its cursor and the newest
    message it has seen (`top`)."""

    ts: str
    cursor: str = ""
    top: str = ""

    def dump(self) -> str | dict[str, str]:
        if not self.cursor:
            return self.ts
        return {"ts": self.ts, "cursor": self.cursor, "top": self.top}


@dataclass(frozen=True)
class _Walk:
    """What reading one channel gave: raw messages, where it stands now, and
    the wait Slack asked for if it stopped the walk."""

    found: list[dict[str, Any]] = field(default_factory=list)
    mark: _Mark | None = None
    waited: float | None = None


# --- building messages -------------------------------------------------------------


def channel_name(incident_id: str) -> str:
    """A valid Slack channel name for an incident: `inc-20261203-0001`."""
    plain = unicodedata.normalize("NFKD", incident_id.strip().lower())
    plain = plain.encode("ascii", "ignore").decode()  # "ü" -> "u"
    name = re.sub(r"[^a-z0-9_-]+", "-", plain).strip("-_")
    return re.sub(r"-{2,}", "-", name)[:MAX_NAME] or "incident"


def build_message(message: OutMessage) -> dict[str, Any]:
    """The body of a post: a top-level `text` that is never empty (it is what
    notifications and screen readers show) and, for `rich`, section blocks."""
    ref = message.txn_id or "the incident timeline"
    text = message.text if message.text.strip() else NO_DETAILS
    payload: dict[str, Any] = {"text": fit_escaped(text, MAX_TEXT, ref=ref)}
    if message.rich and message.rich.strip():
        payload["blocks"] = sections(message.rich, ref=ref)
    return payload


def sections(rich: str, *, ref: str) -> list[dict[str, Any]]:
    """`rich` (Slack mrkdwn) as section blocks, each within Slack's limits."""
    parts = split_text(rich, MAX_SECTION, max_parts=MAX_BLOCKS, ref=ref)
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": part}}
        for part in parts
        if part.strip()
    ]


def escape(text: str) -> str:
    """Plain text made safe for Slack: `<!channel>` typed in an update must not
    notify everyone, so the three control characters are escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def fit_escaped(text: str, limit: int, *, ref: str) -> str:
    """`text` escaped and cut (with a pointer to the console) to `limit`."""
    budget = limit
    while True:
        out = escape(fit_text(text, budget, ref=ref))
        if len(out) <= limit:
            return out
        budget = max(budget - (len(out) - limit), 0)


def _cut(topic: str) -> str:
    topic = " ".join(topic.split())
    return topic if len(topic) <= MAX_TOPIC else topic[: MAX_TOPIC - 1] + "…"


def shape(payload: Mapping[str, Any] | None) -> str:
    """What a payload held, without its words: keys, sizes, block types."""
    if not payload:
        return "{}"
    parts = []
    for key, value in payload.items():
        if isinstance(value, str):
            parts.append(f"{key}: {len(value)} chars")
        elif isinstance(value, list):
            kinds = sorted({str(v.get("type")) for v in value if isinstance(v, dict)})
            parts.append(f"{key}: {len(value)} ({', '.join(kinds)})")
        else:
            parts.append(f"{key}: {type(value).__name__}")
    return "{" + "; ".join(parts) + "}"


def _encode(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


# --- reading answers -----------------------------------------------------------------


def _object(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _json(response: requests.Response) -> dict[str, Any] | None:
    if "json" not in response.headers.get("Content-Type", ""):
        return None
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _json_ok(response: requests.Response) -> bool:
    body = _json(response)
    return body is not None and body.get("ok") is True


def _next_cursor(body: Mapping[str, Any]) -> str:
    return _text(_object(body.get("response_metadata")).get("next_cursor"))


def _messages(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    raw = body.get("messages")
    if not isinstance(raw, list):
        return []
    return [m for m in raw if isinstance(m, dict) and TS.fullmatch(_text(m.get("ts")))]


def _log_warnings(method: str, body: Mapping[str, Any]) -> None:
    warnings = _object(body.get("response_metadata")).get("warnings")
    if warnings:
        log.debug("Slack %s warned: %s", method, warnings)


def _retry_after(response: requests.Response, default: float) -> float:
    try:
        return max(float(response.headers.get("Retry-After", "")), 0.0)
    except ValueError:
        return default


def _rate_limited(
    response: requests.Response, what: str, default: float
) -> RateLimited:
    wait = _retry_after(response, default)
    return RateLimited(
        f"Slack rate-limited {what}; try again in {wait:g} s", retry_after=wait
    )


def _refused(
    method: str,
    code: str,
    body: Mapping[str, Any],
    payload: Mapping[str, Any] | None,
    status: int,
) -> ConnectorError:
    """The connector error for an `ok: false` answer."""
    what = f"Slack {method}: {code}"
    if code in AUTH_ERRORS:
        return AuthFailed(f"{what}: Slack {REAUTH}", status=status)
    if code == "missing_scope":
        needed = _text(body.get("needed")) or "a scope"
        return AuthFailed(
            f"{what} (needs {needed}): reinstall the app with that scope, then set "
            "the new token",
            status=status,
        )
    if code == "ratelimited":
        return RateLimited(f"{what}; try again in 1 s", retry_after=1.0, status=status)
    if code in CHANNEL_ERRORS:
        return Permanent(f"{what}: {INVITE_HINT}", status=status)
    if code in ARCHIVED:
        return Permanent(
            f"{what}: the channel is archived; unarchive it in Slack", status=status
        )
    if code in PAYLOAD_ERRORS:
        return _payload_refused(what, payload, status)
    if code in UNSURE_ERRORS and method == POSTING:
        return DeliveryUnknown(
            f"{what}: Slack says the message may have been posted; look in the "
            "channel before sending it again",
            status=status,
        )
    if code in TRANSIENT_ERRORS or status >= 500:
        return Transient(f"{what}; try again later", status=status)
    if code in HINTS:
        return Permanent(f"{what}: {HINTS[code]}", status=status)
    return Permanent(what, status=status)


def _payload_refused(
    what: str, payload: Mapping[str, Any] | None, status: int
) -> Permanent:
    log.warning("%s; the message had the shape %s", what, shape(payload))
    return Permanent(
        f"{what}: Slack refused the message as MIMDesk built it (a bug, not "
        "retried; its shape is in the log)",
        status=status,
    )


def _was_sent(exc: requests.exceptions.ConnectionError) -> bool:
    """Whether the connection broke after the request went out."""
    cause = exc.args[0] if exc.args else None
    return isinstance(cause, urllib3.exceptions.ProtocolError)


def _webhook_host(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme == "https" or (parts.scheme == "http" and host in LOOPBACK):
        return host
    raise Permanent(
        "the Slack webhook must be an https:// URL (from the app's 'Incoming "
        "Webhooks' page)",
        source_level=True,
    )


# --- positions and messages read back ---------------------------------------------


def ts_key(ts: str) -> tuple[int, int]:
    """A Slack timestamp ("1714550100.000200") as a sortable exact pair."""
    seconds, _, fraction = ts.partition(".")
    return int(seconds or 0), int((fraction + "000000")[:6])


def ts_time(ts: str) -> datetime:
    seconds, micro = ts_key(ts)
    return datetime.fromtimestamp(seconds, UTC) + timedelta(microseconds=micro)


def _load(position: str | None) -> tuple[dict[str, _Mark], str | None]:
    """Marks by channel, and where reading began, from a saved position."""
    if position is None:
        return {}, None
    try:
        raw = json.loads(position)
    except ValueError:
        raw = None
    if not isinstance(raw, dict):
        log.warning("Slack: unreadable read position; reading from now on")
        return {}, None
    start = raw.pop(START, None)
    marks = {c: m for c, v in raw.items() if (m := _mark(v)) is not None}
    return marks, start if isinstance(start, str) and TS.fullmatch(start) else None


def _mark(value: object) -> _Mark | None:
    if isinstance(value, str) and TS.fullmatch(value):
        return _Mark(value)
    state = _object(value)
    ts, cursor, top = (_text(state.get(k)) for k in ("ts", "cursor", "top"))
    if TS.fullmatch(ts):
        return _Mark(ts, cursor, top if TS.fullmatch(top) else "")
    return None


def _convert(channel: str, raw: Mapping[str, Any]) -> ChatMessage | Membership | None:
    ts = _text(raw.get("ts"))
    subtype = raw.get("subtype")
    user = _text(raw.get("user")) or _text(raw.get("bot_id"))
    if subtype in JOINS:
        return Membership(channel, ts, user, JOINS[str(subtype)], ts_time(ts))
    if subtype not in SHOWN:
        return None
    name = _text(raw.get("username")) if subtype == "bot_message" else ""
    text = unescape(_text(raw.get("text")))
    return ChatMessage(channel, ts, user, ts_time(ts), text, author_name=name)
