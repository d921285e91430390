"""A loopback stand-in for Slack (Web API and incoming webhooks) and a Microsoft
Teams Workflows webhook, following their published contracts closely enough to
hold our clients to them.

Slack: every Web API answer is HTTP 200 with `ok`, errors as `ok: false` plus a
code (channel_not_found, not_in_channel, invalid_auth, token_revoked, name_taken,
already_in_channel, no_text, invalid_blocks...); a `missing_charset` warning for
JSON posted without a charset; conversations.history newest first, `oldest`
exclusive, cursor pagination with `has_more`; incoming webhooks answer
text/plain (`ok`, or `no_text`, `invalid_payload`, `channel_is_archived`,
`no_service`, `invalid_token`...). Teams Workflows: 202 Accepted with an empty
body for a message envelope holding an Adaptive Card; 400 with a JSON error
for anything else, 401 for a bad signature, 404 for an unknown workflow, 413
above the size limit.

Any request can be answered from a script instead (429 with Retry-After, an
HTML 502 from a proxy, a hang, a dropped connection), to replay a recorded
exchange. Every request is recorded, body included.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

BOT = "UBOT000001"
PEOPLE = ("U000000ALICE", "U00000000BOB")
TEAMS_SIG = "contract-signature"
WEBHOOK_PATH = "/services/T000/B000/XXXXPLACEHOLDER"
TEAMS_WORKFLOW = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
MAX_TEAMS_BYTES = 28_000
MAX_TEXT = 40_000
NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-_")


@dataclass(frozen=True)
class Reply:
    """One scripted answer."""

    status: int = 200
    body: Any = None  # dict/list -> JSON; str -> text/plain (or content_type)
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None
    delay: float = 0.0  # seconds before answering: a server that hangs
    drop: bool = False  # close the connection without answering


@dataclass(frozen=True)
class Request:
    """One request the server received."""

    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    body: bytes

    @property
    def endpoint(self) -> str:
        """'chat.postMessage', 'webhook' or 'teams'."""
        if self.path.startswith("/api/"):
            return self.path.removeprefix("/api/")
        return "webhook" if self.path.startswith("/services/") else "teams"

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def args(self) -> dict[str, Any]:
        """The call's arguments: the JSON body of a POST, else the query."""
        if self.method == "POST" and self.body:
            body = self.json
            return body if isinstance(body, dict) else {}
        return dict(self.params)


@dataclass
class Channel:
    id: str
    name: str
    private: bool = False
    archived: bool = False
    topic: str = ""
    members: set[str] = field(default_factory=set)
    messages: list[dict[str, Any]] = field(default_factory=list)  # oldest first

    def listed(self) -> dict[str, Any]:
        return {
            "id": self.id, "name": self.name, "is_channel": True,
            "is_private": self.private, "is_archived": self.archived,
            "is_member": BOT in self.members,
            "topic": {"value": self.topic}, "num_members": len(self.members),
        }  # fmt: skip


def _ok(**fields: Any) -> Reply:
    return Reply(200, {"ok": True, **fields})


def _error(code: str, **fields: Any) -> Reply:
    return Reply(200, {"ok": False, "error": code, **fields})


def _encode_cursor(ts: str) -> str:
    return base64.b64encode(f"next_ts:{ts}".encode()).decode()


def _decode_cursor(cursor: str) -> str | None:
    try:
        text = base64.b64decode(cursor, validate=True).decode()
    except ValueError:
        return None
    return text.removeprefix("next_ts:") if text.startswith("next_ts:") else None


def _ts_key(ts: str) -> tuple[int, int]:
    seconds, _, fraction = ts.partition(".")
    return int(seconds), int((fraction + "000000")[:6])


class SlackWorkspace:
    """One workspace with a bot: its channels, their messages, a token, and
    incoming webhooks (each bound to one channel)."""

    def __init__(self, token: str, *, history_cap: int = 15) -> None:
        self.token = token
        self.revoked: str | None = None  # e.g. "token_revoked"
        self.users = {BOT, *PEOPLE}
        self.channels: dict[str, Channel] = {}
        self.webhooks: dict[str, str] = {}  # secret path -> channel id
        self.dead_webhooks: set[str] = set()
        self.history_cap = history_cap  # non-Marketplace apps: at most 15
        self._ids = itertools.count(1)
        self._last_us = 1_714_550_000_000_000
        self._lock = threading.Lock()

    # --- set-up for tests --------------------------------------------------------

    def add_channel(self, name: str, *, member: bool = True, **kw: Any) -> Channel:
        channel = Channel(f"C{next(self._ids):010d}", name, **kw)
        if member:
            channel.members.add(BOT)
        self.channels[channel.id] = channel
        return channel

    def say(self, channel: Channel, text: str, user: str = PEOPLE[0]) -> str:
        """Someone writes in `channel`; gives the message's ts."""
        return self._append(channel, {"type": "message", "user": user, "text": text})

    def add_webhook(self, channel: Channel, path: str) -> str:
        self.webhooks[path] = channel.id
        return path

    # --- the Web API ---------------------------------------------------------------

    def answer(self, request: Request) -> Reply:
        with self._lock:
            return self._answer(request)

    def _answer(self, request: Request) -> Reply:
        method = request.endpoint
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            return Reply(404, {"ok": False, "error": "unknown_method"})
        refused = self._check_auth(request)
        if refused is not None:
            return refused
        if request.method == "POST" and request.body:
            try:
                json.loads(request.body)
            except ValueError:
                return _error("invalid_json")
        reply: Reply = handler(request.args)
        return self._with_charset_warning(request, reply)

    def _check_auth(self, request: Request) -> Reply | None:
        given = request.headers.get("Authorization", "")
        if not given:
            return _error("not_authed")
        if given != f"Bearer {self.token}":
            return _error("invalid_auth")
        return _error(self.revoked) if self.revoked else None

    @staticmethod
    def _with_charset_warning(request: Request, reply: Reply) -> Reply:
        kind = request.headers.get("Content-Type", "")
        if (
            request.method != "POST"
            or "charset" in kind
            or not isinstance(reply.body, dict)
        ):
            return reply
        body = {**reply.body, "warning": "missing_charset"}
        body["response_metadata"] = {"warnings": ["missing_charset"]}
        return Reply(reply.status, body, reply.headers)

    def _channel(self, args: dict[str, Any]) -> Channel | Reply:
        channel = self.channels.get(str(args.get("channel", "")))
        if channel is None:
            return _error("channel_not_found")
        if channel.archived:
            return _error("is_archived")
        if BOT not in channel.members:
            return _error("not_in_channel")
        return channel

    def _m_auth_test(self, args: dict[str, Any]) -> Reply:
        return _ok(url="https://placeholder.slack.invalid/", team="Placeholder",
                   user="mimdesk", team_id="T0000000", user_id=BOT,
                   bot_id="B0000000")  # fmt: skip

    def _m_conversations_create(self, args: dict[str, Any]) -> Reply:
        name = str(args.get("name", ""))
        if not name:
            return _error("invalid_name_required")
        if len(name) > 80:
            return _error("invalid_name_maxlength")
        if not set(name) <= NAME_CHARS:
            return _error("invalid_name_specials")
        if any(c.name == name for c in self.channels.values()):
            return _error("name_taken")
        channel = self.add_channel(name, private=bool(args.get("is_private")))
        self._join(channel, BOT)
        return _ok(channel=channel.listed())

    def _m_conversations_list(self, args: dict[str, Any]) -> Reply:
        limit = min(int(args.get("limit", 100)), 1000)
        start = (
            int(base64.b64decode(args["cursor"]).decode()) if args.get("cursor") else 0
        )
        shown = [
            c for c in self.channels.values()
            if not (args.get("exclude_archived") == "true" and c.archived)
            and (not c.private or BOT in c.members)
        ]  # fmt: skip
        page = shown[start : start + limit]
        after = start + limit
        cursor = (
            base64.b64encode(str(after).encode()).decode() if after < len(shown) else ""
        )
        return _ok(channels=[c.listed() for c in page],
                   response_metadata={"next_cursor": cursor})  # fmt: skip

    def _m_conversations_join(self, args: dict[str, Any]) -> Reply:
        channel = self.channels.get(str(args.get("channel", "")))
        if channel is None or channel.private:
            return _error("channel_not_found")
        channel.members.add(BOT)
        return _ok(channel=channel.listed())

    def _m_conversations_setTopic(self, args: dict[str, Any]) -> Reply:
        channel = self._channel(args)
        if isinstance(channel, Reply):
            return channel
        topic = str(args.get("topic", ""))
        if len(topic) > 250:
            return _error("too_long")
        channel.topic = topic
        self._append(channel, {"type": "message", "subtype": "channel_topic",
                               "user": BOT, "topic": topic})  # fmt: skip
        return _ok(channel=channel.listed())

    def _m_conversations_invite(self, args: dict[str, Any]) -> Reply:
        channel = self._channel(args)
        if isinstance(channel, Reply):
            return channel
        for user in str(args.get("users", "")).split(","):
            if user not in self.users:
                return _error("user_not_found")
            if user == BOT:
                return _error("cant_invite_self")
            if user in channel.members:
                return _error("already_in_channel")
            self._join(channel, user)
        return _ok(channel=channel.listed())

    def _m_chat_postMessage(self, args: dict[str, Any]) -> Reply:
        channel = self._channel(args)
        if isinstance(channel, Reply):
            return channel
        text, blocks = args.get("text"), args.get("blocks")
        if not text and not blocks and not args.get("attachments"):
            return _error("no_text")
        if blocks is not None and not _valid_blocks(blocks):
            return _error("invalid_blocks")
        message = {"type": "message", "user": BOT, "bot_id": "B0000000",
                   "text": str(text or "")[:MAX_TEXT]}  # fmt: skip
        if blocks:
            message["blocks"] = blocks
        ts = self._append(channel, message)
        return _ok(channel=channel.id, ts=ts, message=message)

    def _m_conversations_history(self, args: dict[str, Any]) -> Reply:
        channel = self.channels.get(str(args.get("channel", "")))
        if channel is None:
            return _error("channel_not_found")
        if BOT not in channel.members:
            return _error("not_in_channel")
        latest = str(args.get("latest") or "9999999999.999999")
        if args.get("cursor"):
            decoded = _decode_cursor(str(args["cursor"]))
            if decoded is None:
                return _error("invalid_cursor")
            latest = decoded
        oldest = _ts_key(str(args.get("oldest") or "0"))
        limit = min(int(args.get("limit") or 100), self.history_cap)
        before = _ts_key(latest)
        newest_first = [
            m for m in reversed(channel.messages) if oldest < _ts_key(m["ts"]) < before
        ]
        page, more = newest_first[:limit], len(newest_first) > limit
        cursor = _encode_cursor(page[-1]["ts"]) if more else ""
        return _ok(messages=page, has_more=more, pin_count=0,
                   response_metadata={"next_cursor": cursor})  # fmt: skip

    # --- incoming webhooks -----------------------------------------------------------

    def webhook(self, request: Request) -> Reply:
        with self._lock:
            return self._webhook(request)

    def _webhook(self, request: Request) -> Reply:
        if request.path in self.dead_webhooks:
            return Reply(403, "invalid_token")
        channel = self.channels.get(self.webhooks.get(request.path, ""))
        if channel is None:
            return Reply(404, "no_service")
        try:
            payload = json.loads(request.body)
        except ValueError:
            return Reply(400, "invalid_payload")
        if not isinstance(payload, dict):
            return Reply(400, "invalid_payload")
        if channel.archived:
            return Reply(410, "channel_is_archived")
        if "text" in payload and not str(payload["text"]).strip():
            return Reply(400, "no_text")
        if not any(payload.get(k) for k in ("text", "blocks", "attachments")):
            return Reply(400, "missing_text_or_fallback_or_attachments")
        if "blocks" in payload and not _valid_blocks(payload["blocks"]):
            return Reply(400, "invalid_blocks")
        text = str(payload.get("text", ""))[:MAX_TEXT]
        self._append(channel, {"type": "message", "subtype": "bot_message",
                               "bot_id": "B0000000", "text": text})  # fmt: skip
        return Reply(200, "ok")

    def _join(self, channel: Channel, user: str) -> None:
        channel.members.add(user)
        join = {"type": "message", "subtype": "channel_join", "user": user}
        self._append(channel, {**join, "text": f"<@{user}> has joined the channel"})

    def _append(self, channel: Channel, message: dict[str, Any]) -> str:
        now_us = max(int(time.time() * 1_000_000), self._last_us + 1)
        self._last_us = now_us
        ts = f"{now_us // 1_000_000}.{now_us % 1_000_000:06d}"
        channel.messages.append({**message, "ts": ts})
        return ts


def _valid_blocks(blocks: Any) -> bool:
    """Slack's limits: a list of at most 50 blocks; a section's text <= 3000."""
    if not isinstance(blocks, list) or not 0 < len(blocks) <= 50:
        return False
    for block in blocks:
        if not isinstance(block, dict) or not block.get("type"):
            return False
        if block["type"] == "section":
            text = block.get("text")
            if (
                not isinstance(text, dict)
                or not 0 < len(str(text.get("text", ""))) <= 3000
            ):
                return False
    return True


class TeamsWorkflow:
    """One Workflows "post to a channel when a webhook request is received"."""

    def __init__(self, *, max_bytes: int = MAX_TEAMS_BYTES) -> None:
        self.max_bytes = max_bytes
        self.deleted = False
        self.cards: list[dict[str, Any]] = []  # the Adaptive Cards posted

    @property
    def path(self) -> str:
        return f"/workflows/{TEAMS_WORKFLOW}/triggers/manual/paths/invoke"

    @property
    def query(self) -> str:
        run = "sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0"
        return f"api-version=2016-06-01&{run}&sig={TEAMS_SIG}"

    def answer(self, request: Request) -> Reply:
        if request.path != self.path or self.deleted:
            return _teams_error(
                404, "WorkflowNotFound", "The workflow could not be found."
            )
        if request.params.get("sig") != TEAMS_SIG:
            return _teams_error(401, "DirectApiInvalidAuthorizationSignature",
                                "The provided signature is not valid.")  # fmt: skip
        if len(request.body) > self.max_bytes:
            return _teams_error(413, "RequestEntityTooLarge",
                                "The message is larger than the limit.")  # fmt: skip
        try:
            payload = json.loads(request.body)
        except ValueError:
            return _teams_error(400, "InvalidRequestContent",
                                "The request content is not valid JSON.")  # fmt: skip
        problem = _card_problem(payload)
        if problem:
            return _teams_error(400, "TriggerInputSchemaMismatch", problem)
        self.cards.append(payload["attachments"][0]["content"])
        return Reply(202, "")


def _teams_error(status: int, code: str, message: str) -> Reply:
    return Reply(status, {"error": {"code": code, "message": message}})


def _card_problem(payload: Any) -> str:
    """What makes `payload` not a message with an Adaptive Card, or ''."""
    if not isinstance(payload, dict) or payload.get("type") != "message":
        return "The input must be an object of type 'message'."
    attachments = payload.get("attachments")
    if not isinstance(attachments, list) or not attachments:
        return "The message has no attachments."
    first = attachments[0]
    if not isinstance(first, dict) or first.get("contentType") != (
        "application/vnd.microsoft.card.adaptive"
    ):
        return "The attachment is not an Adaptive Card."
    content = first.get("content")
    if not isinstance(content, dict) or content.get("type") != "AdaptiveCard":
        return "The card's type must be 'AdaptiveCard'."
    if not isinstance(content.get("version"), str) or not isinstance(
        content.get("body"), list
    ):
        return "The card needs a version and a body."
    for element in content["body"]:
        if not isinstance(element, dict) or element.get("type") != "TextBlock":
            return "Only TextBlock elements are expected here."
        if not isinstance(element.get("text"), str):
            return "A TextBlock needs text."
    return ""


class ChatContract:
    """The server: Slack's Web API under /api/, its incoming webhooks under
    /services/, a Teams Workflows webhook under /workflows/."""

    def __init__(self, token: str) -> None:
        self.slack = SlackWorkspace(token)
        self.teams = TeamsWorkflow()
        self.url = ""
        self.seen: list[Request] = []
        self._script: dict[str, dict[int, Reply]] = defaultdict(dict)
        self._counts: dict[str, int] = defaultdict(int)
        self._stopping = threading.Event()
        self._lock = threading.Lock()

    @property
    def api_url(self) -> str:
        return f"{self.url}/api"

    @property
    def teams_url(self) -> str:
        return f"{self.url}{self.teams.path}?{self.teams.query}"

    def webhook_url(self, channel: Channel, path: str = WEBHOOK_PATH) -> str:
        return self.url + self.slack.add_webhook(channel, path)

    def script(self, endpoint: str, *replies: Reply, skip: int = 0) -> None:
        """Answer the next requests to `endpoint` ('chat.postMessage',
        'webhook', 'teams') with `replies`, in order, instead of the model;
        the first `skip` of them are still answered by the model."""
        with self._lock:
            first = self._counts[endpoint] + skip + 1
            for number, reply in enumerate(replies, start=first):
                self._script[endpoint][number] = reply

    def calls(self, endpoint: str) -> list[Request]:
        return [r for r in self.seen if r.endpoint == endpoint]

    def answer(self, request: Request) -> Reply:
        with self._lock:
            self.seen.append(request)
            self._counts[request.endpoint] += 1
            number = self._counts[request.endpoint]
            scripted = self._script[request.endpoint].pop(number, None)
        if scripted is not None:
            return scripted
        if request.endpoint == "webhook":
            return self.slack.webhook(request)
        if request.endpoint == "teams":
            return self.teams.answer(request)
        return self.slack.answer(request)

    def handler(self) -> type[BaseHTTPRequestHandler]:
        contract = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def _serve(self, method: str) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                request = Request(method, parts.path, params, dict(self.headers), body)
                reply = contract.answer(request)
                if reply.delay and contract._stopping.wait(reply.delay):
                    return
                with contextlib.suppress(OSError):  # the client gave up waiting
                    self._send(reply)

            def _send(self, reply: Reply) -> None:
                if reply.drop:
                    self.close_connection = True
                    return
                body = reply.body
                if isinstance(body, dict | list):
                    data, kind = (
                        json.dumps(body).encode(),
                        "application/json; charset=utf-8",
                    )
                else:
                    data, kind = str(body or "").encode(), "text/plain; charset=utf-8"
                self.send_response(reply.status)
                headers = {"Content-Type": reply.content_type or kind, **reply.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


@contextmanager
def serving(token: str) -> Iterator[ChatContract]:
    """A ChatContract on a free loopback port for the length of the block."""
    contract = ChatContract(token)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), contract.handler())
    httpd.daemon_threads = True
    contract.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(
        target=httpd.serve_forever, args=(0.05,), name="chat-contract"
    )
    thread.start()
    try:
        yield contract
    finally:
        contract._stopping.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join()
