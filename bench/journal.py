"""Journal append throughput: mimdesk's store against a bare sqlite3 loop, same run.

Both commit once per event with WAL and synchronous=FULL, in one temporary folder
on the same disk. Prints events/s for each and the ratio; the target is at least
half the bare rate. Exits 0 unless something crashes.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from pathlib import Path

from mimdesk.domain.events import GENESIS_HASH, canonical_json
from mimdesk.store.store import Store

TARGET = 0.5
NOTE = "Card authorisation errors at 38%; acquirer timeouts; failover started"


def store_rate(folder: Path, events: int) -> float:
    """Events/s through the store's writer, each append awaited (one commit each)."""
    store = Store.open(folder / "mimdesk.sqlite")
    try:
        incident_id = store.declare(
            title="Bench", severity=3, services=[], detected_at=None, actor="bench"
        ).result()
        start = time.perf_counter()
        for n in range(events):
            store.add_note(incident_id, f"{NOTE} #{n}", actor="bench").result()
        return events / (time.perf_counter() - start)
    finally:
        store.close()


def bare_rate(folder: Path, events: int) -> float:
    """Events/s for a plain insert-and-commit loop with the same pragmas."""
    conn = sqlite3.connect(folder / "bare.sqlite", isolation_level=None)
    try:
        conn.execute("PRAGMA busy_timeout = 5000")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute(
            "CREATE TABLE events (seq INTEGER PRIMARY KEY, body TEXT, hash TEXT)"
        )
        start = time.perf_counter()
        for n in range(events):
            body = canonical_json({"text": f"{NOTE} #{n}"})
            conn.execute("BEGIN IMMEDIATE")
            conn.execute(
                "INSERT INTO events (body, hash) VALUES (?, ?)", (body, GENESIS_HASH)
            )
            conn.execute("COMMIT")
        return events / (time.perf_counter() - start)
    finally:
        conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000, help="default 10,000")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mimdesk-bench-") as tmp:
        folder = Path(tmp)
        bare = bare_rate(folder, args.events)
        ours = store_rate(folder, args.events)
    ratio = ours / bare
    verdict = "PASS" if ratio >= TARGET else "BELOW TARGET"
    print(f"journal append, {args.events:,} events, one commit each (WAL, FULL)")
    print(f"  bare sqlite3   {bare:10,.0f} events/s")
    print(f"  mimdesk store  {ours:10,.0f} events/s")
    print(f"  ratio          {ratio:10.2f}  (target >= {TARGET}) {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
