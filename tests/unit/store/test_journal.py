"""The incident journal: chained, append-only, verifiable, and the source of truth."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from mimdesk.domain import events as ev
from mimdesk.domain.lifecycle import Status
from mimdesk.store.journal import IncidentNotFound, JournalTruncated
from mimdesk.store.store import Store


def add_notes(store: Store, incident_id: str, count: int) -> None:
    for n in range(count):
        store.add_note(incident_id, f"update {n}", actor="sam").result()


def whole_journal(store: Store) -> list[ev.JournalEvent]:
    ids = [i.id for i in store.incidents()]
    return sorted((e for i in ids for e in store.timeline(i)), key=lambda e: e.seq)


def test_each_event_links_to_the_one_its_seat_recorded_before_on_its_incident(
    store: Store, incident_id: str
) -> None:
    other = store.declare(
        title="Logins slow", severity=2, services=[], detected_at=None, actor="sam"
    ).result()
    add_notes(store, incident_id, 3)
    add_notes(store, other, 2)

    events = whole_journal(store)

    assert [e.seq for e in events] == list(range(1, 10))
    for iid in (incident_id, other):
        chain = [e for e in events if e.incident_id == iid]
        assert chain[0].prev_hash == ev.GENESIS_HASH
        for before, event in pairwise(chain):
            assert event.prev_hash == before.hash
            assert event.hlc is not None
            assert before.hlc is not None
            assert event.hlc > before.hlc
        assert {e.seat for e in chain} == {store.seat}
    for event in events:
        assert event.hash == ev.chain_hash(event.prev_hash, event.hashed_fields())
    assert store.verify() == []


@pytest.mark.parametrize(
    "sql",
    [
        'UPDATE journal SET payload = \'{"text":"all fine"}\' WHERE seq = 3',
        "DELETE FROM journal WHERE seq = 3",
    ],
)
def test_the_journal_refuses_changes(
    store: Store, incident_id: str, raw: sqlite3.Connection, sql: str
) -> None:
    add_notes(store, incident_id, 2)

    with pytest.raises(sqlite3.IntegrityError, match="the journal is append-only"):
        raw.execute(sql)

    assert store.event_count() == 4
    assert store.verify() == []


def test_an_edited_event_is_found_and_named(
    store: Store, incident_id: str, raw: sqlite3.Connection
) -> None:
    add_notes(store, incident_id, 3)
    raw.execute("DROP TRIGGER journal_no_update")
    raw.execute('UPDATE journal SET payload = \'{"text":"all fine"}\' WHERE seq = 4')

    problems = store.verify()

    assert [(p.seq, p.incident_id) for p in problems] == [(4, incident_id)]
    assert problems[0].message == (
        "event #4: was changed after it was recorded (hash mismatch), "
        f"seat {store.seat}"
    )
    assert store.verify(incident_id) == problems


def test_a_deleted_event_shows_as_missing_and_a_broken_link(
    store: Store, incident_id: str, raw: sqlite3.Connection
) -> None:
    add_notes(store, incident_id, 3)
    raw.execute("DROP TRIGGER journal_no_delete")
    raw.execute("DELETE FROM journal WHERE seq = 3")

    messages = [p.message for p in store.verify()]

    assert "event #4: events #3 to #3 are missing" in messages
    assert (
        f"event #4: does not link to the event before it in seat {store.seat}'s "
        "chain (removed or inserted, or not received from that seat yet)"
    ) in messages
    assert any("cached state differs from the journal" in m for m in messages)


def test_a_read_model_row_deleted_outright_is_found(
    store: Store, incident_id: str, raw: sqlite3.Connection
) -> None:
    raw.execute("DELETE FROM incidents WHERE id = ?", (incident_id,))

    messages = [p.message for p in store.verify()]

    assert messages == [
        f"{incident_id}: cached state differs from the journal; "
        "run `mimdesk journal rebuild`"
    ]


def test_verifying_an_unknown_incident_says_so(store: Store, incident_id: str) -> None:
    with pytest.raises(IncidentNotFound, match="no incident INC-000000-XXXX"):
        store.verify("inc-000000-xxxx")


def test_rebuilding_gives_the_read_model_appends_kept(
    store: Store, incident_id: str, raw: sqlite3.Connection
) -> None:
    earlier = datetime.now(UTC) - timedelta(hours=1)
    other = store.declare(
        title="Logins slow", severity=3, services=[], detected_at=earlier, actor="sam"
    ).result()
    add_notes(store, incident_id, 2)
    store.change_status(incident_id, Status.RESOLVED, actor="dana").result()
    store.change_status(incident_id, Status.MITIGATED, actor="dana").result()
    store.change_severity(other, 2, actor="sam").result()
    kept = store.incidents()
    raw.execute("DELETE FROM incidents")
    assert store.incidents() == []

    assert store.rebuild().result() == 2

    assert store.incidents() == kept
    assert [i.id for i in kept] == [incident_id, other]
    assert (kept[0].note_count, kept[0].reopen_count) == (2, 1)
    assert store.verify() == []


def test_a_deleted_tail_is_named_and_rebuild_refuses_to_hide_it(
    store: Store, incident_id: str, raw: sqlite3.Connection
) -> None:
    add_notes(store, incident_id, 3)  # events #1 to #5
    raw.execute("DROP TRIGGER journal_no_delete")
    raw.execute("DELETE FROM journal WHERE seq = 5")

    messages = [p.message for p in store.verify()]

    assert messages == [
        f"{incident_id}: events up to #5 were recorded but the journal ends after "
        "event #4: events were removed; do not rebuild, restore a backup "
        "(`mimdesk store restore`)"
    ]
    with pytest.raises(JournalTruncated, match="events were removed"):
        store.rebuild().result()
    assert store.rebuild(force=True).result() == 1
    assert store.verify() == []


def test_two_stores_opened_at_once_on_a_new_file_both_work(tmp_path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    path = tmp_path / "new.sqlite"
    with ThreadPoolExecutor(4) as pool:
        stores = list(pool.map(lambda _: Store.open(path), range(4)))
    try:
        for n, opened in enumerate(stores):
            opened.declare(
                title=f"t{n}", severity=2, services=[], detected_at=None, actor="a"
            ).result()
        assert len(stores[0].incidents()) == 4
    finally:
        for opened in stores:
            opened.close()
