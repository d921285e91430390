"""Stores as older versions wrote them: an older schema, and a journal chained
through the whole store with no clock stamps, built row by row as those versions
did, so upgrades are tested on the real thing and not on today's code."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path

from ulid import ULID

from mimdesk.domain import events as ev
from mimdesk.domain import incident as model
from mimdesk.store import schema
from mimdesk.store.journal import save_incident

OLD_COLUMNS = (
    "seq, id, incident_id, incident_seq, kind, payload, actor, occurred_at, "
    "typed_offset, recorded_at, seat, prev_hash, hash"
)


def legacy_store(
    path: Path,
    *,
    version: int,
    seat: str,
    now: datetime,
    incidents: dict[str, int],
) -> list[ev.JournalEvent]:
    """A store at schema `version` holding each incident (id -> number of
    notes), declared and noted in turn, one chain through all of them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN")
        for migration in schema.MIGRATIONS[:version]:
            migration(conn)
        conn.execute(f"PRAGMA user_version = {version}")
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('seat', ?), ('created_at', ?)",
            (seat, now.isoformat()),
        )
        written: list[ev.JournalEvent] = []
        prev = ev.GENESIS_HASH
        at = now
        for incident_id, notes in incidents.items():
            drafts = model.declare(
                title=f"Older incident {incident_id}", severity=2, services=[],
                detected_at=at, now=at, actor="old",
            )  # fmt: skip
            drafts += [
                ev.NewEvent(ev.NOTE_ADDED, {"text": f"note {n}"}, at, "old")
                for n in range(notes)
            ]
            state = None
            for number, draft in enumerate(drafts, start=1):
                at += timedelta(seconds=1)
                event = ev.seal(
                    draft, seq=len(written) + 1, event_id=str(ULID()),
                    incident_id=incident_id, incident_seq=number, recorded_at=at,
                    seat=seat, prev_hash=prev,
                )  # fmt: skip
                assert event.hlc is None
                fields = event.hashed_fields()
                conn.execute(
                    f"INSERT INTO journal ({OLD_COLUMNS}) VALUES "
                    "(?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        event.seq, event.id, event.incident_id, event.incident_seq,
                        event.kind, ev.canonical_json(fields["payload"]),
                        event.actor, fields["occurred_at"], event.typed_offset,
                        fields["recorded_at"], event.seat, event.prev_hash,
                        event.hash,
                    ),
                )  # fmt: skip
                state = model.apply(state, event)
                written.append(event)
                prev = event.hash
            assert state is not None
            save_incident(conn, state, written[-1].seq)
        conn.execute("COMMIT")
    finally:
        conn.close()
    return written
