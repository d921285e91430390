"""Outbox drain into a real Synapse, against a bare requests loop, same run.

Starts Synapse on loopback with its rate limits raised and registers one user,
then alternates, in rounds, each into a fresh room:
- MIMDesk: N chat messages queued through the store for a new incident whose
  room was opened first (untimed), then OutboxSender.run_once() until nothing is
  queued: reading the due rows, one PUT per message with its transaction id,
  and one durable commit per attempt;
- baseline: the same N texts, with the same event content (text and outbox
  marker), PUT one after another by one requests.Session into a room made by
  the raw API, with the same access token.

Both rooms are then read back through /messages: every message must be there
exactly once and in order, else the run fails (exit status 1). Prints messages/s
per round, both medians and the ratio MIMDesk / baseline; target: at least 0.8.
A ratio under the target is reported and does not change the exit status.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mimdesk.connectors.matrix import OUTBOX_KEY, MatrixClient
from mimdesk.store.store import Store
from mimdesk.sync.chat_status import ChatHealth
from mimdesk.sync.outbox_sender import OutboxSender
from tests.integration.synapse import Account, homeserver

TARGET = 0.8
API = "/_matrix/client/v3"
TIMEOUT_S = 30.0
# A drain that takes longer than this is stuck (a retry loop), not slow.
DRAIN_LIMIT_S = 600.0
WARM_UP = 50
PAGE = 500
ACTOR = "bench"
UPDATE = "card authorisation errors at 38%; acquirer timeouts; failover started"

# (outbox marker, text) of each message, oldest first.
Expected = list[tuple[str, str]]


class BenchFailed(Exception):
    """The run cannot be trusted: something was lost, doubled or stuck."""


@dataclass(frozen=True)
class Sent:
    """One side of one round: where the messages went and how fast."""

    room: str
    expected: Expected
    event_ids: list[str]
    seconds: float

    @property
    def rate(self) -> float:
        return len(self.expected) / self.seconds


def _texts(count: int, round_no: int) -> list[str]:
    return [f"Update {round_no}.{n:04d}: {UPDATE}" for n in range(count)]


def _session(account: Account) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {account.access_token}"
    return session


def _call(
    session: requests.Session, url: str, method: str, path: str, **kw: Any
) -> dict[str, Any]:
    answer = session.request(method, url + API + path, timeout=TIMEOUT_S, **kw)
    answer.raise_for_status()
    body: dict[str, Any] = answer.json()
    return body


def _room_path(room: str) -> str:
    return f"/rooms/{quote(room, safe='')}"


# --- MIMDesk ---------------------------------------------------------------------


def _drain(store: Store, sender: OutboxSender) -> None:
    """run_once() until nothing is queued; a row needing the operator fails."""
    deadline = time.monotonic() + DRAIN_LIMIT_S
    while True:
        wait = sender.run_once()
        left = store.outbox_waiting()
        if not left.queued:
            return
        if left.needs_operator:
            raise BenchFailed(f"{left.needs_operator} outbox row(s) failed")
        if time.monotonic() > deadline:
            raise BenchFailed(f"{left.queued} outbox row(s) still queued")
        time.sleep(min(wait, 1.0))


def _mimdesk(store: Store, url: str, account: Account, texts: Sequence[str]) -> Sent:
    def factory() -> MatrixClient:
        return MatrixClient(
            url, access_token=account.access_token, user_id=account.user_id
        )

    sender = OutboxSender(store, {"matrix": factory}, ChatHealth())
    try:
        incident = store.declare(
            title="Card payments failing", severity=1, services=[],
            detected_at=None, actor=ACTOR,
        ).result()  # fmt: skip
        store.open_chat(incident, ["matrix"], actor=ACTOR, invites={}).result()
        _drain(store, sender)
        room = store.chat_channel(incident, "matrix")
        if room is None:
            raise BenchFailed(f"{incident} has no Matrix room after the drain")
        queued = [store.post_chat(incident, t, ["matrix"], actor=ACTOR) for t in texts]
        for future in queued:
            future.result()
        rows = store.outbox_open()

        start = time.perf_counter()
        _drain(store, sender)
        seconds = time.perf_counter() - start
    finally:
        sender.stop()
    expected = [(row.txn_id, str(row.payload["text"])) for row in rows]
    event_ids = [store.outbox_item(row.id).remote_id for row in rows]
    return Sent(room, expected, event_ids, seconds)


# --- baseline --------------------------------------------------------------------


def _bare(url: str, account: Account, texts: Sequence[str]) -> Sent:
    session = _session(account)
    try:
        body = {"preset": "private_chat", "name": "Card payments failing"}
        room = str(_call(session, url, "POST", "/createRoom", json=body)["room_id"])
        send = url + API + _room_path(room) + "/send/m.room.message/"
        tag = secrets.token_hex(8)
        expected = [(f"bare-{tag}-{n:05d}", text) for n, text in enumerate(texts)]
        event_ids = []

        start = time.perf_counter()
        for txn, text in expected:
            content = {"msgtype": "m.text", "body": text, OUTBOX_KEY: txn}
            answer = session.put(send + txn, json=content, timeout=TIMEOUT_S)
            answer.raise_for_status()
            event_ids.append(str(answer.json()["event_id"]))
        seconds = time.perf_counter() - start
    finally:
        session.close()
    return Sent(room, expected, event_ids, seconds)


# --- reading back ------------------------------------------------------------------


def _messages(session: requests.Session, url: str, room: str) -> list[dict[str, Any]]:
    """Every m.room.message of `room`, oldest first, paging back from the end."""
    params = {
        "dir": "b",
        "limit": str(PAGE),
        "filter": json.dumps({"types": ["m.room.message"]}),
    }
    newest_first: list[dict[str, Any]] = []
    while True:
        page = _call(session, url, "GET", _room_path(room) + "/messages", params=params)
        chunk = page.get("chunk") or []
        newest_first += chunk
        end = page.get("end")
        if not chunk or not end or end == params.get("from"):
            return newest_first[::-1]
        params["from"] = str(end)


def _check(session: requests.Session, url: str, side: str, sent: Sent) -> None:
    """Every message once, in order, with the event ids the sender was given."""
    events = _messages(session, url, sent.room)
    got = [(e["content"].get(OUTBOX_KEY, ""), e["content"].get("body")) for e in events]
    if got != sent.expected:
        raise BenchFailed(f"{side}: {_difference(got, sent.expected)} in {sent.room}")
    if [e["event_id"] for e in events] != sent.event_ids:
        raise BenchFailed(f"{side}: event ids read back differ from those recorded")


def _difference(got: list[tuple[str, Any]], expected: Expected) -> str:
    markers = [g[0] for g in got]
    doubled = len(markers) - len(set(markers))
    missing = len({e[0] for e in expected} - set(markers))
    pairs = enumerate(zip(got, expected, strict=False))
    first = next((n for n, (a, b) in pairs if a != b), min(len(got), len(expected)))
    return (
        f"{len(got):,} messages read back for {len(expected):,} sent "
        f"({missing:,} missing, {doubled:,} doubled, first difference at #{first})"
    )


# --- the run -------------------------------------------------------------------------


def _round(
    sides: Mapping[str, Callable[[], Sent]], mimdesk_first: bool
) -> dict[str, Sent]:
    order = ["mimdesk", "bare"] if mimdesk_first else ["bare", "mimdesk"]
    return {side: sides[side]() for side in order}


def _rounds(
    store: Store, url: str, account: Account, messages: int, rounds: int
) -> dict[str, list[float]]:
    reader = _session(account)
    rates: dict[str, list[float]] = {"mimdesk": [], "bare": []}
    for n in range(-1, rounds):  # the pass before round 1 warms up, unchecked
        texts = _texts(WARM_UP if n < 0 else messages, n + 1)
        sides = {
            "mimdesk": partial(_mimdesk, store, url, account, texts),
            "bare": partial(_bare, url, account, texts),
        }
        sent = _round(sides, mimdesk_first=n % 2 == 0)
        if n < 0:
            continue
        for side, done in sent.items():
            _check(reader, url, side, done)
            rates[side].append(done.rate)
        print(
            f"  round {n + 1}: mimdesk {sent['mimdesk'].rate:7,.0f} msg/s,"
            f" bare {sent['bare'].rate:7,.0f} msg/s"
        )
    reader.close()
    return rates


def _run(folder: Path, messages: int, rounds: int) -> dict[str, list[float]]:
    server = homeserver(folder / "synapse", relaxed=True)
    try:
        server.start()
        account = server.register("bench")
        store = Store.open(folder / "mimdesk.sqlite")
        try:
            return _rounds(store, server.url, account, messages, rounds)
        finally:
            store.close()
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000, help="default 1,000")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    print(
        f"outbox drain into Synapse: {args.messages:,} messages a side a round, "
        f"{args.rounds} alternating rounds"
    )
    with tempfile.TemporaryDirectory(prefix="mimdesk-bench-") as tmp:
        try:
            rates = _run(Path(tmp), args.messages, args.rounds)
        except BenchFailed as exc:
            print(f"outbox: FAILED: {exc}")
            return 1
    ours, bare = statistics.median(rates["mimdesk"]), statistics.median(rates["bare"])
    ratio = ours / bare
    verdict = "PASS" if ratio >= TARGET else "MISS"
    print("  every message arrived once, in order, in every room")
    print(
        f"  median: mimdesk outbox {ours:7,.0f} msg/s, bare requests {bare:7,.0f} msg/s"
    )
    print(f"  ratio {ratio:.2f} (target >= {TARGET}) {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
