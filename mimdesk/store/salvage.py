"""Recovering the events a backup misses from the damaged file it replaces.

A restored backup is a prefix of the same journal. Whatever the damaged file
still lets us read after that prefix, and whose hash chain links on from it, is
appended exactly as it was recorded: same ids, same sequence, same hashes.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from mimdesk.domain import events as ev
from mimdesk.store import journal
from mimdesk.store.db import connect

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Salvage:
    """How many events came back, and why the replay stopped if it stopped early."""

    recovered: int
    stopped: str | None = None


def _later_events(source: Path, after: int) -> tuple[list[ev.JournalEvent], str | None]:
    """Events after `after`, read until the file stops making sense."""
    found: list[ev.JournalEvent] = []
    try:
        conn = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        return found, f"cannot open {source}: {exc}"
    try:
        rows = conn.execute(
            f"SELECT {journal.COLUMNS} FROM journal WHERE seq > ? ORDER BY seq",
            (after,),
        )
        for row in rows:
            found.append(journal.row_event(row))
    except (sqlite3.Error, ValueError, TypeError) as exc:
        last = after + len(found)
        return found, f"the damaged file is unreadable after event #{last}: {exc}"
    finally:
        conn.close()
    return found, None


def replay(source: Path, target: Path) -> Salvage:
    """Append to the store at `target` what `source` holds beyond it, chain intact."""
    conn = connect(target)
    try:
        seq, tail_hash = journal.tail(conn)
        candidates, stopped = _later_events(source, seq)
        accepted: list[ev.JournalEvent] = []
        links: dict[tuple[str, str], str] = {}  # (incident, seat) -> last hash
        for event in candidates:
            key = (event.incident_id, event.seat)
            if event.hlc is None:
                link = tail_hash
            else:
                link = links.get(key) or journal.seat_tail(conn, *key)
            fits = event.seq == seq + 1 and event.prev_hash == link
            if not fits or not event.sealed_correctly():
                stopped = f"event #{event.seq} does not continue the restored chain"
                break
            accepted.append(event)
            seq, tail_hash, links[key] = event.seq, event.hash, event.hash
        conn.execute("BEGIN IMMEDIATE")
        try:
            for event in accepted:
                journal.insert_verbatim(conn, event)
            journal.rebuild(conn)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        conn.close()
    log.warning(
        "salvage: %d event(s) recovered from %s (%s)", len(accepted), source, stopped
    )
    return Salvage(len(accepted), stopped)
