"""Matrix as the event store seats share incidents through: journal events
published as custom room events in batches, incidents announced in a team room,
rooms read from their start and then by /sync, and power levels read and set.

The chat client's rules hold here too (one session, a timeout on every request,
failures as connector errors); this client adds only what seats need.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mimdesk.connectors.errors import Permanent
from mimdesk.connectors.matrix import (
    MatrixClient,
    Refused,
    _dumps,
    _seg,
    _size,
    _text,
    alias_localpart,
)

log = logging.getLogger(__name__)

JOURNAL_TYPE = "org.mimdesk.journal"
INCIDENT_TYPE = "org.mimdesk.incident"
POWER_TYPE = "m.room.power_levels"
WRITER_LEVEL = 50
# Per Matrix event: well under the 64 KiB a homeserver accepts for a whole event.
MAX_BATCH_EVENTS = 40
MAX_BATCH_BYTES = 48_000
# A room version with restricted joins (members of the team room may join).
ROOM_VERSION = "10"
READ_TYPES = (JOURNAL_TYPE, INCIDENT_TYPE, POWER_TYPE)
PAGE = 200
SYNC_LIMIT = 100


@dataclass(frozen=True)
class RoomEvent:
    """One of the custom events read from a room: who sent it, its id, content."""

    room_id: str
    sender: str
    remote_id: str
    type: str
    content: Mapping[str, Any]


@dataclass(frozen=True)
class SyncRound:
    """What one /sync gave: the next position, new events per joined room
    (oldest first), and the rooms this account was invited to."""

    position: str
    events: Mapping[str, Sequence[RoomEvent]] = field(default_factory=dict)
    invites: tuple[str, ...] = ()
    joined: tuple[str, ...] = ()


def batches(
    events: Sequence[Mapping[str, Any]],
    *,
    max_events: int = MAX_BATCH_EVENTS,
    max_bytes: int = MAX_BATCH_BYTES,
) -> list[list[Mapping[str, Any]]]:
    """Events (as `events.to_dict` gives them) cut into batches, in order, each
    at most `max_events` long and at most `max_bytes` of JSON. One event larger
    than that alone raises Permanent: it could never be sent."""
    out: list[list[Mapping[str, Any]]] = []
    current: list[Mapping[str, Any]] = []
    size = _size({"events": []})
    for event in events:
        one = _size(event) + 1
        if _size({"events": [event]}) > max_bytes:
            raise Permanent(
                f"journal event {event.get('id')} is {one} bytes, more than one "
                f"Matrix event carries ({max_bytes})"
            )
        if current and (len(current) >= max_events or size + one > max_bytes):
            out.append(current)
            current, size = [], _size({"events": []})
        current.append(event)
        size += one
    if current:
        out.append(current)
    return out


def txn_id(batch: Sequence[Mapping[str, Any]]) -> str:
    """A transaction id derived from the batch's first and last event ids, so a
    repeated send of the same batch is the same Matrix event."""
    ends = f"{batch[0].get('id')}\n{batch[-1].get('id')}\n{len(batch)}"
    return "mj-" + hashlib.sha256(ends.encode()).hexdigest()[:40]


def power_of(levels: Mapping[str, Any], user: str) -> int:
    """A user's power level in a room's m.room.power_levels content."""
    users = levels.get("users")
    if isinstance(users, dict) and _level(users.get(user)) is not None:
        return _level(users.get(user)) or 0
    return _level(levels.get("users_default")) or 0


def required_for(levels: Mapping[str, Any], event_type: str) -> int:
    """The level an event type needs in the room; ours never less than a writer's,
    so a room whose power levels were never set up does not let anyone write."""
    events = levels.get("events")
    found = _level(events.get(event_type)) if isinstance(events, dict) else None
    if event_type == POWER_TYPE:
        return found if found is not None else _level(levels.get("state_default")) or 50
    return max(found if found is not None else 0, WRITER_LEVEL)


def seat_power_levels(
    levels: Mapping[str, Any], writers: Iterable[str]
) -> dict[str, Any]:
    """`levels` with our event types at a writer's level and the writers at it
    (nobody already higher is lowered)."""
    changed = json.loads(json.dumps(dict(levels)))
    events = changed.setdefault("events", {})
    for event_type in (JOURNAL_TYPE, INCIDENT_TYPE):
        events[event_type] = WRITER_LEVEL
    users = changed.setdefault("users", {})
    for writer in writers:
        users[writer] = max(_level(users.get(writer)) or 0, WRITER_LEVEL)
    return dict(changed)


class SeatClient(MatrixClient):
    """The chat client with what seats need on top. For one worker thread."""

    # --- rooms ------------------------------------------------------------------

    def team_room(
        self,
        alias: str,
        *,
        writers: Sequence[str],
        readers: Sequence[str],
        create: bool,
    ) -> str | None:
        """The team room's id, joined; made (writers and readers invited) when it
        is missing and `create`, else None while it is missing."""
        room_id = self.resolve(alias)
        if room_id is None and create:
            local = alias[1:].split(":", 1)[0]
            body = self._room_body(local, "MIMDesk seats", writers, readers)
            body["preset"] = "private_chat"
            try:
                room_id = _id(self._call("POST", "/createRoom", body=body))
                log.info("Matrix: made the team room %s (%s)", alias, room_id)
                return room_id
            except Refused as exc:
                if exc.errcode != "M_ROOM_IN_USE":
                    raise
                room_id = self.resolve(alias)
        if room_id is not None:
            self.join(room_id)
            if create:
                self.share(room_id, writers)
                self._invite_all(room_id, [*writers, *readers])
        return room_id

    def _invite_all(self, room_id: str, users: Iterable[str]) -> None:
        """Invite accounts configured after the room was made (members and
        accounts already invited are left as they are)."""
        for user in sorted(set(users) - {self.user_id}):
            if self._membership(room_id, user) in ("join", "invite"):
                continue
            try:
                self.invite(room_id, user)
            except Permanent as exc:
                log.warning("Matrix: %s not invited to %s: %s", user, room_id, exc)

    def incident_room(
        self,
        incident_id: str,
        title: str,
        *,
        writers: Sequence[str],
        team_room: str,
        room_id: str | None = None,
    ) -> str:
        """The incident's room, made where it is missing with the alias the chat
        feature uses, joinable by members of the team room, with our event
        types at a writer's level. A room the chat feature made already is
        given the same power levels and join rule."""
        if room_id is None:
            local = alias_localpart(incident_id)
            body = self._room_body(local, title, writers, ())
            body["initial_state"] = [_restricted(team_room)]
            try:
                return _id(self._call("POST", "/createRoom", body=body))
            except Refused as exc:
                if exc.errcode != "M_ROOM_IN_USE":
                    raise
            room_id = self.resolve(f"#{local}:{self.server_name()}")
            if room_id is None:
                raise Permanent(f"the room alias of {incident_id} vanished")
            self.join(room_id)
        if self.share(room_id, writers):
            self._restrict(room_id, team_room)
        return room_id

    def share(self, room_id: str, writers: Sequence[str]) -> bool:
        """Our event types and the writers at a writer's level in a room made
        before (or by another seat); False when this account may not change it."""
        levels = self.power_levels(room_id)
        wanted = seat_power_levels(levels, writers)
        if wanted == levels:
            return True
        if power_of(levels, self.user_id or "") < required_for(levels, POWER_TYPE):
            log.debug("Matrix: %s is set up by its admins, not this seat", room_id)
            return False
        try:
            self.set_power_levels(room_id, wanted)
        except Refused as exc:
            log.warning("Matrix: cannot set up %s for seats: %s", room_id, exc.message)
            return False
        return True

    def _restrict(self, room_id: str, team_room: str) -> None:
        """Members of the team room may join (a room the chat feature made is
        invite-only)."""
        path = f"/rooms/{_seg(room_id)}/state/m.room.join_rules"
        try:
            self._call("PUT", path, body=_restricted(team_room)["content"])
        except Refused as exc:
            log.warning("Matrix: %s keeps its join rule: %s", room_id, exc.message)

    def _room_body(
        self, local: str, name: str, writers: Sequence[str], readers: Sequence[str]
    ) -> dict[str, Any]:
        me = self.user_id or self.whoami()
        users = {w: WRITER_LEVEL for w in writers if w != me}
        users[me] = 100
        invite = sorted({*writers, *readers} - {me})
        return {
            "preset": "private_chat",
            "visibility": "private",
            "name": name,
            "room_alias_name": local,
            "room_version": ROOM_VERSION,
            "invite": invite,
            "power_level_content_override": {
                "users": users,
                "events": {JOURNAL_TYPE: WRITER_LEVEL, INCIDENT_TYPE: WRITER_LEVEL},
            },
        }

    def resolve(self, alias: str) -> str | None:
        """The room an alias names, or None when it names none."""
        try:
            return _id(self._call("GET", f"/directory/room/{_seg(alias)}"))
        except Refused as exc:
            if exc.status == 404:
                return None
            raise

    def join(self, room_id: str) -> None:
        self._call("POST", f"/rooms/{_seg(room_id)}/join", body={})

    def joined_rooms(self) -> list[str]:
        rooms = self._call("GET", "/joined_rooms").get("joined_rooms")
        return [str(r) for r in rooms] if isinstance(rooms, list) else []

    def server_name(self) -> str:
        user = self.user_id or self.whoami()
        return user.split(":", 1)[1]

    def power_levels(self, room_id: str) -> dict[str, Any]:
        return self._call("GET", f"/rooms/{_seg(room_id)}/state/{POWER_TYPE}")

    def set_power_levels(self, room_id: str, levels: Mapping[str, Any]) -> None:
        self._call("PUT", f"/rooms/{_seg(room_id)}/state/{POWER_TYPE}", body=levels)

    # --- sending ------------------------------------------------------------------

    def send_journal(self, room_id: str, batch: Sequence[Mapping[str, Any]]) -> str:
        """Send one batch; its transaction id makes a repeat the same event."""
        return self.send_custom(
            room_id, JOURNAL_TYPE, {"events": list(batch)}, txn_id(batch)
        )

    def announce(self, team_room: str, incident_id: str, room_id: str) -> str:
        content = {"incident_id": incident_id, "room_id": room_id}
        txn = "mi-" + hashlib.sha256(incident_id.encode()).hexdigest()[:40]
        return self.send_custom(team_room, INCIDENT_TYPE, content, txn)

    def send_custom(
        self, room_id: str, event_type: str, content: Mapping[str, Any], txn: str
    ) -> str:
        path = f"/rooms/{_seg(room_id)}/send/{_seg(event_type)}/{_seg(txn)}"
        return _text(self._call("PUT", path, body=content), "event_id")

    # --- reading ------------------------------------------------------------------

    def room_from_start(self, room_id: str) -> list[RoomEvent]:
        """Every custom event of ours in the room, oldest first."""
        params = {
            "dir": "f",
            "limit": str(PAGE),
            "filter": _dumps({"types": list(READ_TYPES)}),
        }
        return self._page(room_id, params)

    def _page(self, room_id: str, params: dict[str, str]) -> list[RoomEvent]:
        path = f"/rooms/{_seg(room_id)}/messages"
        found: list[RoomEvent] = []
        while True:
            answer = self._call("GET", path, params=params)
            chunk = answer.get("chunk")
            found += _room_events(room_id, chunk if isinstance(chunk, list) else [])
            end = answer.get("end")
            if not chunk or not isinstance(end, str) or end == params.get("from"):
                return found if params["dir"] == "f" else found[::-1]
            params["from"] = end

    def sync_round(
        self, position: str | None, *, poll_timeout: float = 0.0
    ) -> SyncRound:
        """New custom events since `position` in every joined room; without a
        position, none (only where to start, and which rooms are joined)."""
        limit = 0 if position is None else SYNC_LIMIT
        params = {
            "filter": _dumps(_filter(limit)),
            "timeout": str(int(poll_timeout * 1000)),
        }
        if position is not None:
            params["since"] = position
        read_s = self.timeout[1] + poll_timeout
        answer = self._call("GET", "/sync", params=params, read_s=read_s)
        rooms = _object(answer.get("rooms"))
        joined = _object(rooms.get("join"))
        events: dict[str, list[RoomEvent]] = {}
        for room_id, room in joined.items():
            timeline = _object(_object(room).get("timeline"))
            chunk = timeline.get("events")
            found = _room_events(room_id, chunk if isinstance(chunk, list) else [])
            gap = timeline.get("prev_batch")
            if (
                position is not None
                and timeline.get("limited")
                and isinstance(gap, str)
            ):
                found = self._gap(room_id, gap, position) + found
            if found:
                events[room_id] = _unique(found)
        invites = tuple(str(r) for r in _object(rooms.get("invite")))
        return SyncRound(
            _text(answer, "next_batch"), events, invites, tuple(str(r) for r in joined)
        )

    def _gap(self, room_id: str, start: str, since: str) -> list[RoomEvent]:
        """What the server skipped in a limited timeline, back to `since`."""
        params = {
            "dir": "b",
            "from": start,
            "to": since,
            "limit": str(PAGE),
            "filter": _dumps({"types": list(READ_TYPES)}),
        }
        return self._page(room_id, params)


def _filter(limit: int) -> dict[str, Any]:
    nothing: dict[str, Any] = {"types": []}
    return {
        "presence": nothing,
        "account_data": nothing,
        "room": {
            "timeline": {"types": list(READ_TYPES), "limit": limit},
            "state": nothing,
            "ephemeral": nothing,
            "account_data": nothing,
        },
    }


def _restricted(team_room: str) -> dict[str, Any]:
    allow = [{"type": "m.room_membership", "room_id": team_room}]
    return {
        "type": "m.room.join_rules",
        "state_key": "",
        "content": {"join_rule": "restricted", "allow": allow},
    }


def _room_events(room_id: str, chunk: Iterable[object]) -> list[RoomEvent]:
    found = []
    for event in chunk:
        if not isinstance(event, dict):
            continue
        sender, remote_id = event.get("sender"), event.get("event_id")
        kind, content = event.get("type"), event.get("content")
        if not (isinstance(sender, str) and isinstance(remote_id, str)):
            continue
        if kind in READ_TYPES and isinstance(content, dict):
            found.append(RoomEvent(room_id, sender, remote_id, str(kind), content))
    return found


def _unique(events: Iterable[RoomEvent]) -> list[RoomEvent]:
    seen: set[str] = set()
    kept = []
    for event in events:
        if event.remote_id not in seen:
            seen.add(event.remote_id)
            kept.append(event)
    return kept


def _level(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def _object(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _id(answer: Mapping[str, Any]) -> str:
    return _text(answer, "room_id")
