"""Seat sync without a network: how journal events are batched for Matrix, how
received batches are checked (power level, malformed entries, a seat bound to
another account), and what a round does when the homeserver is away."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mimdesk.connectors.errors import Permanent, Unreachable
from mimdesk.connectors.matrix_seats import (
    INCIDENT_TYPE,
    JOURNAL_TYPE,
    MAX_BATCH_BYTES,
    RoomEvent,
    SeatClient,
    SyncRound,
    batches,
    power_of,
    required_for,
    seat_power_levels,
    txn_id,
)
from mimdesk.domain import events as ev
from mimdesk.domain import hlc
from mimdesk.settings import SeatSettings
from mimdesk.store.store import Store
from mimdesk.sync.seat_sync import Received, SeatSync, parse_announcement, parse_batch

LEVELS = {
    "users": {"@a:hs": 100, "@b:hs": 50, "@wall:hs": 0},
    "users_default": 0,
    "events": {JOURNAL_TYPE: 50, INCIDENT_TYPE: 50},
}


def event(seat: str = "seat-b", text: str = "note", n: int = 1) -> ev.JournalEvent:
    now = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
    return ev.seal(
        ev.NewEvent(ev.NOTE_ADDED, {"text": text}, now, "bob"),
        seq=0,
        event_id=f"ev-{seat}-{n}",
        incident_id="INC-20261204-0001",
        incident_seq=n,
        recorded_at=now,
        seat=seat,
        prev_hash=ev.GENESIS_HASH,
        hlc=hlc.after(None, now),
    )


def sent(sender: str, entries: list[Any], remote: str = "$e1") -> RoomEvent:
    return RoomEvent("!room:hs", sender, remote, JOURNAL_TYPE, {"events": entries})


# --- batching -----------------------------------------------------------------


def test_batches_keep_the_order_and_at_most_forty_events() -> None:
    dicts = [ev.to_dict(event(n=n)) for n in range(1, 101)]

    cut = batches(dicts)

    assert [len(b) for b in cut] == [40, 40, 20]
    assert [e["id"] for b in cut for e in b] == [d["id"] for d in dicts]


def test_batches_stay_under_the_byte_budget() -> None:
    dicts = [ev.to_dict(event(text="x" * 5000, n=n)) for n in range(1, 31)]

    cut = batches(dicts)

    assert len(cut) > 1
    for batch in cut:
        assert len(json.dumps({"events": batch}).encode()) <= MAX_BATCH_BYTES


def test_an_event_too_large_for_one_matrix_event_is_permanent() -> None:
    with pytest.raises(Permanent, match="more than one Matrix event carries"):
        batches([ev.to_dict(event(text="x" * 60_000))])


def test_a_batch_sent_again_has_the_same_transaction_id() -> None:
    one = [ev.to_dict(event(n=n)) for n in range(1, 4)]
    other = [ev.to_dict(event(n=n)) for n in range(2, 5)]

    assert txn_id(one) == txn_id([dict(e) for e in one])
    assert txn_id(one) != txn_id(other)


# --- power levels ---------------------------------------------------------------


def test_power_levels_of_users_and_of_our_event_types() -> None:
    assert power_of(LEVELS, "@b:hs") == 50
    assert power_of(LEVELS, "@stranger:hs") == 0
    assert required_for(LEVELS, JOURNAL_TYPE) == 50
    # A room never set up for seats does not let everyone write.
    assert required_for({"events_default": 0}, JOURNAL_TYPE) == 50


def test_seat_power_levels_raise_writers_and_lower_nobody() -> None:
    levels = seat_power_levels({"users": {"@a:hs": 100}}, ["@a:hs", "@c:hs"])

    assert levels["users"] == {"@a:hs": 100, "@c:hs": 50}
    assert levels["events"] == {JOURNAL_TYPE: 50, INCIDENT_TYPE: 50}


# --- checking what arrives ----------------------------------------------------------


def test_a_writers_batch_is_taken() -> None:
    received = Received()

    parse_batch(
        sent("@b:hs", [ev.to_dict(event())]), levels=LEVELS, bindings={}, into=received
    )

    assert [e.id for e in received.by_account["@b:hs"]] == ["ev-seat-b-1"]
    assert received.refused == []


def test_a_batch_from_an_account_below_the_level_is_refused_whole() -> None:
    received = Received()
    batch = sent("@wall:hs", [ev.to_dict(event()), ev.to_dict(event(n=2))])

    parse_batch(batch, levels=LEVELS, bindings={}, into=received)

    assert received.by_account == {}
    [(remote, _room, sender, why)] = received.refused
    assert (remote, sender) == ("$e1", "@wall:hs")
    assert "power level 0" in why


def test_malformed_entries_are_refused_and_the_rest_taken() -> None:
    received = Received()
    broken = {**ev.to_dict(event(n=2)), "occurred_at": "yesterday"}
    entries = [ev.to_dict(event()), broken, "not an event", {"id": "x"}]

    parse_batch(sent("@b:hs", entries), levels=LEVELS, bindings={}, into=received)

    assert [e.id for e in received.by_account["@b:hs"]] == ["ev-seat-b-1"]
    assert [r[0] for r in received.refused] == ["$e1/ev-seat-b-2", "$e1/2", "$e1/x"]
    assert all("malformed" in r[3] for r in received.refused)


def test_a_seat_is_bound_to_the_first_account_heard_from() -> None:
    received = Received()
    bindings = {"seat-b": "@b:hs"}

    parse_batch(
        sent("@a:hs", [ev.to_dict(event())]),
        levels=LEVELS,
        bindings=bindings,
        into=received,
    )
    parse_batch(
        sent("@a:hs", [ev.to_dict(event(seat="seat-new"))], "$e2"),
        levels=LEVELS,
        bindings=bindings,
        into=received,
    )

    assert "bound to @b:hs, not @a:hs" in received.refused[0][3]
    assert [e.seat for e in received.by_account["@a:hs"]] == ["seat-new"]
    assert bindings["seat-new"] == "@a:hs"


def test_announcements_need_the_level_and_both_ids() -> None:
    received = Received()
    good = {"incident_id": "INC-1", "room_id": "!r:hs"}
    for sender, content, remote in (
        ("@b:hs", good, "$1"),
        ("@wall:hs", {"incident_id": "INC-2", "room_id": "!x:hs"}, "$2"),
        ("@b:hs", {"incident_id": "INC-3"}, "$3"),
    ):
        found = RoomEvent("!team:hs", sender, remote, INCIDENT_TYPE, content)
        parse_announcement(found, levels=LEVELS, into=received)

    assert received.rooms == {"INC-1": "!r:hs"}
    assert [r[0] for r in received.refused] == ["$2", "$3"]


# --- a round -------------------------------------------------------------------


class FakeMatrix(SeatClient):
    """The homeserver as far as a round sees it; `down` makes every call fail."""

    def __init__(self) -> None:
        super().__init__("http://hs.invalid", access_token="t", user_id="@a:hs")
        self.down = False
        self.sent: list[tuple[str, list[str]]] = []
        self.announced: list[str] = []

    def _up(self) -> None:
        if self.down:
            raise Unreachable("cannot reach Matrix at http://hs.invalid")

    def team_room(self, alias: str, **_kw: Any) -> str | None:
        self._up()
        return "!team:hs"

    def incident_room(self, incident_id: str, title: str, **_kw: Any) -> str:
        self._up()
        return f"!{incident_id}:hs"

    def send_journal(self, room_id: str, batch: Sequence[Mapping[str, Any]]) -> str:
        self._up()
        self.sent.append((room_id, [str(e["id"]) for e in batch]))
        return f"$batch{len(self.sent)}"

    def announce(self, team_room: str, incident_id: str, room_id: str) -> str:
        self._up()
        self.announced.append(incident_id)
        return "$announce"

    def sync_round(self, position: str | None, **_kw: Any) -> SyncRound:
        self._up()
        return SyncRound("s2")

    def joined_rooms(self) -> list[str]:
        return []


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    made = Store.open(tmp_path / "mimdesk.sqlite")
    yield made
    made.close()


def test_a_round_publishes_once_and_announces_the_new_incident(store: Store) -> None:
    matrix = FakeMatrix()
    sync = SeatSync(store, SeatSettings(enabled=True), lambda: matrix)
    incident_id = store.declare(
        title="DNS", severity=2, services=[], detected_at=None, actor="alice"
    ).result()

    sync.round()
    sync.round()

    ids = [e.id for e in store.timeline(incident_id)]
    assert matrix.sent == [(f"!{incident_id}:hs", ids)]
    assert matrix.announced == [incident_id]
    assert store.unpublished() == []
    assert sync.status().connected


def test_offline_keeps_events_unpublished_until_the_server_returns(
    store: Store,
) -> None:
    matrix = FakeMatrix()
    sync = SeatSync(store, SeatSettings(enabled=True), lambda: matrix)
    matrix.down = True
    store.declare(
        title="DNS", severity=2, services=[], detected_at=None, actor="alice"
    ).result()

    first, second = sync.round(), sync.round()

    status = sync.status()
    assert not status.connected
    assert status.offline_since is not None
    assert "cannot reach Matrix" in status.problem
    assert first is not None
    assert second is not None
    assert second > first  # backing off
    assert len(store.unpublished()) == 2
    matrix.down = False
    sync.round()
    assert store.unpublished() == []
    assert sync.status().connected


def test_a_wallboard_publishes_nothing(store: Store) -> None:
    matrix = FakeMatrix()
    sync = SeatSync(store, SeatSettings(enabled=True, role="wallboard"), lambda: matrix)
    store.declare(
        title="DNS", severity=2, services=[], detected_at=None, actor="alice"
    ).result()

    sync.round()

    assert matrix.sent == []
    assert sync.status().connected


def test_one_process_at_a_time_links_a_data_folder(store: Store) -> None:
    matrix = FakeMatrix()
    first = SeatSync(store, SeatSettings(enabled=True), lambda: matrix)
    second = SeatSync(store, SeatSettings(enabled=True), lambda: matrix)

    assert first.claim()
    assert not second.claim()
    assert "already links it to the other seats" in second.status().problem
    first.stop()
    assert second.claim()
    second.stop()
