"""A Matrix client-server API (v3) client: one room per incident, messages
posted with transaction ids, and new messages and membership read by /sync.

Same rules as the other HTTP clients: one session, a timeout and TLS checks on
every request, and failures turned into connector errors at this boundary.
The client retries nothing on its own (the outbox sender and the chat poller
decide); the one exception is a single re-login with the same device after the
server soft-logged the session out, when a password is configured.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import requests

from mimdesk.connectors.chat import (
    OPENED_MARGIN,
    Batch,
    ChatMessage,
    Limits,
    Membership,
    OutMessage,
    Posted,
    RateLimited,
    fit_text,
    wait_for,
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

__all__ = ["MatrixClient", "Refused", "TokenRejected", "alias_localpart"]

# (connect, read) seconds; a long-poll /sync adds its own wait to the read part.
TIMEOUT = (3.05, 30.0)
API = "/_matrix/client/v3"
# The content key that carries the outbox transaction id, so that a message
# can be recognised after a re-login, when the server no longer dedupes it.
OUTBOX_KEY = "org.mimdesk.outbox"
# FIXME(matrix): end-to-end encrypted rooms are not supported. Messages there
# arrive as m.room.encrypted and are skipped, and a homeserver that encrypts new
# private rooms by default (encryption_enabled_by_default_for_room_type) gives
# incident rooms we cannot read. Reading them needs an Olm/Megolm client
# (e.g. vodozemac) with a device store; until then, say so in the setup docs.
READ_TYPES = ("m.room.message", "m.room.member")
# Events per room in one incremental /sync, and per /messages page.
TIMELINE_LIMIT = 50
PAGE = 100
# A backfill never pages further back than this; what is older is reported.
MAX_BACKFILL_PAGES = 20
TOKEN_ERRORS = ("M_UNKNOWN_TOKEN", "M_MISSING_TOKEN")
REAUTH_HINT = (
    "needs re-authentication: store a new token with `mimdesk secret set "
    "matrix.token` (or set a password under matrix.password)"
)


class Refused(Permanent):
    """The homeserver refused the request with a Matrix error code."""

    def __init__(self, message: str, *, errcode: str, status: int) -> None:
        super().__init__(message, status=status)
        self.errcode = errcode


class TokenRejected(AuthFailed):
    """The access token is unknown, expired or missing. With `soft_logout` the
    server keeps the device: logging in again with the same device id resumes
    the session without losing its state."""

    def __init__(self, message: str, *, status: int, soft_logout: bool) -> None:
        super().__init__(message, status=status)
        self.soft_logout = soft_logout


def alias_localpart(incident_id: str) -> str:
    """The room alias local part for an incident: `mimdesk-inc-20261203-0001`."""
    safe = re.sub(r"[^a-z0-9._=-]+", "-", incident_id.lower()).strip("-")
    if not safe:
        raise ValueError(f"incident id {incident_id!r} gives no room alias")
    return f"mimdesk-{safe}"


class MatrixClient:
    """One account on one homeserver. For sequential use by one worker thread."""

    name = "matrix"
    limits = Limits(max_text=32000, max_payload=60000)
    can_read = True
    can_create = True
    can_find_sent = True

    def __init__(
        self,
        base_url: str,
        *,
        access_token: str | None = None,
        user_id: str | None = None,
        password: str | None = None,
        device_id: str | None = None,
        ca_file: str | None = None,
        timeout: tuple[float, float] = TIMEOUT,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.access_token = access_token
        self.user_id = user_id
        self.device_id = device_id
        self.timeout = timeout
        # Kept for the interface of the other clients; nothing here waits.
        self._sleep = sleep
        self._password = password
        self._session = json_session(None)
        # Passed with every request (see json_session).
        self._verify: str | bool = ca_file or True

    def close(self) -> None:
        self._session.close()

    # --- the account --------------------------------------------------------------

    def login(self) -> str:
        """Log in with the password; the same device id again if one is known,
        so the server keeps the device and its transaction ids. Returns the
        access token (also kept as `.access_token`)."""
        if not self.user_id or not self._password:
            raise AuthFailed(
                f"Matrix at {self.base_url}: logging in needs a user and a password; "
                + REAUTH_HINT
            )
        body: dict[str, Any] = {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": self.user_id},
            "password": self._password,
            "initial_device_display_name": "MIMDesk",
        }
        if self.device_id:
            body["device_id"] = self.device_id
        try:
            answer = self._once("POST", "/login", body=body, auth=False)
        except Refused as exc:
            if exc.status in (401, 403):
                raise AuthFailed(
                    f"Matrix at {self.base_url} refused the password of "
                    f"{self.user_id}; " + REAUTH_HINT,
                    status=exc.status,
                ) from None
            raise
        self.access_token = _text(answer, "access_token")
        self.user_id = str(answer.get("user_id") or self.user_id)
        self._keep_device(answer)
        log.info("Matrix: logged in as %s (device %s)", self.user_id, self.device_id)
        return self.access_token

    def whoami(self) -> str:
        """The user the token belongs to (also kept as `.user_id`)."""
        answer = self._call("GET", "/account/whoami")
        self.user_id = _text(answer, "user_id")
        self._keep_device(answer)
        return self.user_id

    def _keep_device(self, answer: Mapping[str, Any]) -> None:
        device = answer.get("device_id")
        if isinstance(device, str) and device:
            self.device_id = device

    # --- rooms ------------------------------------------------------------------

    def ensure_channel(self, incident_id: str, title: str, topic: str) -> str:
        """A private room for the incident. Its alias is derived from the id, so
        a retry after a lost answer finds the room the first attempt made."""
        local = alias_localpart(incident_id)
        body = {
            "preset": "private_chat",
            "visibility": "private",
            "name": title,
            "topic": topic,
            "room_alias_name": local,
        }
        try:
            return _text(self._call("POST", "/createRoom", body=body), "room_id")
        except Refused as exc:
            if exc.errcode != "M_ROOM_IN_USE":
                raise
        alias = f"#{local}:{self._server_name()}"
        room_id = self._resolve(alias)
        log.info("Matrix: room for %s exists already: %s", incident_id, room_id)
        try:  # a no-op for a member; refused in someone else's private room
            self._call("POST", f"/rooms/{_seg(room_id)}/join", body={})
        except Refused as exc:
            raise Permanent(
                f"the room alias {alias} belongs to a room {self.user_id} cannot "
                f"join ({exc.message}); remove the alias or rename the incident",
                status=exc.status,
            ) from None
        return room_id

    def set_topic(self, channel: str, topic: str) -> None:
        path = f"/rooms/{_seg(channel)}/state/m.room.topic"
        self._call("PUT", path, body={"topic": topic})

    def invite(self, channel: str, user: str) -> None:
        """Invite `user`; someone already joined or invited is a success."""
        if not re.fullmatch(r"@[^:\s]+:\S+", user):
            raise Permanent(f"{user!r} is not a Matrix user id (@name:server)")
        self._check_user(user)
        try:
            self._call("POST", f"/rooms/{_seg(channel)}/invite", body={"user_id": user})
        except Refused as exc:
            if exc.status != 403 or self._membership(channel, user) not in (
                "join",
                "invite",
            ):
                raise

    def _check_user(self, user: str) -> None:
        """Refuse an invitation to an account that does not exist (a homeserver
        accepts those silently). A profile the server will not show, or another
        server that does not answer, says nothing either way: only a 404 counts,
        and the invitation itself decides the rest."""
        try:
            self._call("GET", f"/profile/{_seg(user)}")
        except Refused as exc:
            if exc.status == 404:
                raise Permanent(
                    f"there is no Matrix user {user}; check the handle in the "
                    "directory",
                    status=404,
                ) from None
            log.debug("Matrix: profile of %s not shown: %s", user, exc)
        except Transient as exc:
            if isinstance(exc, RateLimited) or (exc.status or 0) < 500:
                raise
            log.debug("Matrix: profile of %s not fetched: %s", user, exc)

    def _membership(self, channel: str, user: str) -> str:
        path = f"/rooms/{_seg(channel)}/state/m.room.member/{_seg(user)}"
        try:
            return str(self._call("GET", path).get("membership", ""))
        except Refused:
            return ""

    def _resolve(self, alias: str) -> str:
        return _text(self._call("GET", f"/directory/room/{_seg(alias)}"), "room_id")

    def _server_name(self) -> str:
        user = self.user_id or self.whoami()
        return user.split(":", 1)[1]

    # --- messages out -------------------------------------------------------------

    def post(self, channel: str, message: OutMessage) -> Posted:
        """Send `message` with its transaction id: a repeat with the same id
        gives the same event, so a timed-out attempt may be sent again."""
        txn = message.txn_id
        if not txn:
            raise Permanent("a Matrix message needs a transaction id")
        path = f"/rooms/{_seg(channel)}/send/m.room.message/{_seg(txn)}"

        def sent_before_relogin() -> dict[str, Any] | None:
            found = self.find_sent(channel, txn)
            return {"event_id": found} if found else None

        content = self._content(message)
        answer = self._call(
            "PUT", path, body=content, before_repeat=sent_before_relogin
        )
        return Posted(_text(answer, "event_id"))

    def find_sent(self, channel: str, txn_id: str, limit: int = 50) -> str | None:
        """The event id of a message of ours carrying `txn_id` among the last
        `limit` in the room, or None. After a re-login with another device the
        server no longer recognises the transaction id; this does."""
        event_filter: dict[str, Any] = {"types": ["m.room.message"]}
        if self.user_id:
            event_filter["senders"] = [self.user_id]
        params = {"dir": "b", "limit": str(limit), "filter": _dumps(event_filter)}
        answer = self._call("GET", f"/rooms/{_seg(channel)}/messages", params=params)
        for event in _events(answer.get("chunk")):
            content = event.get("content")
            if isinstance(content, dict) and content.get(OUTBOX_KEY) == txn_id:
                return str(event.get("event_id", "")) or None
        return None

    def _content(self, message: OutMessage) -> dict[str, Any]:
        """The event content, cut to what the server accepts: the HTML form is
        dropped first, then the text shortened until the JSON fits."""
        text = fit_text(message.text, self.limits.max_text, ref=message.txn_id)
        content: dict[str, Any] = {"msgtype": "m.text", "body": text}
        if message.rich:
            content["format"] = "org.matrix.custom.html"
            content["formatted_body"] = message.rich
        content[OUTBOX_KEY] = message.txn_id
        budget = self.limits.max_payload or 0
        if not budget or _size(content) <= budget:
            return content
        content.pop("format", None)
        content.pop("formatted_body", None)
        limit = len(text)
        while _size(content) > budget and limit > 0:
            limit = min(limit - 1, int(limit * budget / _size(content)))
            content["body"] = fit_text(message.text, max(limit, 1), ref=message.txn_id)
        log.info("Matrix: message %s shortened to fit one event", message.txn_id)
        return content

    # --- reading ----------------------------------------------------------------

    def read(
        self,
        channels: Sequence[str],
        position: str | None,
        *,
        since: datetime | None = None,
        known_last: Mapping[str, str] | None = None,
        poll_timeout: float = 0.0,
    ) -> Batch:
        """Messages and membership changes in `channels` since `position`, in
        the server's order. Without a position: what was said from `since`
        (when the first room was opened), or without it, nothing older than
        now. Where the server skipped events (a limited timeline) they are
        fetched back, as far as `known_last` (the last event id stored per
        room)."""
        wanted = list(channels)
        first = position is None
        params = {
            "filter": _dumps(_sync_filter(wanted, first and since is None)),
            "timeout": str(int(poll_timeout * 1000)),
        }
        if position is not None:
            params["since"] = position
        read_s = self.timeout[1] + poll_timeout
        answer = self._call("GET", "/sync", params=params, read_s=read_s)
        next_batch = _text(answer, "next_batch")
        if first and since is None:
            return Batch(position=next_batch)
        batch = self._batch(answer, wanted, position, known_last or {}, next_batch)
        if first and since is not None:
            start = since - OPENED_MARGIN
            batch = replace(
                batch,
                messages=tuple(m for m in batch.messages if m.at >= start),
                memberships=tuple(m for m in batch.memberships if m.at >= start),
            )
        return batch

    def _batch(
        self,
        answer: Mapping[str, Any],
        wanted: Sequence[str],
        since: str | None,
        known_last: Mapping[str, str],
        next_batch: str,
    ) -> Batch:
        rooms = _rooms(answer)
        messages: list[ChatMessage] = []
        members: list[Membership] = []
        notes: list[str] = []
        for room_id in wanted:
            room = rooms.get(room_id)
            if room is None:
                continue
            events = self._room_events(room_id, room, since, known_last, notes)
            names = _names(room, events)
            for event in events:
                _sort(room_id, event, names, messages, members)
        return Batch(tuple(messages), tuple(members), next_batch, notes=tuple(notes))

    def _room_events(
        self,
        room_id: str,
        room: Mapping[str, Any],
        since: str | None,
        known_last: Mapping[str, str],
        notes: list[str],
    ) -> list[dict[str, Any]]:
        """The room's new timeline, oldest first, gap filled, no duplicates."""
        # FIXME(matrix): a gap the server does not flag as `limited` (as Synapse
        # did before matrix-org/synapse#16485) goes unnoticed. Comparing the
        # first new event's prev_events with `known_last` would catch it.
        timeline = _object(room.get("timeline"))
        events = list(_events(timeline.get("events")))
        gap = timeline.get("limited") and timeline.get("prev_batch")
        if gap:
            older = self._backfill(
                room_id, str(gap), since, known_last.get(room_id), notes
            )
            events = older + events
        return _unique(events)

    def _backfill(
        self,
        room_id: str,
        start: str,
        since: str | None,
        stop_at: str | None,
        notes: list[str],
    ) -> list[dict[str, Any]]:
        """Events the server skipped, paging back from `start` to `since` or
        to the event `stop_at`; oldest first."""
        params = {
            "dir": "b",
            "from": start,
            "limit": str(PAGE),
            "filter": _dumps({"types": list(READ_TYPES)}),
        }
        if since:
            params["to"] = since
        path = f"/rooms/{_seg(room_id)}/messages"
        newest_first: list[dict[str, Any]] = []
        for _page in range(MAX_BACKFILL_PAGES):
            answer = self._call("GET", path, params=params)
            chunk = list(_events(answer.get("chunk")))
            for event in chunk:
                if stop_at and event.get("event_id") == stop_at:
                    return newest_first[::-1]
                newest_first.append(event)
            end = answer.get("end")
            if not chunk or not isinstance(end, str) or end == params["from"]:
                return newest_first[::-1]
            params["from"] = end
        notes.append(
            f"{room_id}: more than {len(newest_first)} events were missed; "
            "older ones are not shown"
        )
        log.warning(
            "Matrix: backfill of %s stopped after %s events", room_id, len(newest_first)
        )
        return newest_first[::-1]

    # --- requests ---------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
        read_s: float | None = None,
        before_repeat: Callable[[], dict[str, Any] | None] | None = None,
    ) -> dict[str, Any]:
        """One authenticated request; after a soft logout, with a password at
        hand, one re-login with the same device and one repeat (unless
        `before_repeat` finds the work already done)."""
        try:
            return self._once(method, path, params=params, body=body, read_s=read_s)
        except TokenRejected as exc:
            if not (exc.soft_logout and self._password and self.user_id):
                raise
            log.warning(
                "Matrix: session of %s soft-logged-out; logging in again as device %s",
                self.user_id,
                self.device_id,
            )
        self.login()
        done = before_repeat() if before_repeat else None
        if done is not None:
            return done
        return self._once(method, path, params=params, body=body, read_s=read_s)

    def _once(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
        auth: bool = True,
        read_s: float | None = None,
    ) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        if auth and self.access_token:
            headers["Authorization"] = f"Bearer {self.access_token}"
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
        read = self.timeout[1] if read_s is None else read_s
        try:
            response = self._session.request(
                method,
                self.base_url + API + path,
                params=dict(params or {}),
                data=data,
                headers=headers,
                timeout=(self.timeout[0], read),
                verify=self._verify,
            )
        except requests.exceptions.RequestException as exc:
            raise self._failure(exc, method, read) from None
        return _answer(response, self.base_url)

    def _failure(
        self, exc: requests.exceptions.RequestException, method: str, read: float
    ) -> ConnectorError:
        """What a request that got no answer stands for."""
        if isinstance(exc, requests.exceptions.SSLError):
            return Permanent(
                f"TLS check failed for {self.base_url}: {reason(exc)} (set the CA "
                "file in settings if the homeserver uses a private CA)",
                source_level=True,
            )
        if isinstance(exc, requests.exceptions.ConnectionError):
            return Unreachable(f"cannot reach Matrix at {self.base_url}: {reason(exc)}")
        if isinstance(exc, requests.exceptions.ChunkedEncodingError):
            return Transient(f"Matrix at {self.base_url} broke off its answer")
        if isinstance(exc, requests.exceptions.Timeout):
            # The request may have arrived. Repeating it is safe: a send carries
            # its transaction id, a room its alias, an invite or topic is the same.
            return Transient(
                f"Matrix at {self.base_url} did not answer a {method} within {read:g} s"
            )
        return Permanent(f"bad request to {self.base_url}: {exc}")


# --- answers ------------------------------------------------------------------


def _answer(response: requests.Response, server: str) -> dict[str, Any]:
    """The JSON object of a 200 answer, or the error the answer stands for."""
    body: object = None
    if "json" in response.headers.get("Content-Type", ""):
        try:
            body = response.json()
        except ValueError:
            body = None
    if response.status_code == 200 and isinstance(body, dict):
        return body
    raise _error(response, body, server)


def _error(response: requests.Response, body: object, server: str) -> ConnectorError:
    status = response.status_code
    if not isinstance(body, dict):
        # A proxy's error page, or no homeserver at this URL.
        if status >= 500 or status == 429:
            return Transient(f"upstream error {status} from {server}", status=status)
        kind = response.headers.get("Content-Type") or "no content type"
        return Permanent(
            f"Matrix at {server} answered HTTP {status} with {kind}; check the URL",
            status=status,
        )
    errcode = str(body.get("errcode", ""))
    text = str(body.get("error", ""))[:300]
    said = f"{errcode}: {text}" if errcode else text or f"HTTP {status}"
    if errcode in TOKEN_ERRORS:
        return TokenRejected(
            f"Matrix at {server} rejected the access token ({said}); " + REAUTH_HINT,
            status=status,
            soft_logout=body.get("soft_logout") is True,
        )
    if errcode == "M_LIMIT_EXCEEDED" or status == 429:
        wait = _retry_after(body, response.headers)
        return RateLimited(
            f"Matrix at {server} is rate limiting us; waiting {wait:g} s",
            retry_after=wait,
            status=status,
        )
    if status == 401 or errcode == "M_USER_DEACTIVATED":
        return AuthFailed(f"Matrix at {server}: {said}; " + REAUTH_HINT, status=status)
    if status >= 500:
        return Transient(
            f"upstream error {status} from {server} ({said})", status=status
        )
    if errcode == "M_FORBIDDEN":
        message = f"Matrix at {server} does not allow this: {text or errcode}"
    else:
        message = f"Matrix at {server} refused the request ({said})"
    return Refused(message, errcode=errcode, status=status)


def _retry_after(body: Mapping[str, Any], headers: Mapping[str, str]) -> float:
    """The longer of the body's retry_after_ms and the Retry-After header,
    capped; a hint in neither gives the default wait."""
    hints: list[float | None] = []
    millis = body.get("retry_after_ms")
    if isinstance(millis, int | float) and not isinstance(millis, bool):
        hints.append(millis / 1000)
    header = headers.get("Retry-After", "")
    # Absent, or an HTTP date: the body's hint decides.
    with contextlib.suppress(ValueError):
        hints.append(float(header))
    return wait_for(hints, jitter=0)


# --- events -------------------------------------------------------------------


def _sync_filter(rooms: Sequence[str], first: bool) -> dict[str, Any]:
    """Only the incident rooms, only messages and membership; the first sync
    takes no timeline at all, just the position to start from."""
    nothing: dict[str, Any] = {"types": []}
    return {
        "presence": nothing,
        "account_data": nothing,
        "room": {
            "rooms": list(rooms),
            "timeline": {
                "types": list(READ_TYPES),
                "limit": 0 if first else TIMELINE_LIMIT,
            },
            "state": {"lazy_load_members": True},
            "ephemeral": nothing,
            "account_data": nothing,
        },
    }


def _rooms(answer: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """Joined and left rooms by id (a room we were removed from still has the
    events up to the removal)."""
    found: dict[str, Mapping[str, Any]] = {}
    rooms = _object(answer.get("rooms"))
    for section in ("leave", "join"):
        for room_id, room in _object(rooms.get(section)).items():
            if isinstance(room, dict):
                found[str(room_id)] = room
    return found


def _names(
    room: Mapping[str, Any], events: Iterable[Mapping[str, Any]]
) -> dict[str, str]:
    """Display names of the members the sync told us about."""
    state = _events(_object(room.get("state")).get("events"))
    names: dict[str, str] = {}
    for event in [*state, *events]:
        if event.get("type") == "m.room.member":
            shown = _object(event.get("content")).get("displayname")
            if isinstance(shown, str) and shown:
                names[str(event.get("state_key", ""))] = shown
    return names


def _sort(
    room_id: str,
    event: Mapping[str, Any],
    names: Mapping[str, str],
    messages: list[ChatMessage],
    members: list[Membership],
) -> None:
    """Append `event` to the messages or the memberships; skip what neither is
    (a redacted message has no body)."""
    event_id, sender = event.get("event_id"), event.get("sender")
    content = _object(event.get("content"))
    stamp = event.get("origin_server_ts")
    if not (isinstance(event_id, str) and isinstance(sender, str)):
        return
    if not isinstance(stamp, int | float) or isinstance(stamp, bool):
        return
    at = datetime.fromtimestamp(stamp / 1000, tz=UTC)
    kind = event.get("type")
    if kind == "m.room.message" and isinstance(content.get("body"), str):
        author = names.get(sender, "")
        text = str(content["body"])
        messages.append(ChatMessage(room_id, event_id, sender, at, text, author))
    elif kind == "m.room.member" and isinstance(content.get("membership"), str):
        user = str(event.get("state_key", ""))
        members.append(
            Membership(room_id, event_id, user, str(content["membership"]), at)
        )


def _unique(events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[str] = set()
    kept = []
    for event in events:
        event_id = str(event.get("event_id", ""))
        if event_id and event_id not in seen:
            seen.add(event_id)
            kept.append(event)
    return kept


def _events(value: object) -> Iterable[dict[str, Any]]:
    if isinstance(value, list):
        return [e for e in value if isinstance(e, dict)]
    return []


def _object(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(answer: Mapping[str, Any], key: str) -> str:
    value = answer.get(key)
    if not isinstance(value, str) or not value:
        raise Permanent(f"Matrix answer without {key}: not a Matrix homeserver?")
    return value


def _seg(value: str) -> str:
    """One path segment: room ids, aliases and user ids are quoted whole."""
    return quote(value, safe="")


def _dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


def _size(content: Mapping[str, Any]) -> int:
    return len(json.dumps(content, ensure_ascii=False).encode())
