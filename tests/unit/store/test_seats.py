"""Seats sharing incidents: other seats' events merged exactly as recorded, folded
in one order everywhere, every seat's chain checked, bad events refused."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mimdesk.domain import events as ev
from mimdesk.domain.lifecycle import Status
from mimdesk.store.store import Store

from .legacy import legacy_store

T0 = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)


class Clock:
    """A seat's wall clock: moves only when told, and may be wrong."""

    def __init__(self, at: datetime = T0) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def step(self, seconds: float = 1.0) -> None:
        self.at += timedelta(seconds=seconds)


@pytest.fixture
def seats(tmp_path: Path) -> Iterator[Callable[[str], tuple[Store, Clock]]]:
    opened: list[Store] = []

    def open_seat(name: str, at: datetime = T0) -> tuple[Store, Clock]:
        clock = Clock(at)
        store = Store.open(tmp_path / name / "mimdesk.sqlite", clock=clock)
        opened.append(store)
        return store, clock

    yield open_seat
    for store in opened:
        store.close()


def ship(source: Store, target: Store) -> Any:
    """What a seat publishes, as the other receives it (through JSON)."""
    wire = [ev.to_dict(e) for e in source.unpublished()]
    return target.merge([ev.from_dict(d) for d in wire], account="@a:test").result()


def shown(store: Store, incident_id: str) -> dict[str, Any]:
    return store.incident(incident_id).to_dict()


def declare(store: Store) -> str:
    return store.declare(
        title="Card payments failing", severity=2, services=["payments-api"],
        detected_at=None, actor="im",
    ).result()  # fmt: skip


def test_a_seat_shows_the_incident_another_declared(seats: Any) -> None:
    a, _ = seats("a")
    b, _ = seats("b")
    incident_id = declare(a)

    merged = ship(a, b)

    assert shown(b, incident_id) == shown(a, incident_id)
    assert [e.id for e in b.timeline(incident_id)] == [
        e.id for e in a.timeline(incident_id)
    ]
    assert len(merged.added) == 2
    assert merged.refused == ()
    assert [(s.seat, s.events) for s in b.seats()] == [(a.seat, 2)]
    assert b.verify() == []
    assert b.events_by_seat() == {a.seat: 2}


def test_journal_verify_names_each_seat_whose_chain_it_checked(
    seats: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mimdesk import cli

    a, _ = seats("a")
    b, _ = seats("b")
    incident_id = declare(a)
    ship(a, b)
    b.add_note(incident_id, "seen here too", actor="im").result()

    code = cli.main(["--data-dir", str(tmp_path / "b"), "--config",
                     str(tmp_path / "none.toml"), "journal", "verify"])  # fmt: skip

    assert code == 0
    assert capsys.readouterr().out.splitlines() == [
        "journal ok: 3 events, chain intact (the whole journal)",
        *sorted([
            f"  seat {a.seat}: 2 events, its chain intact",
            f"  seat {b.seat} (this seat): 1 event, its chain intact",
        ], key=lambda line: line.split()[1]),
    ]  # fmt: skip


def test_edits_made_apart_converge_and_both_stay_in_the_timeline(seats: Any) -> None:
    a, clock_a = seats("a")
    b, clock_b = seats("b", T0 - timedelta(minutes=3))  # b's clock is slow
    incident_id = declare(a)
    ship(a, b)
    a.mark_published([e.id for e in a.unpublished()], room="!r", remote_id="$1")

    clock_a.step()
    clock_b.step()
    a.change_severity(incident_id, 1, actor="alex").result()
    b.change_severity(incident_id, 3, actor="bea").result()
    ship(a, b)
    ship(b, a)

    assert shown(a, incident_id) == shown(b, incident_id)
    kinds = [
        (e.seat, e.payload["to"])
        for e in a.timeline(incident_id)
        if e.kind == ev.SEVERITY_CHANGED
    ]
    assert sorted(kinds) == sorted([(a.seat, 1), (b.seat, 3)])
    assert a.verify() == []
    assert b.verify() == []


def test_an_edit_made_after_seeing_another_sorts_after_it_whatever_the_clocks(
    seats: Any,
) -> None:
    a, _ = seats("a")
    b, _ = seats("b", T0 - timedelta(hours=2))  # b's clock is two hours slow
    incident_id = declare(a)
    ship(a, b)

    b.change_severity(incident_id, 4, actor="bea").result()
    ship(b, a)

    assert a.incident(incident_id).severity == 4
    assert b.incident(incident_id).severity == 4


def test_merging_the_same_events_again_changes_nothing(seats: Any) -> None:
    a, _ = seats("a")
    b, _ = seats("b")
    incident_id = declare(a)
    ship(a, b)
    before = (b.event_count(), shown(b, incident_id))

    again = ship(a, b)

    assert (b.event_count(), shown(b, incident_id)) == before
    assert again.added == ()
    assert again.known == 2


def test_an_event_that_comes_before_its_incident_waits_for_it(seats: Any) -> None:
    a, _ = seats("a")
    b, _ = seats("b")
    incident_id = declare(a)
    a.add_note(incident_id, "payments rerouted", actor="im").result()
    created, declared, note = a.timeline(incident_id)

    b.merge([note]).result()
    assert b.incidents() == []
    b.merge([declared, created]).result()

    assert shown(b, incident_id) == shown(a, incident_id)
    assert b.verify() == []


def _bad(event: ev.JournalEvent, own_seat: str) -> dict[str, ev.JournalEvent]:
    forged = replace(event, id="01FORGED0000000000000000AA", payload={"text": "ok"})
    return {
        "changed on the way": replace(event, payload={"text": "all fine"}),
        "claims this seat": replace(
            event, id="01OWNSEAT000000000000000AA", seat=own_seat
        ),
        "no stamp": replace(event, id="01NOSTAMP000000000000000AA", hlc=None),
        "stamp far ahead": replace(
            event, id="01AHEAD0000000000000000AA", hlc="9999999999999999-0000"
        ),
        "forged id": forged,
    }


def test_bad_events_are_refused_with_a_reason_and_change_nothing(seats: Any) -> None:
    a, _ = seats("a")
    b, _ = seats("b")
    incident_id = declare(a)
    ship(a, b)
    a.add_note(incident_id, "failover started", actor="im").result()
    note = a.timeline(incident_id)[-1]
    before = (b.event_count(), shown(b, incident_id))

    merged = b.merge(list(_bad(note, b.seat).values())).result()

    reasons = dict(merged.refused)
    assert len(reasons) == 5
    assert "hash does not match" in reasons[note.id]
    assert "claims to come from this seat" in reasons["01OWNSEAT000000000000000AA"]
    assert "no clock stamp" in reasons["01NOSTAMP000000000000000AA"]
    assert "runs a day or more ahead" in reasons["01AHEAD0000000000000000AA"]
    assert "hash does not match" in reasons["01FORGED0000000000000000AA"]
    assert (b.event_count(), shown(b, incident_id)) == before


def test_an_event_another_seat_lost_shows_as_a_break_in_its_chain(seats: Any) -> None:
    a, _ = seats("a")
    b, _ = seats("b")
    incident_id = declare(a)
    for text in ("one", "two", "three"):
        a.add_note(incident_id, text, actor="im").result()
    events = a.timeline(incident_id)

    b.merge(events[:3] + events[4:]).result()  # "two" never arrives

    problems = b.verify()
    assert [p.message.split(": ", 1)[1] for p in problems] == [
        f"does not link to the event before it in seat {a.seat}'s chain (removed "
        "or inserted, or not received from that seat yet)"
    ]
    b.merge([events[3]]).result()
    assert b.verify() == []


def test_an_older_store_keeps_its_chain_and_goes_on_per_seat(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old" / "mimdesk.sqlite"
    path.parent.mkdir()
    old = legacy_store(
        path, version=5, seat="seat-old1", now=T0,
        incidents={"INC-261203-AAAA": 2, "INC-261203-BBBB": 1},
    )  # fmt: skip
    clock = Clock(T0 + timedelta(minutes=5))
    store = Store.open(path, clock=clock)
    try:
        assert store.verify() == []
        before = store.incident("INC-261203-AAAA").to_dict()
        store.add_note("INC-261203-AAAA", "after the upgrade", actor="im").result()

        timeline = store.timeline("INC-261203-AAAA")
        assert [e.id for e in timeline[:-1]] == [
            e.id for e in old if e.incident_id == "INC-261203-AAAA"
        ]
        assert timeline[-1].prev_hash == timeline[-2].hash
        assert timeline[-1].incident_seq == 5
        assert store.incident("INC-261203-AAAA").note_count == before["note_count"] + 1
        assert store.verify() == []

        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("DROP TRIGGER journal_no_update")
        conn.execute("UPDATE journal SET actor = 'mallory' WHERE id = ?", (old[1].id,))
        conn.close()
        assert [p.message for p in store.verify()] == [
            "event #2: was changed after it was recorded (hash mismatch)"
        ]
    finally:
        store.close()


# --- any interleaving folds to the same state -----------------------------------


def _history(tmp_path: Path) -> tuple[str, list[ev.JournalEvent]]:
    """Three seats on one incident: shared creation, then edits made apart."""
    folder = tmp_path / "history"
    stores = []
    for n, skew in enumerate((0, 20, -90)):
        clock = Clock(T0 + timedelta(seconds=skew))
        stores.append((Store.open(folder / f"s{n}" / "db.sqlite", clock=clock), clock))
    try:
        (a, ca), (b, cb), (c, cc) = stores
        incident_id = declare(a)
        ship(a, b)
        ship(a, c)
        a.mark_published([e.id for e in a.unpublished()], room="!r", remote_id="$1")
        for clock in (ca, cb, cc):
            clock.step(10)
        a.change_severity(incident_id, 1, actor="a").result()
        b.change_severity(incident_id, 3, actor="b").result()
        c.change_severity(incident_id, 4, actor="c").result()
        b.change_status(incident_id, Status.MOBILISED, actor="b").result()
        c.add_note(incident_id, "vendor engaged", actor="c").result()
        ca.step(5)
        a.change_status(incident_id, Status.MITIGATED, actor="a").result()
        events = {e.id: e for s, _ in stores for e in s.timeline(incident_id)}
        return incident_id, list(events.values())
    finally:
        for store, _ in stores:
            store.close()


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[Any]]:
    return _history(tmp_path_factory.mktemp("seats"))


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_any_interleaving_of_the_same_events_folds_to_the_same_state(
    history: tuple[str, list[ev.JournalEvent]],
    tmp_path_factory: pytest.TempPathFactory,
    data: st.DataObject,
) -> None:
    incident_id, events = history
    order = data.draw(st.permutations(events))
    cuts = sorted(data.draw(st.sets(st.integers(1, len(events) - 1), max_size=4)))
    batches = [order[i:j] for i, j in zip([0, *cuts], [*cuts, len(order)], strict=True)]
    folder = tmp_path_factory.mktemp("fold")
    reference = Store.open(folder / "ref.sqlite", clock=Clock())
    shuffled = Store.open(folder / "mixed.sqlite", clock=Clock())
    try:
        reference.merge(events).result()
        for batch in batches:
            shuffled.merge(batch).result()
        assert shown(shuffled, incident_id) == shown(reference, incident_id)
        assert [e.id for e in shuffled.timeline(incident_id)] == [
            e.id for e in reference.timeline(incident_id)
        ]
        assert shuffled.verify() == []
    finally:
        reference.close()
        shuffled.close()


def _resealed(event: ev.JournalEvent, **changes: Any) -> ev.JournalEvent:
    """`event` changed and sealed again, as a writer with bad intent would."""
    changed = replace(event, **changes)
    return replace(
        changed, hash=ev.chain_hash(changed.prev_hash, changed.hashed_fields())
    )


def test_a_malformed_payload_is_refused_alone_however_the_events_are_batched(
    seats: Any,
) -> None:
    a, _ = seats("a")
    incident_id = declare(a)
    a.add_note(incident_id, "one", actor="im").result()
    a.change_severity(incident_id, 1, actor="im").result()
    a.add_note(incident_id, "two", actor="im").result()
    events = a.timeline(incident_id)
    note = events[2]
    severity = events[3]
    bad = [
        _resealed(note, id="01BADTEXT000000000000000AA", payload={"text": ["a"]}),
        _resealed(severity, id="01BADLEVEL00000000000000AA", payload={"to": {"a": 1}}),
        _resealed(note, id="01BADKIND000000000000000AA", kind=ev.TITLE_CHANGED,
                  payload={"to": None}),
        _resealed(note, id="01BADSTATUS0000000000000AA", kind=ev.STATUS_CHANGED,
                  payload={"from": "declared", "to": "nonsense", "skipped": [],
                           "reopened": False}),
    ]  # fmt: skip
    together, _ = seats("together")
    apart, _ = seats("apart")

    together.merge([*events, *bad]).result()
    for event in [*events, *bad]:
        apart.merge([event]).result()

    assert shown(together, incident_id) == shown(apart, incident_id)
    assert shown(together, incident_id) == shown(a, incident_id)
    assert [e.id for e in together.timeline(incident_id)] == [e.id for e in events]
    refused = dict(together.merge(bad).result().refused)
    assert "text is not a text" in refused["01BADTEXT000000000000000AA"]
    assert "to is not a severity" in refused["01BADLEVEL00000000000000AA"]
    assert "to is not a text" in refused["01BADKIND000000000000000AA"]
    assert "to is not a status" in refused["01BADSTATUS0000000000000AA"]


def test_a_date_beyond_the_calendar_is_a_malformed_event_not_a_crash(
    seats: Any,
) -> None:
    a, _ = seats("a")
    incident_id = declare(a)
    wire = ev.to_dict(a.timeline(incident_id)[0])

    with pytest.raises(ValueError, match="out of range"):
        ev.from_dict({**wire, "occurred_at": "9999-12-31T23:59:59-23:59"})
    with pytest.raises(ValueError, match="out of range"):
        ev.from_dict({**wire, "incident_seq": float("inf")})


def test_after_hearing_a_seat_whose_clock_runs_days_ahead_this_seat_is_believed(
    seats: Any,
) -> None:
    ahead, _ = seats("ahead", T0 + timedelta(days=3))
    a, clock_a = seats("a")
    b, _ = seats("b")
    incident_id = declare(ahead)
    ship(ahead, a)
    ship(ahead, b)
    ahead.mark_published([e.id for e in ahead.unpublished()], room="!r", remote_id="$1")

    clock_a.step()
    a.add_note(incident_id, "written after hearing the fast seat", actor="im").result()
    merged = ship(a, b)

    assert merged.refused == ()
    assert shown(a, incident_id) == shown(b, incident_id)
