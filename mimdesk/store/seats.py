"""What this store knows of the other seats: who was heard from and when, which of
this seat's events were published for them, and which of theirs were refused.

The events themselves live in the journal (`journal.merge`); these tables are
bookkeeping, written on the writer thread, read anywhere.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from mimdesk.domain import events as ev
from mimdesk.domain.times import parse_utc, utc_iso
from mimdesk.store import journal


@dataclass(frozen=True)
class Seat:
    """Another seat (or this one), as this store knows it."""

    seat: str
    account: str  # the chat account its events came from ("" when unknown)
    last_heard_at: datetime
    events: int  # how many of its events this store holds


@dataclass(frozen=True)
class Refused:
    """Another seat's event that was not applied, and why."""

    remote_id: str
    room: str
    sender: str
    reason: str
    at: datetime


def heard(
    conn: sqlite3.Connection, seat: str, *, account: str, at: datetime, added: int
) -> None:
    conn.execute(
        "INSERT INTO seats (seat, account, last_heard_at, events) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (seat) DO UPDATE SET account = excluded.account,"
        " last_heard_at = max(last_heard_at, excluded.last_heard_at),"
        " events = events + excluded.events",
        (seat, account, utc_iso(at), added),
    )


def seats(conn: sqlite3.Connection) -> list[Seat]:
    rows = conn.execute(
        "SELECT seat, coalesce(account, ''), last_heard_at, events FROM seats"
        " ORDER BY last_heard_at DESC"
    )
    return [Seat(str(s), str(a), parse_utc(str(t)), int(n)) for s, a, t, n in rows]


def unpublished(
    conn: sqlite3.Connection, seat: str, *, limit: int = 500
) -> list[ev.JournalEvent]:
    """This seat's events not yet published, oldest first."""
    rows = conn.execute(
        f"SELECT {_prefixed('j')} FROM journal j"
        " LEFT JOIN published p ON p.event_id = j.id"
        " WHERE j.seat = ? AND j.hlc IS NOT NULL AND p.event_id IS NULL"
        " ORDER BY j.seq LIMIT ?",
        (seat, limit),
    )
    return [journal.row_event(row) for row in rows]


def mark_published(
    conn: sqlite3.Connection,
    event_ids: Iterable[str],
    *,
    room: str,
    remote_id: str,
    at: datetime,
) -> None:
    conn.executemany(
        "INSERT OR IGNORE INTO published (event_id, room, remote_id, published_at)"
        " VALUES (?, ?, ?, ?)",
        [(eid, room, remote_id, utc_iso(at)) for eid in event_ids],
    )


def refuse(
    conn: sqlite3.Connection,
    *,
    remote_id: str,
    room: str,
    sender: str,
    reason: str,
    at: datetime,
) -> bool:
    """Keep a refused event's trace; False when it was already kept."""
    cursor = conn.execute(
        "INSERT OR IGNORE INTO refused_events (remote_id, room, sender, reason, at)"
        " VALUES (?, ?, ?, ?, ?)",
        (remote_id, room, sender, reason, utc_iso(at)),
    )
    return cursor.rowcount > 0


def refused(conn: sqlite3.Connection, *, limit: int = 200) -> list[Refused]:
    rows = conn.execute(
        "SELECT remote_id, room, coalesce(sender, ''), reason, at FROM refused_events"
        " ORDER BY at DESC LIMIT ?",
        (limit,),
    )
    return [
        Refused(str(r), str(m), str(s), str(w), parse_utc(str(t)))
        for r, m, s, w, t in rows
    ]


def _prefixed(alias: str) -> str:
    return ", ".join(f"{alias}.{c.strip()}" for c in journal.COLUMNS.split(","))
