"""The Matrix client against a loopback server replaying field cases C18 (token
rejected, soft logout), C21 (rate limited), C22 (transaction ids) and C23 (a
gappy /sync), and the error answers a homeserver or a proxy in front of it gives.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from mimdesk.connectors.chat import (
    MAX_WAIT_S,
    ChatPlatform,
    DeliveryUnknown,
    OutMessage,
    RateLimited,
)
from mimdesk.connectors.errors import (
    AuthFailed,
    Permanent,
    Transient,
    Unreachable,
)
from mimdesk.connectors.matrix import (
    OUTBOX_KEY,
    MatrixClient,
    TokenRejected,
    alias_localpart,
)

Case = Callable[[str], dict[str, Any]]
API = "/_matrix/client/v3"


@dataclass(frozen=True)
class Request:
    """One request the homeserver double received."""

    method: str
    raw_path: str  # as sent, percent-encoded
    path: str  # decoded
    params: dict[str, str]
    body: Any
    headers: dict[str, str]


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: Any = None  # dict -> JSON; str -> text/html
    headers: dict[str, str] = field(default_factory=dict)


Script = Callable[[Request], Reply]


class Homeserver:
    """Answers every request with `script(request)`; records what it saw."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.seen: list[Request] = []
        self.url = ""

    def paths(self, method: str | None = None) -> list[str]:
        return [r.path for r in self.seen if method in (None, r.method)]

    def handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._answer("GET")

            def do_POST(self) -> None:
                self._answer("POST")

            def do_PUT(self) -> None:
                self._answer("PUT")

            def _answer(self, method: str) -> None:
                parts = urlsplit(self.path)
                size = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(size) if size else b""
                request = Request(
                    method,
                    parts.path,
                    unquote(parts.path),
                    {k: v[-1] for k, v in parse_qs(parts.query).items()},
                    json.loads(raw) if raw else None,
                    dict(self.headers),
                )
                server.seen.append(request)
                reply = server.script(request)
                self._send(reply)

            def _send(self, reply: Reply) -> None:
                if isinstance(reply.body, str):
                    data, kind = reply.body.encode(), "text/html"
                else:
                    data, kind = json.dumps(reply.body).encode(), "application/json"
                try:
                    self.send_response(reply.status)
                    for name, value in {"Content-Type": kind, **reply.headers}.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting, as the test wanted

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


@pytest.fixture
def serve() -> Iterator[Callable[[Script], Homeserver]]:
    """Start a Homeserver double on a free loopback port (stopped afterwards)."""
    running: list[tuple[ThreadingHTTPServer, threading.Thread]] = []

    def start(script: Script) -> Homeserver:
        fake = Homeserver(script)
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), fake.handler())
        fake.url = f"http://127.0.0.1:{httpd.server_address[1]}"
        thread = threading.Thread(
            target=httpd.serve_forever, args=(0.05,), name="fake-matrix"
        )
        thread.start()
        running.append((httpd, thread))
        return fake

    yield start
    for httpd, thread in running:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


class Sleeps:
    """Records waits instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def client(url: str, **kw: Any) -> MatrixClient:
    kw.setdefault("access_token", "token-1")
    kw.setdefault("user_id", "@mimdesk:example.internal")
    kw.setdefault("sleep", Sleeps())
    return MatrixClient(url, timeout=(2.0, 5.0), **kw)


def path_of(url: str) -> str:
    return urlsplit(url).path


def query_of(request_line: str) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(request_line).query).items()}


def test_the_client_is_a_chat_platform() -> None:
    matrix = MatrixClient("https://matrix.example.internal")
    assert isinstance(matrix, ChatPlatform)
    assert (matrix.name, matrix.can_read, matrix.can_create) == ("matrix", True, True)
    assert matrix.limits.max_text == 32000
    assert matrix.limits.max_payload == 60000
    matrix.close()


# --- C18: the token is rejected --------------------------------------------------


def c18_matrix(load_case: Case) -> dict[str, Any]:
    found = [r for r in load_case("C18")["responses"] if r["service"] == "matrix"]
    assert len(found) == 1
    entry: dict[str, Any] = found[0]
    return entry


def test_c18_a_rejected_token_stops_at_the_first_answer(
    serve: Callable[[Script], Homeserver], load_case: Case
) -> None:
    case = load_case("C18")
    entry = c18_matrix(load_case)
    server = serve(lambda r: Reply(entry["http_status"], entry["body"]))
    matrix = client(server.url)
    since = query_of(entry["request"].split(" ", 1)[1])["since"]

    with pytest.raises(TokenRejected) as caught:
        matrix.read(["!placeholderroom:example.internal"], since)
    matrix.close()

    assert isinstance(caught.value, AuthFailed)
    assert caught.value.soft_logout is True
    assert "needs re-authentication" in caught.value.message
    assert caught.value.status == 401
    assert len(server.seen) - 1 == case["expected"]["attempts_after_first_auth_error"]
    assert server.seen[0].params["since"] == since


LOGGED_IN = {
    "access_token": "token-2",
    "device_id": "DEVICE1",
    "user_id": "@mimdesk:example.internal",
}


def test_c18_soft_logout_with_a_password_logs_in_again_as_the_same_device(
    serve: Callable[[Script], Homeserver], load_case: Case
) -> None:
    case = load_case("C18")
    entry = c18_matrix(load_case)
    since = query_of(entry["request"].split(" ", 1)[1])["since"]

    def script(request: Request) -> Reply:
        if request.path == API + "/login":
            return Reply(body=LOGGED_IN)
        if request.headers.get("Authorization") == "Bearer token-1":
            return Reply(entry["http_status"], entry["body"])
        return Reply(body={"next_batch": "s101_placeholder", "rooms": {}})

    server = serve(script)
    matrix = client(server.url, password="pw", device_id="DEVICE1")
    batch = matrix.read(["!placeholderroom:example.internal"], since)
    matrix.close()

    login = [r for r in server.seen if r.path == API + "/login"]
    assert len(login) == 1
    assert case["expected"]["matrix_relogin_keeps_device_id"] is True
    assert login[0].body["device_id"] == "DEVICE1"
    assert login[0].body["identifier"] == {
        "type": "m.id.user",
        "user": "@mimdesk:example.internal",
    }
    assert matrix.device_id == "DEVICE1"
    assert matrix.access_token == "token-2"
    # Local state is kept: the repeated sync goes on from the same position.
    assert case["expected"]["local_history_wiped"] is False
    syncs = [r for r in server.seen if r.path == API + "/sync"]
    assert [r.params["since"] for r in syncs] == [since, since]
    assert batch.position == "s101_placeholder"


def test_c18_a_token_rejected_again_after_the_relogin_is_not_retried(
    serve: Callable[[Script], Homeserver], load_case: Case
) -> None:
    entry = c18_matrix(load_case)

    def script(request: Request) -> Reply:
        if request.path == API + "/login":
            return Reply(body={"access_token": "token-2", "device_id": "DEVICE1"})
        return Reply(entry["http_status"], entry["body"])

    server = serve(script)
    matrix = client(server.url, password="pw", device_id="DEVICE1")
    with pytest.raises(TokenRejected):
        matrix.read(["!r"], "s100_placeholder")
    matrix.close()

    assert server.paths() == [API + "/sync", API + "/login", API + "/sync"]


def test_c18_a_hard_logout_is_not_answered_with_a_login(
    serve: Callable[[Script], Homeserver],
) -> None:
    body = {"errcode": "M_UNKNOWN_TOKEN", "error": "gone", "soft_logout": False}
    server = serve(lambda r: Reply(401, body))
    matrix = client(server.url, password="pw", device_id="DEVICE1")
    with pytest.raises(TokenRejected) as caught:
        matrix.whoami()
    matrix.close()

    assert caught.value.soft_logout is False
    assert server.paths() == [API + "/account/whoami"]


def test_a_wrong_password_is_an_auth_failure(
    serve: Callable[[Script], Homeserver],
) -> None:
    body = {"errcode": "M_FORBIDDEN", "error": "Invalid username or password"}
    server = serve(lambda r: Reply(403, body))
    matrix = client(server.url, access_token=None, password="wrong")
    with pytest.raises(AuthFailed, match="needs re-authentication"):
        matrix.login()
    matrix.close()


# --- C21: rate limited -----------------------------------------------------------


def c21_room_and_txn(case: dict[str, Any]) -> tuple[str, str]:
    parts = path_of(case["request"]["url"]).split("/")
    return parts[-4], parts[-1]


def test_c21_the_wait_is_the_longer_hint_and_the_retry_is_the_same_put(
    serve: Callable[[Script], Homeserver], load_case: Case
) -> None:
    case = load_case("C21")
    answer = case["response"]
    room, txn = c21_room_and_txn(case)
    replies = iter(
        [
            Reply(answer["http_status"], answer["body"], answer["headers"]),
            Reply(body={"event_id": "$sent"}),
        ]
    )
    server = serve(lambda r: next(replies))
    sleeps = Sleeps()
    matrix = client(server.url, sleep=sleeps)
    message = OutMessage(case["request"]["json"]["body"], txn_id=txn)

    with pytest.raises(RateLimited) as caught:
        matrix.post(room, message)
    posted = matrix.post(room, message)
    matrix.close()

    assert caught.value.retry_after == case["expected"]["wait_s"]
    assert caught.value.transient
    first, second = server.seen
    assert first.method == second.method == case["request"]["method"]
    assert case["expected"]["retry_url_same"] is True
    assert first.raw_path == second.raw_path
    assert first.path == path_of(case["request"]["url"])
    assert first.path.rsplit("/", 1)[1] == case["expected"]["txn_id_reused"]
    assert second.body == first.body == {**case["request"]["json"], OUTBOX_KEY: txn}
    assert posted.remote_id == "$sent"
    assert case["expected"]["messages_lost"] == 0
    assert sleeps.waits == []  # waiting is the outbox sender's


def test_c21_a_long_hint_is_capped(
    serve: Callable[[Script], Homeserver], load_case: Case
) -> None:
    case = load_case("C21")
    body = {**case["response"]["body"], "retry_after_ms": 3_600_000}
    server = serve(lambda r: Reply(429, body, {"Retry-After": "7200"}))
    matrix = client(server.url)
    with pytest.raises(RateLimited) as caught:
        matrix.post("!r", OutMessage("x", txn_id="t1"))
    matrix.close()

    assert caught.value.retry_after == case["expected"]["wait_cap_s"] == MAX_WAIT_S


def test_c21_a_hint_in_the_body_alone_is_obeyed(
    serve: Callable[[Script], Homeserver],
) -> None:
    body = {"errcode": "M_LIMIT_EXCEEDED", "error": "Too Many Requests"}
    server = serve(lambda r: Reply(429, {**body, "retry_after_ms": 1436}))
    matrix = client(server.url)
    with pytest.raises(RateLimited) as caught:
        matrix.post("!r", OutMessage("x", txn_id="t1"))
    matrix.close()

    assert caught.value.retry_after == pytest.approx(1.436)


# --- C22: transaction ids ------------------------------------------------------


class IdempotentRoom:
    """One room that stores each transaction id once, and can hold back its
    answer until told (a client that timed out)."""

    def __init__(self) -> None:
        self.events: dict[str, dict[str, Any]] = {}  # txn id -> event
        self.hold = threading.Event()
        self.held = 0

    def __call__(self, request: Request) -> Reply:
        if request.method == "PUT":
            txn = request.path.rsplit("/", 1)[1]
            number = len(self.events) + 1
            stored = {
                "event_id": f"$evt{number}_placeholder",
                "type": "m.room.message",
                "sender": "@mimdesk:example.internal",
                "content": request.body,
            }
            event = self.events.setdefault(txn, stored)
            if self.held == 0:
                self.held += 1
                self.hold.wait(10)
            return Reply(body={"event_id": event["event_id"]})
        if request.path.endswith("/messages"):
            return Reply(body={"chunk": list(self.events.values())[::-1]})
        return Reply(404, {"errcode": "M_UNRECOGNIZED", "error": "not here"})


def test_c22_a_timed_out_send_is_retried_with_the_same_txn_and_lands_once(
    serve: Callable[[Script], Homeserver], load_case: Case
) -> None:
    case = load_case("C22")
    row = case["outbox_row"]
    room = IdempotentRoom()
    server = serve(room)
    room_id = unquote(case["attempts"][0]["path"]).split("/")[-4]
    matrix = MatrixClient(server.url, access_token="t", timeout=(2.0, 0.3))
    message = OutMessage(row["body"], txn_id=row["txn_id"])

    with pytest.raises(Transient) as caught:
        matrix.post(room_id, message)
    room.hold.set()
    posted = matrix.post(room_id, message)
    matrix.close()

    assert not isinstance(caught.value, DeliveryUnknown)
    assert [r.path for r in server.seen] == [a["path"] for a in case["attempts"]]
    assert len(room.events) == case["expected"]["events_in_room"]
    assert posted.remote_id == case["expected"]["stored_event_id"]
    used = sorted({r.path.rsplit("/", 1)[1] for r in server.seen})
    assert used == case["expected"]["txn_ids_used"]


def test_c22_after_a_relogin_the_marker_finds_the_message(
    serve: Callable[[Script], Homeserver], load_case: Case
) -> None:
    case = load_case("C22")
    row = case["outbox_row"]
    room = IdempotentRoom()
    room.held = 1  # answer at once
    server = serve(room)
    matrix = client(server.url)
    room_id = "!placeholderroom:example.internal"
    matrix.post(room_id, OutMessage(row["body"], txn_id=row["txn_id"]))

    found = matrix.find_sent(room_id, row["txn_id"])
    missing = matrix.find_sent(room_id, "cc-outbox-9")
    matrix.close()

    assert found == case["expected"]["stored_event_id"]
    assert missing is None
    lookup = server.seen[-1]
    assert lookup.params["dir"] == "b"
    assert json.loads(lookup.params["filter"])["senders"] == [
        "@mimdesk:example.internal"
    ]


def test_a_message_without_a_transaction_id_is_refused_for_good() -> None:
    matrix = MatrixClient("http://127.0.0.1:9")
    # Permanent: the sender stops the row and says why, instead of retrying.
    with pytest.raises(Permanent, match="transaction id"):
        matrix.post("!r", OutMessage("text"))
    matrix.close()


# --- C23: a gappy /sync ------------------------------------------------------


def c23_script(case: dict[str, Any], older: list[dict[str, Any]]) -> Script:
    """The case's /sync and first /messages page, then `older` from its `end`."""
    first = case["messages_response"]["body"]

    def script(request: Request) -> Reply:
        if request.path == API + "/sync":
            return Reply(body=case["sync_response"]["body"])
        if request.params.get("from") == first["start"]:
            return Reply(body=first)
        return Reply(body={"start": first["end"], "chunk": older})

    return script


def event(number: int) -> dict[str, Any]:
    return {
        "event_id": f"$E{number}",
        "type": "m.room.message",
        "sender": "@responder-1:example.internal",
        "origin_server_ts": 1714550000000 + number * 1000,
        "content": {"msgtype": "m.text", "body": f"update {number}"},
    }


@pytest.mark.parametrize(
    ("older", "known"),
    [
        pytest.param([event(5), event(4)], True, id="stops-at-the-stored-event"),
        pytest.param([], False, id="stops-when-exhausted"),
    ],
)
def test_c23_a_limited_timeline_is_backfilled_in_order(
    serve: Callable[[Script], Homeserver],
    load_case: Case,
    older: list[dict[str, Any]],
    known: bool,
) -> None:
    case = load_case("C23")
    state = case["state"]
    room_id = next(iter(case["sync_response"]["body"]["rooms"]["join"]))
    server = serve(c23_script(case, older))
    matrix = client(server.url)
    stored = [state["last_event_id"]]

    batch = matrix.read(
        [room_id],
        state["since"],
        known_last={room_id: state["last_event_id"]} if known else None,
    )
    matrix.close()
    stored += [m.remote_id for m in batch.messages]

    assert stored == case["expected"]["stored_event_ids_in_order"]
    assert batch.position == case["expected"]["persisted_since"]
    # The client hands the position back; saving it is the caller's, after storing.
    assert case["expected"]["persist_since_before_commit"] is False
    wanted = query_of(case["messages_response"]["request"].split(" ", 1)[1])
    backfill = [r for r in server.seen if r.path.endswith("/messages")]
    assert backfill[0].path == path_of(case["messages_response"]["request"].split()[1])
    assert {k: backfill[0].params[k] for k in wanted} == wanted
    assert backfill[1].params["from"] == case["messages_response"]["body"]["end"]
    assert len(backfill) == 2
    message = batch.messages[-1]
    assert message.author == "@responder-0:example.internal"
    assert message.at == datetime(2024, 5, 1, 7, 53, 32, tzinfo=UTC)
    assert message.text == "update 12"
    assert message.channel == room_id


def test_the_first_read_starts_from_now(
    serve: Callable[[Script], Homeserver], load_case: Case
) -> None:
    case = load_case("C23")
    server = serve(lambda r: Reply(body=case["sync_response"]["body"]))
    matrix = client(server.url)
    batch = matrix.read(["!placeholderroom:example.internal"], None)
    matrix.close()

    assert batch.messages == ()
    assert batch.position == "s120_placeholder"
    sync = server.seen[0]
    assert "since" not in sync.params
    assert sync.params["timeout"] == "0"
    room = json.loads(sync.params["filter"])["room"]
    assert room["timeline"]["limit"] == 0
    assert room["rooms"] == ["!placeholderroom:example.internal"]


def test_membership_events_are_read_with_their_state(
    serve: Callable[[Script], Homeserver],
) -> None:
    joined = {
        "event_id": "$J1",
        "type": "m.room.member",
        "state_key": "@bob:example.internal",
        "sender": "@bob:example.internal",
        "origin_server_ts": 1714550000000,
        "content": {"membership": "join", "displayname": "Bob"},
    }
    said = {**event(2), "sender": "@bob:example.internal"}
    rooms = {"join": {"!r": {"timeline": {"events": [joined, said]}}}}
    server = serve(lambda r: Reply(body={"next_batch": "s2", "rooms": rooms}))
    matrix = client(server.url)
    batch = matrix.read(["!r"], "s1")
    matrix.close()

    (member,) = batch.memberships
    assert (member.user, member.state, member.remote_id) == (
        "@bob:example.internal",
        "join",
        "$J1",
    )
    assert member.at == datetime(2024, 5, 1, 7, 53, 20, tzinfo=UTC)
    assert batch.messages[0].author_name == "Bob"


# --- rooms -------------------------------------------------------------------


def test_a_room_made_by_a_lost_attempt_is_found_by_its_alias(
    serve: Callable[[Script], Homeserver],
) -> None:
    def script(request: Request) -> Reply:
        if request.path == API + "/createRoom":
            return Reply(400, {"errcode": "M_ROOM_IN_USE", "error": "taken"})
        if request.path.startswith(API + "/directory/room/"):
            return Reply(body={"room_id": "!abc", "servers": ["example.internal"]})
        return Reply(body={"room_id": "!abc"})

    server = serve(script)
    matrix = client(server.url)
    room = matrix.ensure_channel("INC-20261203-0001", "INC-20261203-0001 db", "SEV1")
    matrix.close()

    assert room == "!abc"
    create = server.seen[0].body
    assert create["room_alias_name"] == "mimdesk-inc-20261203-0001"
    assert create["preset"] == "private_chat"
    assert (create["name"], create["topic"]) == ("INC-20261203-0001 db", "SEV1")
    assert server.seen[1].path == (
        API + "/directory/room/#mimdesk-inc-20261203-0001:example.internal"
    )
    assert server.seen[2].path == API + "/rooms/!abc/join"


def test_alias_local_parts_are_safe() -> None:
    assert alias_localpart("INC-261203-7K3Q") == "mimdesk-inc-261203-7k3q"
    assert alias_localpart("Inc 12/ä:x") == "mimdesk-inc-12-x"
    with pytest.raises(ValueError, match="no room alias"):
        alias_localpart("///")


def test_inviting_someone_already_in_the_room_succeeds(
    serve: Callable[[Script], Homeserver],
) -> None:
    def script(request: Request) -> Reply:
        if request.path.endswith("/invite"):
            return Reply(403, {"errcode": "M_FORBIDDEN", "error": "is in the room."})
        if "/state/m.room.member/" in request.path:
            return Reply(body={"membership": "join"})
        return Reply(body={"displayname": "bob"})

    server = serve(script)
    matrix = client(server.url)
    matrix.invite("!r", "@bob:example.internal")
    matrix.close()

    assert server.seen[1].body == {"user_id": "@bob:example.internal"}


@pytest.mark.parametrize(
    ("user", "words"),
    [
        ("@nobody:example.internal", "no Matrix user @nobody"),
        ("bob", "not a Matrix user id"),
    ],
)
def test_inviting_an_unknown_user_is_permanent(
    serve: Callable[[Script], Homeserver], user: str, words: str
) -> None:
    server = serve(lambda r: Reply(404, {"errcode": "M_NOT_FOUND", "error": "none"}))
    matrix = client(server.url)
    with pytest.raises(Permanent, match=words) as caught:
        matrix.invite("!r", user)
    matrix.close()

    assert not caught.value.transient
    assert not server.paths("POST")


# --- errors ------------------------------------------------------------------


def test_a_proxy_error_page_is_an_upstream_error(
    serve: Callable[[Script], Homeserver],
) -> None:
    server = serve(lambda r: Reply(502, "<html><h1>502 Bad Gateway</h1></html>"))
    matrix = client(server.url)
    with pytest.raises(Transient, match="upstream error 502"):
        matrix.post("!r", OutMessage("x", txn_id="t1"))
    matrix.close()


def test_forbidden_is_permanent_with_the_reason(
    serve: Callable[[Script], Homeserver],
) -> None:
    body = {"errcode": "M_FORBIDDEN", "error": "You are not in this room"}
    server = serve(lambda r: Reply(403, body))
    matrix = client(server.url)
    with pytest.raises(Permanent, match="not in this room") as caught:
        matrix.post("!r", OutMessage("x", txn_id="t1"))
    matrix.close()

    assert not isinstance(caught.value, AuthFailed)


def test_a_closed_port_is_unreachable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    matrix = MatrixClient(f"http://127.0.0.1:{port}", access_token="t")
    with pytest.raises(Unreachable, match="cannot reach Matrix"):
        matrix.whoami()
    matrix.close()


# --- what is sent --------------------------------------------------------------


def test_rich_text_is_sent_as_html_beside_the_plain_text(
    serve: Callable[[Script], Homeserver],
) -> None:
    server = serve(lambda r: Reply(body={"event_id": "$1"}))
    matrix = client(server.url)
    rich = "<b>SEV1</b> declared"
    matrix.post("!r", OutMessage("SEV1 declared", rich=rich, txn_id="t1"))
    matrix.close()

    assert server.seen[0].body == {
        "msgtype": "m.text",
        "body": "SEV1 declared",
        "format": "org.matrix.custom.html",
        "formatted_body": "<b>SEV1</b> declared",
        OUTBOX_KEY: "t1",
    }
    assert server.seen[0].headers["Authorization"] == "Bearer token-1"


@pytest.mark.parametrize(
    ("text", "rich"),
    [
        pytest.param("word " * 10_000, None, id="long-text"),
        pytest.param(
            "事故 " * 15_000, "<p>" + "事故 " * 15_000 + "</p>", id="wide-text"
        ),
    ],
)
def test_what_is_sent_fits_one_event(
    serve: Callable[[Script], Homeserver], text: str, rich: str | None
) -> None:
    server = serve(lambda r: Reply(body={"event_id": "$1"}))
    matrix = client(server.url)
    matrix.post("!r", OutMessage(text, rich=rich, txn_id="cc-outbox-7"))
    matrix.close()

    sent = server.seen[0].body
    size = len(json.dumps(sent, ensure_ascii=False).encode())
    assert size <= 60000
    assert len(sent["body"]) <= 32000
    assert sent["body"].endswith("[…continued in MIMDesk: cc-outbox-7]")
    assert "formatted_body" not in sent


def test_a_send_after_a_relogin_looks_for_the_message_first(
    serve: Callable[[Script], Homeserver], load_case: Case
) -> None:
    entry = c18_matrix(load_case)
    sent = {
        "event_id": "$already",
        "type": "m.room.message",
        "sender": "@mimdesk:example.internal",
        "content": {"msgtype": "m.text", "body": "x", OUTBOX_KEY: "cc-outbox-5"},
    }

    def script(request: Request) -> Reply:
        if request.path == API + "/login":
            return Reply(body=LOGGED_IN)
        if request.headers.get("Authorization") == "Bearer token-1":
            return Reply(entry["http_status"], entry["body"])
        return Reply(body={"chunk": [sent]})

    server = serve(script)
    matrix = client(server.url, password="pw", device_id="DEVICE1")
    posted = matrix.post("!r", OutMessage("x", txn_id="cc-outbox-5"))
    matrix.close()

    assert posted.remote_id == "$already"
    assert [r.method for r in server.seen] == ["PUT", "POST", "GET"]


def test_an_alias_held_by_a_room_we_cannot_join_is_permanent(
    serve: Callable[[Script], Homeserver],
) -> None:
    def script(request: Request) -> Reply:
        if request.path == API + "/createRoom":
            return Reply(400, {"errcode": "M_ROOM_IN_USE", "error": "taken"})
        if request.path.startswith(API + "/directory/room/"):
            return Reply(body={"room_id": "!other"})
        return Reply(403, {"errcode": "M_FORBIDDEN", "error": "not invited"})

    server = serve(script)
    matrix = client(server.url)
    with pytest.raises(Permanent, match="cannot join") as caught:
        matrix.ensure_channel("INC-1", "t", "t")
    matrix.close()

    assert not caught.value.transient


def test_a_remote_profile_that_cannot_be_fetched_does_not_stop_the_invitation(
    serve: Callable[[Script], Homeserver],
) -> None:
    def script(request: Request) -> Reply:
        if "/profile/" in request.path:
            return Reply(502, {"errcode": "M_UNKNOWN", "error": "Failed to fetch"})
        return Reply(body={})

    server = serve(script)
    matrix = client(server.url)
    matrix.invite("!r", "@alice:elsewhere.example")
    matrix.close()

    assert server.paths("POST") == [API + "/rooms/!r/invite"]
