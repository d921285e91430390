"""Keeps this seat's incidents in step with the other seats' through Matrix.

One background thread. Each round publishes this seat's unpublished journal
events into their incidents' rooms (marked published only once the server took
them, so an offline seat publishes when it returns), announces the incidents it
declared in the team room, then reads every room it knows for the other seats'
events and merges them into the store. What is refused (a sender without the
power level, a seat heard from another account, a malformed or changed event)
is kept with the reason and logged, never applied.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mimdesk.connectors.errors import AuthFailed, ConnectorError
from mimdesk.connectors.matrix import Refused as MatrixRefused
from mimdesk.connectors.matrix_seats import (
    INCIDENT_TYPE,
    JOURNAL_TYPE,
    POWER_TYPE,
    RoomEvent,
    SeatClient,
    batches,
    power_of,
    required_for,
)
from mimdesk.domain import events as ev
from mimdesk.settings import SeatSettings, Settings, chat_from_environment
from mimdesk.store import journal
from mimdesk.store.lock import StoreInUse, StoreLock
from mimdesk.store.seats import Seat
from mimdesk.store.store import Store
from mimdesk.sync.worker import join_worker

log = logging.getLogger(__name__)

INTERVAL_S = 3.0
MAX_BACKOFF_S = 60.0
POSITION_KEY = "seats.position"
ROOMS_KEY = "seats.rooms"  # incident id -> room id
READ_KEY = "seats.read"  # rooms read from their start
DEVICE_KEY = "seats.device_id"
TEAM_ROOM = "mimdesk-seats"
# Events merged in one transaction while the next rooms are read.
MERGE_AT = 2000
PUBLISH_AT = 2000  # unpublished events read at a time


@dataclass(frozen=True)
class SeatStatus:
    """What the console shows of the link to the other seats."""

    connected: bool = False
    offline_since: datetime | None = None
    last_sync: datetime | None = None
    problem: str = ""
    seats: tuple[Seat, ...] = ()
    published: int = 0  # events published since start
    merged: int = 0  # other seats' events taken since start
    refused: int = 0


@dataclass
class Received:
    """Other seats' events read in a round, checked and grouped by account."""

    by_account: dict[str, list[ev.JournalEvent]] = field(default_factory=dict)
    remote_of: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    refused: list[tuple[str, str, str, str]] = field(default_factory=list)
    rooms: dict[str, str] = field(default_factory=dict)  # announced incident -> room


def parse_batch(
    event: RoomEvent,
    *,
    levels: Mapping[str, Any],
    bindings: dict[str, str],
    into: Received,
    incident: str | None = None,
) -> None:
    """Check one journal batch and keep what can be merged in `into`: the whole
    batch is refused when its sender lacks the level; an entry when it is
    malformed, names a seat bound to another account, or belongs to another
    incident than the room's (`incident`: None when the room's is not known
    yet, "" for the team room, where no journal event belongs)."""
    sender, remote = event.sender, event.remote_id
    need, has = required_for(levels, JOURNAL_TYPE), power_of(levels, sender)
    if has < need:
        why = f"{sender} has power level {has} in the room, {need} is needed to write"
        into.refused.append((remote, event.room_id, sender, why))
        return
    entries = event.content.get("events")
    if not isinstance(entries, list):
        into.refused.append((remote, event.room_id, sender, "no list of events"))
        return
    for index, entry in enumerate(entries):
        key = f"{remote}/{entry.get('id') if isinstance(entry, dict) else index}"
        try:
            if not isinstance(entry, dict):
                raise TypeError("not an object")
            parsed = ev.from_dict(entry)
        except (KeyError, TypeError, ValueError) as exc:
            why = f"malformed journal event: {type(exc).__name__}: {exc}"
            into.refused.append((key, event.room_id, sender, why[:300]))
            continue
        if incident is not None and parsed.incident_id != incident:
            why = (
                f"it is {parsed.incident_id}'s, not this room's incident {incident}"
                if incident
                else "journal events are not taken from the team room"
            )
            into.refused.append((key, event.room_id, sender, why))
            continue
        bound = bindings.setdefault(parsed.seat, sender)
        if bound != sender:
            why = f"seat {parsed.seat} is bound to {bound}, not {sender}"
            into.refused.append((key, event.room_id, sender, why))
            continue
        into.by_account.setdefault(sender, []).append(parsed)
        into.remote_of[parsed.id] = (key, event.room_id, sender)


def parse_announcement(
    event: RoomEvent, *, levels: Mapping[str, Any], into: Received
) -> None:
    """An incident and its room, from a sender allowed to announce."""
    need, has = required_for(levels, INCIDENT_TYPE), power_of(levels, event.sender)
    incident_id, room_id = (event.content.get(k) for k in ("incident_id", "room_id"))
    if has < need:
        why = f"{event.sender} has power level {has}, {need} is needed to announce"
        into.refused.append((event.remote_id, event.room_id, event.sender, why))
    elif isinstance(incident_id, str) and isinstance(room_id, str) and room_id:
        into.rooms[incident_id] = room_id
    else:
        why = "an announcement without incident_id and room_id"
        into.refused.append((event.remote_id, event.room_id, event.sender, why))


class SeatSync:
    """Publishes and reads seat events until stopped; `status()` is thread-safe."""

    def __init__(
        self,
        store: Store,
        seats: SeatSettings,
        factory: Callable[[], SeatClient],
        *,
        interval: float = INTERVAL_S,
        on_change: Callable[[frozenset[str]], None] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._settings = seats
        self._factory = factory
        self._client: SeatClient | None = None
        self._interval = interval
        self._on_change = on_change or (lambda _ids: None)
        self._clock = clock
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._status = SeatStatus()
        self._failures = 0
        self._team: str | None = None
        self._levels: dict[str, dict[str, Any]] = {}
        self._link: StoreLock | None = None  # held while this process links

    @property
    def writes(self) -> bool:
        return self._settings.role != "wallboard"

    # --- the thread ---------------------------------------------------------------

    def claim(self) -> bool:
        """Take this data folder's seat link (one process at a time publishes
        and reads for a store); False, said in the status, when another has it."""
        if self._link is not None:
            return True
        lock = StoreLock(Path(f"{self._store.path}.seats"))
        try:
            lock.exclusive()
        except StoreInUse:
            self._set(
                connected=False,
                problem="another MIMDesk on this data folder already links it to "
                "the other seats (the console or `mimdesk seats sync`)",
            )
            return False
        self._link = lock
        return True

    def start(self) -> None:
        if self._thread is None and self.claim():
            self._thread = threading.Thread(
                target=self._run, name="seat-sync", daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> bool:
        self._stop.set()
        self._wake.set()
        stopped = join_worker(self._thread, timeout, "seat sync")
        if stopped and self._client is not None:
            self._client.close()
            self._client = None
        if stopped and self._link is not None:
            self._link.release()
            self._link = None
        return stopped

    def wake(self) -> None:
        """Run a round now (e.g. after this seat recorded something)."""
        self._wake.set()

    @property
    def store(self) -> Store:
        return self._store

    @property
    def team_room_id(self) -> str | None:
        return self._team

    def rooms(self) -> dict[str, str]:
        """The room of each incident this seat shares: incident id -> room id."""
        return self._rooms()

    def status(self) -> SeatStatus:
        with self._lock:
            return self._status

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                wait = self.round()
            except Exception:
                log.exception("seat sync failed")
                wait = MAX_BACKOFF_S
            if wait is None:
                return
            self._wake.wait(wait)
            self._wake.clear()

    def round(self) -> float | None:
        """Publish then read once; seconds to the next round, None to stop."""
        try:
            self.publish_once()
            self.sync_once()
        except AuthFailed as exc:
            self._set(connected=False, problem=exc.message)
            log.error("seat sync stopped: %s", exc.message)
            return None
        except ConnectorError as exc:
            return self._offline(exc)
        if self._failures:
            log.info("seat sync: the homeserver is back")
        self._failures = 0
        return self._interval

    def _offline(self, exc: ConnectorError) -> float:
        self._failures += 1
        if not exc.transient:
            self._client = None  # a new session next time
        status = self.status()
        since = status.offline_since if not status.connected else None
        if status.connected or self._failures == 1:
            log.warning("seat sync offline: %s", exc.message)
        self._set(
            connected=False, offline_since=since or self._clock(), problem=exc.message
        )
        hint = float(getattr(exc, "retry_after", 0.0) or 0.0)
        return min(max(hint, 2.0 * 2.0 ** min(self._failures, 5)), MAX_BACKOFF_S)

    def _set(self, **changes: Any) -> None:
        with self._lock:
            self._status = replace(self._status, **changes)

    def _matrix(self) -> SeatClient:
        if self._client is None:
            self._client = self._factory()
        return self._client

    # --- publishing ---------------------------------------------------------------

    def publish_once(self) -> int:
        """Send this seat's unpublished events; how many were sent. A wallboard
        publishes nothing."""
        if not self.writes:
            return 0
        sent = 0
        while pending := self._store.unpublished(limit=PUBLISH_AT):
            matrix = self._matrix()
            team = self._team_room(matrix)
            for incident_id, events in _by_incident(pending).items():
                room = self._incident_room(matrix, incident_id, events, team)
                sent += self._publish(matrix, room, events, team)
            if len(pending) < PUBLISH_AT:
                break
        if sent:
            self._set(published=self.status().published + sent)
        return sent

    def _publish(
        self,
        matrix: SeatClient,
        room: str,
        events: Sequence[ev.JournalEvent],
        team: str | None,
    ) -> int:
        for batch in batches([ev.to_dict(e) for e in events]):
            remote_id = matrix.send_journal(room, batch)
            created = [e for e in batch if e.get("kind") == ev.INCIDENT_CREATED]
            if created and team is not None:
                matrix.announce(team, str(created[0]["incident_id"]), room)
            ids = [str(e["id"]) for e in batch]
            self._store.mark_published(ids, room=room, remote_id=remote_id).result()
        log.info("seat sync: published %s events to %s", len(events), room)
        return len(events)

    def _incident_room(
        self,
        matrix: SeatClient,
        incident_id: str,
        events: Sequence[ev.JournalEvent],
        team: str | None,
    ) -> str:
        rooms = self._rooms()
        if incident_id in rooms:
            return rooms[incident_id]
        title = next(
            (str(e.payload.get("title")) for e in events if "title" in e.payload),
            incident_id,
        )
        room = matrix.incident_room(
            incident_id,
            title,
            writers=self._writers(matrix),
            team_room=team or "",
            room_id=self._store.chat_channel(incident_id, "matrix"),
        )
        self._remember({incident_id: room})
        return room

    def _writers(self, matrix: SeatClient) -> list[str]:
        return sorted({*self._settings.writers, matrix.user_id or ""} - {""})

    def _team_room(self, matrix: SeatClient) -> str | None:
        if self._team is None:
            alias = self._settings.team_room or f"#{TEAM_ROOM}:{matrix.server_name()}"
            self._team = matrix.team_room(
                alias,
                writers=self._writers(matrix) if self.writes else [],
                readers=self._settings.readers,
                create=self.writes,
            )
            if self._team is None:
                self._set(problem=f"the team room {alias} does not exist yet")
        return self._team

    # --- reading ------------------------------------------------------------------

    def sync_once(self, *, poll_timeout: float = 0.0) -> int:
        """Read every room this seat knows and merge what is new; how many of
        the other seats' events were added."""
        matrix = self._matrix()
        team = self._team_room(matrix)
        position = self._store.meta(POSITION_KEY)
        got = matrix.sync_round(position, poll_timeout=poll_timeout)
        read = set(self._read())
        joined = set(got.joined) if position is not None else set(matrix.joined_rooms())
        for room_id in got.invites:
            wanted = room_id == team or room_id in self._rooms().values()
            if wanted and self._join(matrix, room_id):
                joined.add(room_id)
        todo: list[tuple[str, Sequence[RoomEvent] | None]] = []
        for room_id in sorted(joined):
            if room_id not in read:
                todo.append((room_id, None))  # read from its start
            elif got.events.get(room_id):
                todo.append((room_id, got.events[room_id]))
        known = read | joined
        added = self._take(matrix, todo, team, known)
        self._store.set_meta(READ_KEY, json.dumps(sorted(known))).result()
        self._store.set_meta(POSITION_KEY, got.position).result()
        self._set(
            connected=True,
            offline_since=None,
            problem="" if team else self.status().problem,
            last_sync=self._clock(),
            seats=tuple(self._store.seats()),
        )
        return added

    def _take(
        self,
        matrix: SeatClient,
        todo: list[tuple[str, Sequence[RoomEvent] | None]],
        team: str | None,
        known: set[str],
    ) -> int:
        """Check and merge each room's events; rooms newly announced in the team
        room are joined (and added to `known`) and read from their start in
        the same round. A room's merge runs on the store's writer while the
        next room is read."""
        bindings = {s.seat: s.account for s in self._store.seats() if s.account}
        pending: list[tuple[Received, list[Future[journal.Merged]]]] = []
        rooms: dict[str, str] = {}
        received = Received()
        while todo:
            room_id, events = todo.pop(0)
            if events is None:
                events = matrix.room_from_start(room_id)
            self._check(matrix, room_id, events, bindings, received)
            if room_id == team:
                rooms.update(received.rooms)
                for room in sorted(set(received.rooms.values()) - known):
                    known.add(room)
                    if self._join(matrix, room):
                        todo.append((room, None))
            if sum(map(len, received.by_account.values())) >= MERGE_AT:
                pending.append((received, self._submit(received)))
                received = Received()
        pending.append((received, self._submit(received)))
        if rooms:
            self._remember(rooms)
        return self._finish(pending)

    def _check(
        self,
        matrix: SeatClient,
        room_id: str,
        events: Sequence[RoomEvent],
        bindings: dict[str, str],
        received: Received,
    ) -> None:
        """Check against the room's power levels as they are now: the last
        change read, or else the room's state."""
        # FIXME(seats): levels are those of now, not of when a batch was sent:
        # a writer later demoted has older batches refused by seats that had not
        # read them yet. Resolving each event's auth state (its auth_events) via
        # /event/{id} and /state?at= would judge each batch as the server did.
        changes = [e.content for e in events if e.type == POWER_TYPE]
        if changes:
            self._levels[room_id] = dict(changes[-1])
        levels = self._levels.get(room_id)
        if levels is None:
            levels = self._levels[room_id] = matrix.power_levels(room_id)
        incident = {room: iid for iid, room in self._rooms().items()}.get(room_id)
        if room_id == self._team:
            incident = ""
        for event in events:
            if event.type == JOURNAL_TYPE:
                parse_batch(
                    event, levels=levels, bindings=bindings, into=received,
                    incident=incident,
                )  # fmt: skip
            elif event.type == INCIDENT_TYPE:
                parse_announcement(event, levels=levels, into=received)

    def _join(self, matrix: SeatClient, room_id: str) -> bool:
        try:
            matrix.join(room_id)
        except MatrixRefused as exc:
            log.warning("seat sync: cannot join %s: %s", room_id, exc.message)
            return False
        return True

    def _submit(self, received: Received) -> list[Future[journal.Merged]]:
        return [
            self._store.merge(events, account=account)
            for account, events in received.by_account.items()
        ]

    def _finish(
        self, pending: list[tuple[Received, list[Future[journal.Merged]]]]
    ) -> int:
        """Wait for the merges; keep what was refused, on either side."""
        added = 0
        changed: set[str] = set()
        for received, futures in pending:
            for remote_id, room, sender, why in received.refused:
                self._refuse(remote_id, room, sender, why)
            for future in futures:
                merged = future.result()
                added += len(merged.added)
                changed |= merged.incidents
                for event_id, why in merged.refused:
                    remote_id, room, sender = received.remote_of[event_id]
                    self._refuse(remote_id, room, sender, why)
        self._set(merged=self.status().merged + added)
        if changed:
            log.info("seat sync: %s events from other seats merged", added)
            self._on_change(frozenset(changed))
        return added

    def _refuse(self, remote_id: str, room: str, sender: str, why: str) -> None:
        new = self._store.refuse_remote(
            remote_id=remote_id, room=room, sender=sender, reason=why
        ).result()
        if new:
            log.warning(
                "seat sync: refused %s from %s in %s: %s", remote_id, sender, room, why
            )
            self._set(refused=self.status().refused + 1)

    # --- what the store keeps -------------------------------------------------------

    def _rooms(self) -> dict[str, str]:
        kept = _json(self._store.meta(ROOMS_KEY), {})
        return (
            {str(k): str(v) for k, v in kept.items()} if isinstance(kept, dict) else {}
        )

    def _remember(self, rooms: Mapping[str, str]) -> None:
        kept = self._rooms()
        fresh = {k: v for k, v in rooms.items() if k not in kept}
        if fresh:
            value = json.dumps({**kept, **fresh}, sort_keys=True)
            self._store.set_meta(ROOMS_KEY, value).result()

    def _read(self) -> list[str]:
        kept = _json(self._store.meta(READ_KEY), [])
        return [str(r) for r in kept] if isinstance(kept, list) else []


def _by_incident(
    events: Iterable[ev.JournalEvent],
) -> dict[str, list[ev.JournalEvent]]:
    grouped: dict[str, list[ev.JournalEvent]] = {}
    for event in events:
        grouped.setdefault(event.incident_id, []).append(event)
    return grouped


def _json(text: str | None, default: object) -> object:
    if not text:
        return default
    try:
        return json.loads(text)
    except ValueError:
        return default


# --- wiring -------------------------------------------------------------------------


def client_factory(
    settings: Settings,
    store: Store,
    *,
    environ: Mapping[str, str] | None = None,
) -> Callable[[], SeatClient] | None:
    """Makes a logged-in client for the `[matrix]` account, or None (logged)
    when Matrix is not set up. Seats keep a device of their own."""
    from mimdesk.secrets import get_secret

    chat, problems = chat_from_environment(settings.chat, environ)
    for problem in problems:
        log.warning("%s", problem)
    if not chat.matrix_url:
        log.warning("[seats] is enabled but [matrix] has no url: seats do not sync")
        return None
    token = get_secret("matrix.token")[0]
    password = None if token else get_secret("matrix.password")[0]
    if not token and not (password and chat.matrix_user):
        log.warning("[seats] is enabled but Matrix has no credentials")
        return None
    url, user, ca = chat.matrix_url, chat.matrix_user, chat.matrix_ca_file

    def make() -> SeatClient:
        client = SeatClient(
            url,
            access_token=token,
            user_id=user or None,
            password=password,
            device_id=store.meta(DEVICE_KEY),
            ca_file=str(ca) if ca else None,
        )
        if token:
            client.whoami()
            return client
        client.login()
        if client.device_id:
            store.set_meta(DEVICE_KEY, client.device_id).result()
        return client

    return make


def start_seat_sync(
    settings: Settings,
    store: Store,
    *,
    factory: Callable[[], SeatClient] | None = None,
    on_change: Callable[[frozenset[str]], None] | None = None,
    interval: float = INTERVAL_S,
    environ: Mapping[str, str] | None = None,
) -> SeatSync | None:
    """A started SeatSync when `[seats]` is enabled and Matrix is set up, else
    None. `on_change` is called (on the sync thread) with the incidents whose
    state other seats changed."""
    if not settings.seats.enabled or store.read_only:
        return None
    factory = factory or client_factory(settings, store, environ=environ)
    if factory is None:
        return None
    sync = SeatSync(
        store, settings.seats, factory, interval=interval, on_change=on_change
    )
    sync.start()
    return sync


def run_rounds(sync: SeatSync, *, once: bool, stop: threading.Event) -> float | None:
    """Rounds in this thread (for the command line) until `stop`; or one."""
    while True:
        wait = sync.round()
        if once or wait is None or stop.wait(wait):
            return wait
