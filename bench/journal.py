"""Journal append throughput: mimdesk's store against bare sqlite3, same run.

Every append is one durable commit (WAL, synchronous=FULL) in one temporary folder.
The runs alternate in rounds so that disk and machine noise hit all of them alike;
the medians of the rounds are compared. Two baselines are printed:

- bare: a plain insert-and-commit loop into a one-table database with the same
  pragmas. The target is mimdesk >= 0.5 of this rate.
- same rows: bare sqlite3 writing the same journal rows into a table with the same
  indexes, so the gap to it is what mimdesk's own code costs (hash chain, read
  model, writer thread).

Exits 0 unless something crashes.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ulid import ULID

from mimdesk.domain.events import GENESIS_HASH, canonical_json
from mimdesk.store.store import Store

TARGET = 0.5
NOTE = "Card authorisation errors at 38%; acquirer timeouts; failover started"


def _durable(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA busy_timeout = 5000")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    return conn


class Bare:
    """One table, one insert per commit."""

    def __init__(self, folder: Path) -> None:
        self.conn = _durable(folder / "bare.sqlite")
        self.conn.execute("CREATE TABLE events (seq INTEGER PRIMARY KEY, body TEXT)")

    def append(self, n: int) -> None:
        self.conn.execute("BEGIN IMMEDIATE")
        self.conn.execute(
            "INSERT INTO events (body) VALUES (?)",
            (canonical_json({"text": f"{NOTE} #{n}"}),),
        )
        self.conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()


class SameRows(Bare):
    """The journal's table and indexes, written directly."""

    def __init__(self, folder: Path) -> None:
        self.conn = _durable(folder / "rows.sqlite")
        self.conn.execute(
            "CREATE TABLE journal (seq INTEGER PRIMARY KEY, id TEXT NOT NULL,"
            " incident_id TEXT NOT NULL, incident_seq INTEGER NOT NULL,"
            " kind TEXT NOT NULL, payload TEXT NOT NULL, actor TEXT NOT NULL,"
            " occurred_at TEXT NOT NULL, recorded_at TEXT NOT NULL,"
            " prev_hash TEXT NOT NULL, hash TEXT NOT NULL)"
        )
        self.conn.execute("CREATE UNIQUE INDEX j_id ON journal (id)")
        self.conn.execute(
            "CREATE UNIQUE INDEX j_inc ON journal (incident_id, incident_seq)"
        )

    def append(self, n: int) -> None:
        now = "2026-12-03T14:00:00.000000Z"
        self.conn.execute("BEGIN IMMEDIATE")
        self.conn.execute(
            "INSERT INTO journal (id, incident_id, incident_seq, kind, payload, actor,"
            " occurred_at, recorded_at, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                str(ULID()),
                "INC-261203-BNCH",
                n,
                "incident.note_added",
                canonical_json({"text": f"{NOTE} #{n}"}),
                "bench",
                now,
                now,
                GENESIS_HASH,
                GENESIS_HASH,
            ),
        )
        self.conn.execute("COMMIT")


class Mimdesk:
    """Notes appended through the store, each awaited: one commit each."""

    def __init__(self, folder: Path) -> None:
        self.store = Store.open(folder / "mimdesk.sqlite")
        self.incident = self.store.declare(
            title="Bench", severity=3, services=[], detected_at=None, actor="bench"
        ).result()

    def append(self, n: int) -> None:
        self.store.add_note(self.incident, f"{NOTE} #{n}", actor="bench").result()

    def close(self) -> None:
        self.store.close()


def _rate(append: Callable[[int], None], start: int, count: int) -> float:
    began = time.perf_counter()
    for n in range(start, start + count):
        append(n)
    return count / (time.perf_counter() - began)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000, help="default 10,000")
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    per_round = max(1, args.events // args.rounds)
    with tempfile.TemporaryDirectory(prefix="mimdesk-bench-") as tmp:
        runners = {"bare": Bare(Path(tmp)), "rows": SameRows(Path(tmp))}
        runners["mimdesk"] = Mimdesk(Path(tmp))  # type: ignore[assignment]
        rates: dict[str, list[float]] = {name: [] for name in runners}
        try:
            for r in range(args.rounds):
                for name, runner in runners.items():
                    rates[name].append(_rate(runner.append, r * per_round, per_round))
        finally:
            for runner in runners.values():
                runner.close()
    bare, rows, ours = (
        statistics.median(rates[k]) for k in ("bare", "rows", "mimdesk")
    )
    ratio = ours / bare
    verdict = "PASS" if ratio >= TARGET else "BELOW TARGET"
    total = per_round * args.rounds
    print(f"journal append: {total:,} events each, one commit each (WAL, FULL),")
    print(f"  {args.rounds} alternating rounds, median events/s")
    print(f"  bare sqlite3, one table       {bare:8,.0f}")
    print(f"  bare sqlite3, journal rows    {rows:8,.0f}")
    print(f"  mimdesk store                 {ours:8,.0f}")
    print(
        f"  ratio to bare                 {ratio:8.2f}  (target >= {TARGET}) {verdict}"
    )
    print(f"  ratio to the same rows        {ours / rows:8.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
