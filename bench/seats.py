"""A seat catching up through a real Synapse after a day offline, against bare
requests reading the same Matrix events, same run.

Starts Synapse on loopback with its rate limits raised. Seat A records N journal
events (notes on a few incidents) and publishes them (untimed). Then, in
rounds, each with fresh accounts:
- MIMDesk: a new seat with an empty store runs SeatSync.sync_once() until it
  holds all N events: the team room read from its start, the announced rooms
  joined and read, every batch checked, parsed and merged into SQLite;
- baseline: one requests.Session with another new account does the same HTTP
  work (joined rooms, the team room from its start, join and page through every
  announced room) and decodes the JSON, keeping nothing.

Prints both times per round, the medians, the ratio MIMDesk / baseline (target
at most 1.5), and tracemalloc's memory before, after and at the peak of one
more, untimed, catch-up (tracing allocations slows the code it traces). A lost
or doubled event fails the run (exit status 1).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mimdesk.connectors.matrix_seats import INCIDENT_TYPE, JOURNAL_TYPE, SeatClient
from mimdesk.settings import SeatSettings
from mimdesk.store.store import Store
from mimdesk.sync.seat_sync import SeatSync
from tests.integration.synapse import Account, Synapse, homeserver

TARGET = 1.5
API = "/_matrix/client/v3"
TEAM = "#bench-seats:localhost"
INCIDENTS = 20
MB = 1024 * 1024


class BenchFailed(Exception):
    """The run cannot be trusted: events were lost or doubled."""


def _record(store: Store, events: int) -> None:
    """About `events` journal events on INCIDENTS incidents, on seat A."""
    ids = [
        store.declare(
            title=f"Bench incident {n}", severity=2, services=[], detected_at=None,
            actor="bench",
        ).result()
        for n in range(INCIDENTS)
    ]  # fmt: skip
    held = store.event_count()
    last = None
    for n in range(events - held):
        incident_id = ids[n % len(ids)]
        text = f"status check {n}: error rate falling, next look in 10 minutes"
        last = store.add_note(incident_id, text, actor="bench")
    if last is not None:
        last.result()


def _seat(folder: Path, server: Synapse, account: Account, writers: Any) -> SeatSync:
    store = Store.open(folder / "mimdesk.sqlite")
    client = SeatClient(
        server.url, access_token=account.access_token, user_id=account.user_id
    )
    settings = SeatSettings(enabled=True, team_room=TEAM, writers=tuple(writers))
    return SeatSync(store, settings, lambda: client)


def _ours(folder: Path, server: Synapse, writers: list[str], expected: int) -> float:
    account = server.register("catch-up")
    _invite(server, writers, account)
    sync = _seat(folder, server, account, writers)
    store = sync.store
    start = time.perf_counter()
    while store.event_count() < expected:
        if not sync.sync_once():
            raise BenchFailed(f"stuck at {store.event_count()} of {expected} events")
    took = time.perf_counter() - start
    held = store.event_count()
    sync.stop()
    store.close()
    if held != expected:
        raise BenchFailed(f"the seat holds {held} events, {expected} were published")
    return took


def _bare(server: Synapse, writers: list[str], expected: int) -> float:
    account = server.register("bare")
    _invite(server, writers, account)
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {account.access_token}"

    def call(method: str, path: str, **kw: Any) -> dict[str, Any]:
        answer = session.request(method, server.url + API + path, timeout=30, **kw)
        answer.raise_for_status()
        body: dict[str, Any] = answer.json()
        return body

    def read(room: str) -> list[dict[str, Any]]:
        params = {"dir": "f", "limit": "200"}
        found: list[dict[str, Any]] = []
        while True:
            page = call("GET", f"/rooms/{quote(room, safe='')}/messages", params=params)
            found += page["chunk"]
            if not page["chunk"] or "end" not in page:
                return found
            params["from"] = page["end"]

    start = time.perf_counter()
    call("GET", "/joined_rooms")
    team = call("GET", f"/directory/room/{quote(TEAM, safe='')}")["room_id"]
    call("POST", f"/rooms/{quote(team, safe='')}/join", json={})
    rooms = [e["content"]["room_id"] for e in read(team) if e["type"] == INCIDENT_TYPE]
    events = 0
    for room in rooms:
        call("POST", f"/rooms/{quote(room, safe='')}/join", json={})
        for e in read(room):
            if e["type"] == JOURNAL_TYPE:
                events += len(e["content"]["events"])
    took = time.perf_counter() - start
    session.close()
    if events != expected:
        raise BenchFailed(f"bare read {events} events, {expected} were published")
    return took


def _invite(server: Synapse, writers: list[str], account: Account) -> None:
    """Seat A's account invites the newcomer to the team room."""
    first = writers[0]
    token = _tokens[first]
    room = requests.get(
        f"{server.url}{API}/directory/room/{quote(TEAM, safe='')}", timeout=10
    ).json()["room_id"]
    requests.post(
        f"{server.url}{API}/rooms/{quote(room, safe='')}/invite",
        json={"user_id": account.user_id},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    ).raise_for_status()


_tokens: dict[str, str] = {}


def _run(folder: Path, events: int, rounds: int) -> dict[str, list[float]]:
    server = homeserver(folder / "synapse", relaxed=True)
    times: dict[str, list[float]] = {"mimdesk": [], "bare": []}
    try:
        server.start()
        a = server.register("seat-a")
        _tokens[a.user_id] = a.access_token
        writers = [a.user_id]
        publisher = _seat(folder / "a", server, a, writers)
        _record(publisher.store, events)
        expected = publisher.store.event_count()
        publisher.publish_once()
        publisher.stop()
        publisher.store.close()
        print(f"  seat A published {expected:,} events (untimed)")
        for n in range(rounds):
            times["bare"].append(_bare(server, writers, expected))
            times["mimdesk"].append(_ours(folder / f"b{n}", server, writers, expected))
            print(
                f"  round {n + 1}: mimdesk {times['mimdesk'][-1]:6.2f} s, "
                f"bare {times['bare'][-1]:6.2f} s"
            )
        # Apart from the timed rounds: tracing allocations slows them down.
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        _ours(folder / "traced", server, writers, expected)
        after, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(
            f"  memory (tracemalloc, one more catch-up): before {before / MB:.1f} MB,"
            f" after {after / MB:.1f} MB, peak {peak / MB:.1f} MB"
        )
    finally:
        server.stop()
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000, help="default 10,000")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(f"seat catching up through Synapse: {args.events:,} journal events")
    with tempfile.TemporaryDirectory(prefix="mimdesk-bench-") as tmp:
        try:
            times = _run(Path(tmp), args.events, args.rounds)
        except BenchFailed as exc:
            print(f"seats: FAILED: {exc}")
            return 1
    ours, bare = statistics.median(times["mimdesk"]), statistics.median(times["bare"])
    ratio = ours / bare
    verdict = "PASS" if ratio <= TARGET else "MISS"
    print(f"  median: mimdesk {ours:.2f} s, bare requests {bare:.2f} s")
    print(f"  ratio {ratio:.2f} (target <= {TARGET}) {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
