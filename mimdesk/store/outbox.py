"""Outbox rows, their attempts, chat channels and read positions in SQLite.

Every function takes the connection of the job it runs in: the rows a journal
event causes are written in that event's own transaction.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from mimdesk.domain import events as ev
from mimdesk.domain.errors import DomainError
from mimdesk.domain.outbox import (
    BLOCKING,
    Item,
    Kind,
    Outcome,
    State,
    Waiting,
    backoff,
)
from mimdesk.domain.times import parse_utc, utc_iso

COLUMNS = (
    "id, created_at, incident_id, platform, kind, payload, txn_id, state, "
    "attempts, next_attempt_at, last_error, remote_id, delivered_at, event_id, lane, "
    "sending_since"
)


def _item(row: tuple[Any, ...]) -> Item:
    return Item(
        id=row[0],
        created_at=parse_utc(row[1]),
        incident_id=row[2],
        platform=row[3],
        kind=Kind(row[4]),
        payload=json.loads(row[5]),
        txn_id=row[6],
        state=State(row[7]),
        attempts=row[8],
        next_attempt_at=parse_utc(row[9]) if row[9] else None,
        last_error=row[10],
        remote_id=row[11],
        delivered_at=parse_utc(row[12]) if row[12] else None,
        event_id=row[13],
        lane=row[14],
        sending_since=parse_utc(row[15]) if row[15] else None,
    )


def new_txn_id(seat: str) -> str:
    """Chosen once per row and reused on every attempt (Matrix idempotency)."""
    return f"mimdesk-{seat}-{secrets.token_hex(8)}"


def enqueue(
    conn: sqlite3.Connection,
    *,
    incident_id: str,
    platform: str,
    kind: Kind,
    payload: Mapping[str, Any],
    event_id: str,
    seat: str,
    now: datetime,
    lane: str = "",
) -> int:
    cursor = conn.execute(
        "INSERT INTO outbox (created_at, incident_id, platform, kind, payload, txn_id,"
        " state, event_id, lane) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            utc_iso(now),
            incident_id,
            platform,
            kind.value,
            json.dumps(dict(payload), ensure_ascii=False),
            new_txn_id(seat),
            State.QUEUED.value,
            event_id,
            lane,
        ),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def rows_for(
    conn: sqlite3.Connection, written: Iterable[ev.JournalEvent], *, seat: str
) -> list[int]:
    """The outbox rows that recorded events cause, written beside them."""
    ids: list[int] = []
    for event in written:
        for platform, kind, payload, lane in _messages(event):
            ids.append(
                enqueue(
                    conn,
                    incident_id=event.incident_id,
                    platform=platform,
                    kind=kind,
                    payload=payload,
                    event_id=event.id,
                    seat=seat,
                    now=event.recorded_at,
                    lane=lane,
                )
            )
    return ids


Message = tuple[str, Kind, dict[str, Any], str]  # platform, kind, payload, lane


def _messages(event: ev.JournalEvent) -> list[Message]:
    p = event.payload
    if event.kind == ev.CHAT_OPENED:
        out: list[Message] = []
        for platform in p["platforms"]:
            out.append(
                (
                    platform,
                    Kind.CREATE_CHANNEL,
                    {"title": p["title"], "topic": p["topic"]},
                    "",
                )
            )
            out += [
                (platform, Kind.INVITE, dict(invite), "")
                for invite in p["invites"].get(platform, ())
            ]
        return out
    if event.kind == ev.CHAT_POSTED:
        return [
            (platform, Kind.POST, {"text": p["text"]}, "")
            for platform in p["platforms"]
        ]
    if event.kind == ev.UPDATE_SENT:
        return [_delivery(d) for d in p.get("deliveries") or ()]
    return []


def _delivery(d: Mapping[str, Any]) -> Message:
    """One audience's copy of a stakeholder update (see domain.updates). A
    destination of the audience's own (an address, a channel of its own) is
    its own lane: it waits for no other audience."""
    audience = str(d["audience"])
    if d["platform"] == "email":
        payload = {"to": list(d["to"]), "subject": d["subject"], "text": d["text"],
                   "audience": audience}  # fmt: skip
        return "email", Kind.EMAIL, payload, audience
    payload = {"text": d["text"], "audience": audience}
    if not d.get("channel"):
        return str(d["platform"]), Kind.POST, payload, ""
    payload["channel"] = str(d["channel"])
    return str(d["platform"]), Kind.POST, payload, audience


UNFINISHED = "state NOT IN ('delivered', 'cancelled')"


def open_items(conn: sqlite3.Connection) -> list[Item]:
    """Every row not delivered or cancelled, oldest first."""
    rows = conn.execute(f"SELECT {COLUMNS} FROM outbox WHERE {UNFINISHED} ORDER BY id")
    return [_item(row) for row in rows]


def head_items(conn: sqlite3.Connection) -> list[Item]:
    """The first unfinished row of each destination, oldest first: what the
    sender looks at before each attempt, without reading the whole queue."""
    rows = conn.execute(
        f"SELECT {COLUMNS} FROM outbox WHERE id IN (SELECT min(id) FROM outbox"
        f" WHERE {UNFINISHED} GROUP BY platform, incident_id, lane) ORDER BY id"
    )
    return [_item(row) for row in rows]


def waiting_counts(conn: sqlite3.Connection) -> Waiting:
    """How many rows wait, since when, and how many need the operator."""
    blocking = ", ".join(f"'{s.value}'" for s in BLOCKING)
    row = conn.execute(
        f"SELECT count(*), min(created_at), coalesce(sum(state IN ({blocking})), 0)"
        f" FROM outbox WHERE {UNFINISHED}"
    ).fetchone()
    oldest = parse_utc(row[1]) if row[1] else None
    return Waiting(queued=int(row[0]), oldest=oldest, needs_operator=int(row[2]))


def items(
    conn: sqlite3.Connection, *, include_done: bool = False, limit: int = 1000
) -> list[Item]:
    where = "" if include_done else "WHERE state NOT IN ('delivered', 'cancelled')"
    rows = conn.execute(
        f"SELECT {COLUMNS} FROM outbox {where} ORDER BY id DESC LIMIT ?", (limit,)
    )
    return sorted((_item(row) for row in rows), key=lambda i: i.id)


def get(conn: sqlite3.Connection, item_id: int) -> Item:
    row = conn.execute(
        f"SELECT {COLUMNS} FROM outbox WHERE id = ?", (item_id,)
    ).fetchone()
    if row is None:
        raise DomainError(f"no outbox message #{item_id}")
    return _item(row)


def attempts(conn: sqlite3.Connection, item_id: int) -> list[tuple[str, str, str]]:
    """(when, outcome, detail) of every attempt at a row, oldest first."""
    return [
        (str(r[0]), str(r[1]), str(r[2]))
        for r in conn.execute(
            "SELECT at, outcome, detail FROM outbox_attempts WHERE outbox_id = ?"
            " ORDER BY id",
            (item_id,),
        )
    ]


def claim(
    conn: sqlite3.Connection, item_id: int, *, now: datetime
) -> tuple[Item, bool] | None:
    """Mark a queued row as being sent now, unless another sender has it on
    the wire. Gives the row and whether an earlier send was cut off (its mark
    outlived the lease: that sender died mid-send); None if it cannot be had."""
    item = get(conn, item_id)
    if item.state is not State.QUEUED or item.in_flight(now):
        return None
    conn.execute(
        "UPDATE outbox SET sending_since = ? WHERE id = ?", (utc_iso(now), item_id)
    )
    return replace(item, sending_since=now), item.sending_since is not None


def record(
    conn: sqlite3.Connection,
    item_id: int,
    outcome: Outcome,
    *,
    now: datetime,
    detail: str = "",
    remote_id: str = "",
    hint: float | None = None,
) -> Item:
    """Write what an attempt gave and the row's next state."""
    item = get(conn, item_id)
    conn.execute("UPDATE outbox SET sending_since = NULL WHERE id = ?", (item_id,))
    if item.state is not State.QUEUED:
        # Cancelled (or retried and done) while the attempt was on the wire.
        conn.execute(
            "INSERT INTO outbox_attempts (outbox_id, at, outcome, detail)"
            " VALUES (?, ?, ?, ?)",
            (item_id, utc_iso(now), outcome.value, f"{detail} (row was {item.state})"),
        )
        return item
    tries = item.attempts + 1
    conn.execute(
        "INSERT INTO outbox_attempts (outbox_id, at, outcome, detail)"
        " VALUES (?, ?, ?, ?)",
        (item_id, utc_iso(now), outcome.value, detail),
    )
    changes: dict[str, Any] = {"attempts": tries, "last_error": detail}
    if outcome is Outcome.DELIVERED:
        changes |= {
            "state": State.DELIVERED.value,
            "remote_id": remote_id,
            "delivered_at": utc_iso(now),
            "last_error": "",
            "next_attempt_at": None,
        }
    elif outcome is Outcome.RETRY:
        wait = backoff(tries, hint)
        changes["next_attempt_at"] = utc_iso(now + timedelta(seconds=wait))
    elif outcome is Outcome.AUTH:
        # Not this row's fault: it waits, unattempted, for new credentials.
        changes["attempts"] = item.attempts
        changes["next_attempt_at"] = None
    elif outcome is Outcome.FAILED:
        changes["state"] = State.FAILED.value
    elif outcome is Outcome.UNKNOWN:
        changes["state"] = State.UNKNOWN.value
    elif outcome is Outcome.SKIPPED:
        # Nothing to deliver here; the reason stays on the row for the operator.
        changes |= {"state": State.CANCELLED.value, "next_attempt_at": None}
    sets = ", ".join(f"{k} = ?" for k in changes)
    conn.execute(f"UPDATE outbox SET {sets} WHERE id = ?", (*changes.values(), item_id))
    return get(conn, item_id)


def retry(conn: sqlite3.Connection, item_id: int, *, now: datetime) -> Item:
    """Queue a failed, unknown (or waiting) row for an attempt now."""
    item = get(conn, item_id)
    if item.state in (State.DELIVERED, State.CANCELLED):
        raise DomainError(f"outbox #{item_id} is {item.state}; nothing to retry")
    conn.execute(
        "UPDATE outbox SET state = 'queued', next_attempt_at = NULL WHERE id = ?",
        (item_id,),
    )
    conn.execute(
        "INSERT INTO outbox_attempts (outbox_id, at, outcome, detail)"
        " VALUES (?, ?, 'operator', 'retry asked')",
        (item_id, utc_iso(now)),
    )
    return get(conn, item_id)


def cancel(conn: sqlite3.Connection, item_id: int, *, now: datetime) -> Item:
    item = get(conn, item_id)
    if item.state in (State.DELIVERED, State.CANCELLED):
        raise DomainError(f"outbox #{item_id} is already {item.state}")
    conn.execute("UPDATE outbox SET state = 'cancelled' WHERE id = ?", (item_id,))
    conn.execute(
        "INSERT INTO outbox_attempts (outbox_id, at, outcome, detail)"
        " VALUES (?, ?, 'operator', 'cancelled')",
        (item_id, utc_iso(now)),
    )
    return get(conn, item_id)


def wake_all(conn: sqlite3.Connection, platform: str | None = None) -> int:
    """Make every queued row (of one platform) due now: the network is back."""
    where = "state = 'queued' AND next_attempt_at IS NOT NULL"
    args: tuple[Any, ...] = ()
    if platform:
        where += " AND platform = ?"
        args = (platform,)
    return conn.execute(
        f"UPDATE outbox SET next_attempt_at = NULL WHERE {where}", args
    ).rowcount


# --- channels and read positions -------------------------------------------------


def channel(conn: sqlite3.Connection, incident_id: str, platform: str) -> str | None:
    row = conn.execute(
        "SELECT channel FROM chat_channels WHERE incident_id = ? AND platform = ?",
        (incident_id, platform),
    ).fetchone()
    return str(row[0]) if row else None


def save_channel(
    conn: sqlite3.Connection,
    incident_id: str,
    platform: str,
    channel_id: str,
    *,
    now: datetime,
) -> None:
    conn.execute(
        "INSERT INTO chat_channels (incident_id, platform, channel, opened_at)"
        " VALUES (?, ?, ?, ?) ON CONFLICT (incident_id, platform)"
        " DO UPDATE SET channel = excluded.channel",
        (incident_id, platform, channel_id, utc_iso(now)),
    )


def channels(conn: sqlite3.Connection, platform: str | None = None) -> dict[str, str]:
    """Channel id -> incident id (of one platform, or 'platform:channel' keys)."""
    if platform:
        rows = conn.execute(
            "SELECT channel, incident_id FROM chat_channels WHERE platform = ?",
            (platform,),
        )
        return {str(r[0]): str(r[1]) for r in rows}
    rows = conn.execute("SELECT platform, channel, incident_id FROM chat_channels")
    return {f"{r[0]}:{r[1]}": str(r[2]) for r in rows}


def incident_channels(conn: sqlite3.Connection, incident_id: str) -> dict[str, str]:
    rows = conn.execute(
        "SELECT platform, channel FROM chat_channels WHERE incident_id = ?",
        (incident_id,),
    )
    return {str(r[0]): str(r[1]) for r in rows}


def requested_platforms(conn: sqlite3.Connection, incident_id: str) -> set[str]:
    """Platforms whose channel was asked for (opened or still queued)."""
    rows = conn.execute(
        "SELECT DISTINCT platform FROM outbox WHERE incident_id = ?"
        " AND kind = 'create_channel' AND state != 'cancelled'",
        (incident_id,),
    )
    return {str(r[0]) for r in rows} | set(incident_channels(conn, incident_id))


def first_opened(conn: sqlite3.Connection, platform: str) -> datetime | None:
    """When the platform's first channel was opened: where reading begins."""
    row = conn.execute(
        "SELECT min(opened_at) FROM chat_channels WHERE platform = ?", (platform,)
    ).fetchone()
    return parse_utc(row[0]) if row and row[0] else None


def position(conn: sqlite3.Connection, platform: str) -> str | None:
    row = conn.execute(
        "SELECT position FROM chat_positions WHERE platform = ?", (platform,)
    ).fetchone()
    return str(row[0]) if row else None


def save_position(
    conn: sqlite3.Connection, platform: str, value: str, *, now: datetime
) -> None:
    conn.execute(
        "INSERT INTO chat_positions (platform, position, saved_at) VALUES (?, ?, ?)"
        " ON CONFLICT (platform) DO UPDATE SET position = excluded.position,"
        " saved_at = excluded.saved_at",
        (platform, value, utc_iso(now)),
    )


def seen(conn: sqlite3.Connection, platform: str, remote_id: str) -> bool:
    return (
        conn.execute(
            "SELECT 1 FROM chat_seen WHERE platform = ? AND remote_id = ?",
            (platform, remote_id),
        ).fetchone()
        is not None
    )


def mark_seen(
    conn: sqlite3.Connection,
    platform: str,
    remote_id: str,
    incident_id: str,
    event_id: str | None,
) -> None:
    conn.execute(
        "INSERT OR IGNORE INTO chat_seen (platform, remote_id, incident_id, event_id)"
        " VALUES (?, ?, ?, ?)",
        (platform, remote_id, incident_id, event_id),
    )


def delivered_remote_ids(conn: sqlite3.Connection, platform: str) -> set[str]:
    """Ids of what we posted ourselves: read back, they are not news."""
    rows = conn.execute(
        "SELECT remote_id FROM outbox WHERE platform = ? AND remote_id != ''",
        (platform,),
    )
    return {str(r[0]) for r in rows}
