"""The append-only incident journal and the read model folded from it.

Every function here takes a connection; writes must run inside a transaction
opened by the writer thread.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from ulid import ULID

from mimdesk.domain import events as ev
from mimdesk.domain import hlc
from mimdesk.domain.errors import DomainError
from mimdesk.domain.event_checks import payload_problem
from mimdesk.domain.incident import Incident, apply, fold
from mimdesk.domain.times import parse_utc, utc_iso
from mimdesk.store.db import StoreError

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
COLUMNS = (
    "seq, id, incident_id, incident_seq, kind, payload, actor, occurred_at, "
    "typed_offset, recorded_at, seat, prev_hash, hash, hlc"
)
# An incident's events in the order every seat folds them (events.fold_key).
FOLD_ORDER = "kind != 'incident.created', coalesce(hlc, ''), seat, incident_seq, id"


class IncidentNotFound(LookupError):
    """No incident has that id in this store."""


@dataclass(frozen=True)
class Problem:
    """One thing `verify` found wrong, tied to the event where it shows."""

    seq: int | None
    incident_id: str | None
    message: str


def new_incident_id(now: datetime) -> str:
    """'INC-261203-7K3Q': the UTC date, then four random Crockford characters,
    short enough to read out on a bridge call and unlikely to clash across seats."""
    tail = "".join(secrets.choice(_CROCKFORD) for _ in range(4))
    return f"INC-{now:%y%m%d}-{tail}"


_MISHEARD = str.maketrans({"O": "0", "I": "1", "L": "1"})


def normalise_id(text: str) -> str:
    """An id as typed or heard: any case, and O/I/L for 0/1 (Crockford's rule)."""
    cleaned = "".join(text.split()).upper()
    prefix, dash, rest = cleaned.partition("-")
    return f"{prefix}{dash}{rest.translate(_MISHEARD)}" if dash else cleaned


def row_event(row: sqlite3.Row | tuple[object, ...]) -> ev.JournalEvent:
    (seq, eid, iid, iseq, kind, payload, actor, occ, off, rec, seat, prev, hsh, hlc) = (
        row
    )
    return ev.JournalEvent(
        seq=int(str(seq)),
        id=str(eid),
        incident_id=str(iid),
        incident_seq=int(str(iseq)),
        kind=str(kind),
        payload=json.loads(str(payload)),
        actor=str(actor),
        occurred_at=parse_utc(str(occ)),
        typed_offset=None if off is None else str(off),
        recorded_at=parse_utc(str(rec)),
        seat=str(seat),
        prev_hash=str(prev),
        hash=str(hsh),
        hlc=None if hlc is None else str(hlc),
    )


def insert_verbatim(
    conn: sqlite3.Connection, event: ev.JournalEvent, *, seq: int | None = None
) -> None:
    """Store an already-recorded event exactly as it was (salvage, later merges);
    `seq`: its place in this store, when not the one it carries."""
    fields = event.hashed_fields()
    conn.execute(
        f"INSERT INTO journal ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            event.seq if seq is None else seq,
            event.id,
            event.incident_id,
            event.incident_seq,
            event.kind,
            ev.canonical_json(fields["payload"]),
            event.actor,
            fields["occurred_at"],
            event.typed_offset,
            fields["recorded_at"],
            event.seat,
            event.prev_hash,
            event.hash,
            event.hlc,
        ),
    )


def tail(conn: sqlite3.Connection) -> tuple[int, str]:
    """The newest event's sequence number and hash (0 and genesis when empty)."""
    row = conn.execute(
        "SELECT seq, hash FROM journal ORDER BY seq DESC LIMIT 1"
    ).fetchone()
    return (int(row[0]), str(row[1])) if row else (0, ev.GENESIS_HASH)


def seat_tail(conn: sqlite3.Connection, incident_id: str, seat: str) -> str:
    """The hash of the last event `seat` recorded on the incident (genesis if
    none): what its next event there chains to."""
    row = conn.execute(
        "SELECT hash FROM journal WHERE incident_id = ? AND seat = ?"
        " ORDER BY seq DESC LIMIT 1",
        (incident_id, seat),
    ).fetchone()
    return str(row[0]) if row else ev.GENESIS_HASH


def last_number(conn: sqlite3.Connection, incident_id: str) -> int:
    """The highest event number on the incident, from any seat (0 if none)."""
    row = conn.execute(
        "SELECT max(incident_seq) FROM journal WHERE incident_id = ?", (incident_id,)
    ).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def latest_stamp(conn: sqlite3.Connection) -> str | None:
    """The latest clock stamp this store holds, from any seat."""
    row = conn.execute("SELECT max(hlc) FROM journal WHERE hlc IS NOT NULL").fetchone()
    return str(row[0]) if row and row[0] is not None else None


def load_incident(conn: sqlite3.Connection, incident_id: str) -> Incident | None:
    row = conn.execute(
        "SELECT state FROM incidents WHERE id = ?", (normalise_id(incident_id),)
    ).fetchone()
    return Incident.from_dict(json.loads(row[0])) if row else None


class StateCache:
    """The writer's memory of each incident's state after its last event.

    An entry is used only while its last event's hash is still the newest one
    for that incident in the file, so another process's writes or a rolled-back
    transaction can never make it serve stale state.
    """

    def __init__(self) -> None:
        self._states: dict[str, tuple[Incident, str]] = {}

    def load(self, conn: sqlite3.Connection, incident_id: str) -> Incident | None:
        cached = self._states.get(incident_id)
        if cached is not None:
            row = conn.execute(
                "SELECT hash FROM journal WHERE incident_id = ?"
                " ORDER BY seq DESC LIMIT 1",
                (incident_id,),
            ).fetchone()
            if row is not None and row[0] == cached[1]:
                return cached[0]
        return load_incident(conn, incident_id)

    def keep(self, incident: Incident, last_hash: str) -> None:
        self._states[incident.id] = (incident, last_hash)

    def clear(self) -> None:
        self._states.clear()


def save_incident(conn: sqlite3.Connection, incident: Incident, last_seq: int) -> None:
    conn.execute(
        "INSERT INTO incidents (id, title, severity, status, is_open, demo,"
        " detected_at, updated_at, last_seq, state) VALUES (?,?,?,?,?,?,?,?,?,?)"
        " ON CONFLICT (id) DO UPDATE SET title = excluded.title,"
        " severity = excluded.severity, status = excluded.status,"
        " is_open = excluded.is_open, demo = excluded.demo,"
        " detected_at = excluded.detected_at, updated_at = excluded.updated_at,"
        " last_seq = excluded.last_seq, state = excluded.state",
        (
            incident.id,
            incident.title,
            incident.severity,
            incident.status.value,
            int(incident.is_open),
            int(incident.demo),
            utc_iso(incident.detected_at),
            utc_iso(incident.updated_at),
            last_seq,
            json.dumps(incident.to_dict(), ensure_ascii=False),
        ),
    )


# FIXME(store): one awaited append costs ~0.6 ms, ~0.36x a bare one-table sqlite3
# insert-and-commit (bench/journal.py; ~0.5x of bare writing the same journal rows).
# The extra index and read-model pages and the Python per event (hash chain, state
# JSON) account for it. Committing queued jobs together (group commit), and keeping
# notes out of the read-model row (snapshot + tail), would close most of the gap.
def append(
    conn: sqlite3.Connection,
    incident_id: str,
    drafts: Sequence[ev.NewEvent],
    *,
    seat: str,
    recorded_at: datetime,
    state: Incident | None = None,
    cache: StateCache | None = None,
) -> list[ev.JournalEvent]:
    """Record `drafts` for one incident, chain them, and update its read model.

    `state` is the incident's current state if the caller already loaded it.
    """
    if state is None:
        state = load_incident(conn, incident_id)
    seq = tail(conn)[0]
    prev = seat_tail(conn, incident_id, seat)
    next_seq = last_number(conn, incident_id) + 1
    latest = stamp = latest_stamp(conn)
    written: list[ev.JournalEvent] = []
    for offset, draft in enumerate(drafts):
        stamp = hlc.after(stamp, recorded_at)
        event = ev.seal(
            draft,
            seq=seq + 1 + offset,
            event_id=str(ULID()),
            incident_id=incident_id,
            incident_seq=next_seq + offset,
            recorded_at=recorded_at,
            seat=seat,
            prev_hash=prev,
            hlc=stamp,
        )
        insert_verbatim(conn, event)
        state = apply(state, event)
        written.append(event)
        prev = event.hash
    first = written[0] if written else None
    if (
        first is not None and latest is not None and first.hlc is not None
        and first.hlc <= latest and first.kind != ev.INCIDENT_CREATED
    ):  # fmt: skip
        # Stamped before an event held (one from a seat whose clock runs far
        # ahead): not the last in fold order, so fold it all again.
        state = fold(iter_events(conn, incident_id))
    if state is not None and written:
        save_incident(conn, state, written[-1].seq)
        if cache is not None:
            cache.keep(state, written[-1].hash)
    return written


def run_command(
    conn: sqlite3.Connection,
    incident_id: str,
    command: Callable[[Incident], Sequence[ev.NewEvent]],
    *,
    seat: str,
    recorded_at: datetime,
    cache: StateCache | None = None,
) -> list[ev.JournalEvent]:
    """Load an incident, let `command` decide, and append what it returns."""
    incident_id = normalise_id(incident_id)
    state = cache.load(conn, incident_id) if cache else load_incident(conn, incident_id)
    if state is None:
        raise IncidentNotFound(f"no incident {normalise_id(incident_id)} in this store")
    drafts = command(state)
    return append(
        conn,
        state.id,
        drafts,
        seat=seat,
        recorded_at=recorded_at,
        state=state,
        cache=cache,
    )


def iter_events(
    conn: sqlite3.Connection, incident_id: str | None = None
) -> Iterator[ev.JournalEvent]:
    if incident_id is None:
        cursor = conn.execute(f"SELECT {COLUMNS} FROM journal ORDER BY seq")
    else:
        cursor = conn.execute(
            f"SELECT {COLUMNS} FROM journal WHERE incident_id = ?"
            f" ORDER BY {FOLD_ORDER}",
            (normalise_id(incident_id),),
        )
    for row in cursor:
        yield row_event(row)


class JournalTruncated(StoreError):
    """The read model saw events the journal no longer has."""


def lost_events(conn: sqlite3.Connection) -> list[Problem]:
    """Incidents whose cached state saw later events than the journal now holds.

    That is how a deleted tail shows: the chain of what is left is intact, but
    the read model, written in the same transactions, remembers more.
    """
    rows = conn.execute(
        "SELECT i.id, i.last_seq, (SELECT max(seq) FROM journal j"
        " WHERE j.incident_id = i.id) FROM incidents i"
    )
    problems = []
    for incident_id, seen, kept in rows:
        if kept is None or int(seen) > int(kept):
            after = f"after event #{kept}" if kept else "(all of them)"
            problems.append(
                Problem(
                    int(seen),
                    str(incident_id),
                    f"{incident_id}: events up to #{seen} were recorded but the "
                    f"journal ends {after}: events were removed; do not rebuild, "
                    "restore a backup (`mimdesk store restore`)",
                )
            )
    return problems


def rebuild(conn: sqlite3.Connection, *, force: bool = False) -> int:
    """Throw away the read model and fold it again from the journal.

    Refused when the journal lost events the read model saw, since refolding
    would erase the only trace of the loss (unless `force`).
    """
    lost = lost_events(conn)
    if lost and not force:
        raise JournalTruncated(
            "; ".join(p.message for p in lost)
            + " (mimdesk journal rebuild --force rebuilds anyway)"
        )
    conn.execute("DELETE FROM incidents")
    ids = [r[0] for r in conn.execute("SELECT DISTINCT incident_id FROM journal")]
    for incident_id in ids:
        events = list(iter_events(conn, incident_id))
        state = fold(events)
        if state is not None:
            save_incident(conn, state, max(e.seq for e in events))
    return len(ids)


def _raw_rows(conn: sqlite3.Connection) -> Iterator[tuple[object, ...]]:
    yield from conn.execute(f"SELECT {COLUMNS} FROM journal ORDER BY seq")


def verify(conn: sqlite3.Connection, incident_id: str | None = None) -> list[Problem]:
    """Walk every chain this store holds; report problems (only those of
    `incident_id`, if given), each naming the seat whose chain is broken.

    The store numbers its rows 1, 2, 3...; a gap is a removed row. Events from
    before seats shared incidents (no clock stamp) chain through the store in
    that order. Stamped events chain per seat and incident: each links to the
    one its seat recorded before it on the incident."""
    wanted = normalise_id(incident_id) if incident_id else None
    found: list[tuple[int, str, str]] = []  # (seq, incident, text)
    prev_hash, prev_seq = ev.GENESIS_HASH, 0
    next_number: dict[str, int] = {}
    chains: dict[tuple[str, str], list[ev.JournalEvent]] = {}
    held: set[str] = set()
    for row in _raw_rows(conn):
        seq, iid = int(str(row[0])), str(row[2])
        held.add(iid)
        if seq != prev_seq + 1:
            found.append(
                (seq, iid, f"events #{prev_seq + 1} to #{seq - 1} are missing")
            )
        prev_seq = seq
        try:
            event = row_event(row)
        except (ValueError, TypeError) as exc:
            found.append((seq, iid, f"cannot be read: {exc}"))
            continue
        if event.hlc is not None:
            chains.setdefault((iid, event.seat), []).append(event)
            continue
        if event.prev_hash != prev_hash:
            text = "does not link to the event before it (removed or inserted)"
            found.append((seq, iid, text))
        if not event.sealed_correctly():
            found.append(
                (seq, iid, "was changed after it was recorded (hash mismatch)")
            )
        expected = next_number.get(iid, 1)
        if event.incident_seq != expected:
            number = event.incident_seq
            found.append(
                (seq, iid, f"is number {number} of its incident; expected {expected}")
            )
        next_number[iid] = event.incident_seq + 1
        prev_hash = event.hash
    for (iid, seat), events in chains.items():
        if wanted is None or iid == wanted:
            found += _seat_chain(conn, iid, seat, events)
    if wanted is not None and wanted not in held:
        raise IncidentNotFound(f"no incident {wanted} in this store")
    problems = [
        Problem(seq, iid, f"event #{seq}: {text}")
        for seq, iid, text in sorted(found)
        if wanted is None or iid == wanted
    ]
    return problems + _check_read_model(conn, wanted)


def _seat_chain(
    conn: sqlite3.Connection,
    incident_id: str,
    seat: str,
    stamped: list[ev.JournalEvent],
) -> list[tuple[int, str, str]]:
    """One seat's chain on one incident: sealed, linked, numbered upwards."""
    row = conn.execute(
        "SELECT hash, incident_seq FROM journal WHERE incident_id = ? AND seat = ?"
        " AND hlc IS NULL ORDER BY seq DESC LIMIT 1",
        (incident_id, seat),
    ).fetchone()
    prev_hash, number = (str(row[0]), int(row[1])) if row else (ev.GENESIS_HASH, 0)
    found = []
    for event in ev.in_fold_order(stamped):
        if event.prev_hash != prev_hash:
            text = (
                f"does not link to the event before it in seat {seat}'s chain "
                "(removed or inserted, or not received from that seat yet)"
            )
            found.append((event.seq, incident_id, text))
        if not event.sealed_correctly():
            text = f"was changed after it was recorded (hash mismatch), seat {seat}"
            found.append((event.seq, incident_id, text))
        if event.incident_seq <= number:
            text = f"is number {event.incident_seq}, not after {number}, seat {seat}"
            found.append((event.seq, incident_id, text))
        prev_hash, number = event.hash, event.incident_seq
    return found


def _check_read_model(conn: sqlite3.Connection, wanted: str | None) -> list[Problem]:
    lost = [p for p in lost_events(conn) if wanted is None or p.incident_id == wanted]
    problems: list[Problem] = list(lost)
    if wanted:
        ids = [wanted]
    else:
        in_journal = conn.execute("SELECT DISTINCT incident_id FROM journal")
        in_model = conn.execute("SELECT id FROM incidents")
        ids = sorted({str(r[0]) for r in in_journal} | {str(r[0]) for r in in_model})
    for incident_id in ids:
        events = list(iter_events(conn, incident_id))
        if events and not any(e.kind == ev.INCIDENT_CREATED for e in events):
            continue  # another seat's, waiting for its creation to arrive
        try:
            folded = fold(events)
        except (DomainError, KeyError, ValueError) as exc:
            problems.append(Problem(None, incident_id, f"cannot be folded: {exc}"))
            continue
        cached = load_incident(conn, incident_id)
        if any(p.incident_id == incident_id for p in lost):
            continue
        if folded != cached:
            problems.append(
                Problem(
                    None,
                    incident_id,
                    f"{incident_id}: cached state differs from the journal; "
                    "run `mimdesk journal rebuild`",
                )
            )
    return problems


# --- events from other seats -------------------------------------------------------


@dataclass(frozen=True)
class Merged:
    """What merging a batch of other seats' events did."""

    added: tuple[ev.JournalEvent, ...] = ()  # as received: `seq` is not this store's
    known: int = 0  # already held (this seat's own, or seen before)
    refused: tuple[tuple[str, str], ...] = ()  # (event id, why)
    incidents: frozenset[str] = frozenset()  # whose shown state may have changed


def refusal(event: ev.JournalEvent, *, own_seat: str, now: datetime) -> str:
    """Why another seat's event cannot be taken ('' when it can)."""
    if event.hlc is None:
        return "it has no clock stamp (sent by a MIMDesk too old to share incidents)"
    # Judged on the event alone, so every seat decides the same whenever it
    # reads it: the stamp may not run a day ahead of the event's own recording.
    if not hlc.believable(event.hlc, event.recorded_at):
        return (
            f"its clock stamp {event.hlc} runs a day or more ahead of when it "
            "says it was recorded"
        )
    if event.seat == own_seat:
        return f"it claims to come from this seat ({own_seat}), which never recorded it"
    if not event.sealed_correctly():
        return "its hash does not match its content (changed on the way)"
    if event.incident_id != normalise_id(event.incident_id):
        return f"{event.incident_id!r} is not an incident id"
    problem = payload_problem(event)
    if problem:
        return f"its {event.kind} payload is malformed: {problem}"
    return ""


def merge(
    conn: sqlite3.Connection,
    events: Sequence[ev.JournalEvent],
    *,
    own_seat: str,
    now: datetime,
    cache: StateCache | None = None,
) -> Merged:
    """Take other seats' events this store does not hold, exactly as recorded,
    and fold each incident they touch again, in the order every seat uses.

    An incident whose events cannot be folded keeps what it had: its new events
    are refused together, so one bad seat cannot break what the others show.
    Events of an incident whose creation has not arrived yet are kept, and the
    incident shows once it does."""
    known = 0
    refused: list[tuple[str, str]] = []
    fresh: dict[str, list[ev.JournalEvent]] = {}
    seen: set[str] = set()
    held = _held_hashes(conn, [e.id for e in events])
    for event in events:
        row = held.get(event.id)
        if row is not None or event.id in seen:
            if row is not None and row != event.hash:
                refused.append((event.id, "a different event with this id is held"))
            else:
                known += 1
            continue
        why = refusal(event, own_seat=own_seat, now=now)
        if why:
            refused.append((event.id, why))
            continue
        seen.add(event.id)
        fresh.setdefault(event.incident_id, []).append(event)
    added: list[ev.JournalEvent] = []
    changed: set[str] = set()
    for incident_id, batch in fresh.items():
        stored, why = _merge_incident(conn, incident_id, ev.in_fold_order(batch))
        if why:
            # Event by event, so only what cannot be folded is refused, whatever
            # else came in the same round.
            stored = []
            for event in ev.in_fold_order(batch):
                one, why = _merge_incident(conn, incident_id, [event])
                stored += one
                if why:
                    refused.append((event.id, why))
        added += stored
        if stored:
            changed.add(incident_id)
    if cache is not None and changed:
        cache.clear()
    return Merged(tuple(added), known, tuple(refused), frozenset(changed))


def _held_hashes(conn: sqlite3.Connection, ids: Sequence[str]) -> dict[str, str]:
    """The hashes of those of `ids` this store holds (one query per 500)."""
    found: dict[str, str] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        rows = conn.execute(
            f"SELECT id, hash FROM journal WHERE id IN ({marks})", chunk
        )
        found.update((str(i), str(h)) for i, h in rows)
    return found


def _merge_incident(
    conn: sqlite3.Connection, incident_id: str, events: Sequence[ev.JournalEvent]
) -> tuple[list[ev.JournalEvent], str]:
    """Store `events` and fold the incident again, all or nothing: (what was
    stored, '') or ([], why it cannot be folded with them)."""
    conn.execute("SAVEPOINT merge_incident")
    try:
        seq = tail(conn)[0]
        stored = []
        for offset, event in enumerate(events):
            insert_verbatim(conn, event, seq=seq + 1 + offset)
            stored.append(event)
        _refold(conn, incident_id)
    except (DomainError, LookupError, ValueError, TypeError, ArithmeticError,
            sqlite3.IntegrityError) as exc:  # fmt: skip
        conn.execute("ROLLBACK TO merge_incident")
        conn.execute("RELEASE merge_incident")
        return [], f"{incident_id} cannot be folded with it: {exc}"
    conn.execute("RELEASE merge_incident")
    return stored, ""


def _refold(conn: sqlite3.Connection, incident_id: str) -> None:
    """Fold the incident again from all its events (nothing while its
    creation has not arrived)."""
    events = list(iter_events(conn, incident_id))
    if not events or events[0].kind != ev.INCIDENT_CREATED:
        return  # its creation has not arrived yet
    state = fold(events)
    if state is not None:
        save_incident(conn, state, max(e.seq for e in events))
