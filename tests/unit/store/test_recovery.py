"""Case C32: a damaged store is refused untouched, read from a copy, and restored."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from mimdesk.domain.times import parse_utc
from mimdesk.store import backup, salvage
from mimdesk.store.db import StoreError, StoreReadOnly, quick_check
from mimdesk.store.lock import StoreInUse
from mimdesk.store.store import Store, StoreDamaged

T0 = parse_utc("2026-12-03T14:00:00Z")
NOTE = "Acquirer timeouts on the card gateway; failover under way. " * 8


@dataclass
class Damaged:
    """A store corrupted after a clean close, and what was saved before."""

    path: Path
    backups: Path
    incident_id: str
    newest_backup: Path
    notes_in_newest: int


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def corrupt_middle_pages(path: Path, pages: int = 4) -> None:
    """Overwrite whole pages in the middle of the file, as a torn write would."""
    data = path.read_bytes()
    page_size = int.from_bytes(data[16:18], "big")
    middle = len(data) // page_size // 2
    with path.open("r+b") as handle:
        handle.seek(middle * page_size)
        handle.write(b"\xde\xad\xbe\xef" * (page_size // 4) * pages)


def record_notes(store: Store, incident_id: str, count: int) -> None:
    futures = [store.add_note(incident_id, NOTE, actor="sam") for _ in range(count)]
    for future in futures:
        future.result()


@pytest.fixture
def damaged(tmp_path: Path) -> Damaged:
    path, backups = tmp_path / "mimdesk.sqlite", tmp_path / "backups"
    now = [T0]
    store = Store.open(path, clock=lambda: now[0])
    incident_id = store.declare(
        title="Card payments failing", severity=1, services=[], detected_at=None,
        actor="dana",
    ).result()  # fmt: skip
    record_notes(store, incident_id, 20)
    store.backup_now().result()
    now[0] += timedelta(hours=1)
    record_notes(store, incident_id, 20)
    newest = store.backup_now().result()
    record_notes(store, incident_id, 200)
    store.close()
    corrupt_middle_pages(path)
    return Damaged(path, backups, incident_id, newest, 40)


def test_a_damaged_store_is_refused_naming_the_newest_backup(
    damaged: Damaged,
) -> None:
    before = digest(damaged.path)

    with pytest.raises(StoreDamaged) as refused:
        Store.open(damaged.path, backups=damaged.backups)

    message = str(refused.value)
    assert message.startswith(f"The incident store {damaged.path} is damaged (")
    assert f"`mimdesk store restore {damaged.newest_backup}`" in message
    assert damaged.newest_backup.name == "mimdesk-20261203T150000+0000.sqlite"
    assert digest(damaged.path) == before


@pytest.fixture
def read_only_copy(damaged: Damaged, tmp_path: Path) -> Iterator[Store]:
    copy = backup.readonly_copy(damaged.path, tmp_path / "recovery", T0)
    store = Store(copy, read_only=True)
    yield store
    store.close()


def test_a_copy_of_a_damaged_store_can_be_read_but_not_changed(
    damaged: Damaged, read_only_copy: Store
) -> None:
    before = digest(damaged.path)

    titles = [i.title for i in read_only_copy.incidents()]

    assert titles == ["Card payments failing"]
    with pytest.raises(StoreReadOnly, match="is open read-only"):
        read_only_copy.add_note(damaged.incident_id, "x", actor="sam").result()
    with pytest.raises(StoreReadOnly):
        read_only_copy.rebuild().result()
    assert digest(damaged.path) == before


def test_restore_puts_the_backup_in_place_and_keeps_the_damaged_file(
    damaged: Damaged,
) -> None:
    before = digest(damaged.path)

    aside = backup.restore(damaged.newest_backup, damaged.path, T0)

    assert quick_check(damaged.path) == []
    assert digest(aside) == before
    store = Store.open(damaged.path, backups=damaged.backups)
    try:
        restored = store.incident(damaged.incident_id)
        assert restored.note_count == damaged.notes_in_newest
        assert store.verify() == []
    finally:
        store.close()


def test_rolling_backups_keep_only_the_newest(store: Store, tmp_path: Path) -> None:
    folder = tmp_path / "rolling"
    hours = [T0 + timedelta(hours=h) for h in range(5)]

    for now in hours:
        job = partial(backup.write_backup, folder=folder, now=now, keep=3)
        store.submit(job, transaction=False).result()

    names = [p.name for p in backup.list_backups(folder)]
    assert names == [f"mimdesk-{h:%Y%m%dT%H%M%S}+0000.sqlite" for h in hours[2:]]
    assert not backup.backup_due(folder, hours[-1] + timedelta(minutes=59))
    assert backup.backup_due(folder, hours[-1] + timedelta(minutes=60))


def synchronous(store: Store) -> Any:
    return store.submit(
        lambda conn: conn.execute("PRAGMA synchronous").fetchone()[0],
        transaction=False,
    ).result()


def test_synchronous_is_never_off(
    damaged: Damaged, tmp_path: Path, load_case: Any
) -> None:
    levels = {"normal": 1, "full": 2}
    allowed = {levels[n] for n in load_case("C32")["expected"]["allowed_synchronous"]}
    backup.restore(damaged.newest_backup, damaged.path, T0)

    for path in (damaged.path, tmp_path / "new" / "mimdesk.sqlite"):
        store = Store.open(path)
        try:
            assert synchronous(store) in allowed
            assert synchronous(store) == levels["full"]
        finally:
            store.close()


def test_a_store_with_no_backup_says_so(tmp_path: Path) -> None:
    path = tmp_path / "mimdesk.sqlite"
    Store.open(path).close()
    corrupt_middle_pages(path, pages=2)

    with pytest.raises(StoreDamaged, match="No backup was found"):
        Store.open(path)


def test_a_closed_store_is_complete_in_its_one_file(tmp_path: Path) -> None:
    path, copy = tmp_path / "mimdesk.sqlite", tmp_path / "copy" / "mimdesk.sqlite"
    store = Store.open(path)
    incident_id = store.declare(
        title="Logins slow", severity=2, services=[], detected_at=None, actor="sam"
    ).result()
    record_notes(store, incident_id, 5)
    assert store.incident(incident_id).note_count == 5
    store.close()
    copy.parent.mkdir()
    copy.write_bytes(path.read_bytes())

    reopened = Store(copy, read_only=True)
    try:
        assert reopened.incident(incident_id).note_count == 5
        assert reopened.event_count() == 7
    finally:
        reopened.close()


def test_restore_then_replay_recovers_what_the_damaged_file_still_holds(
    damaged: Damaged,
) -> None:
    aside = backup.restore(damaged.newest_backup, damaged.path, T0)

    result = salvage.replay(aside, damaged.path)

    store = Store.open(damaged.path, backups=damaged.backups)
    try:
        assert store.verify() == []
        notes = store.incident(damaged.incident_id).note_count
        assert notes == damaged.notes_in_newest + result.recovered
    finally:
        store.close()


@pytest.fixture
def restored_and_later(tmp_path: Path) -> tuple[Path, Path, str]:
    """A backup after 20 notes, and the live file 30 notes further on."""
    path = tmp_path / "mimdesk.sqlite"
    store = Store.open(path)
    incident_id = store.declare(
        title="Logins slow", severity=2, services=[], detected_at=None, actor="dana"
    ).result()
    record_notes(store, incident_id, 20)
    saved = store.backup_now().result()
    record_notes(store, incident_id, 30)
    store.close()
    aside = backup.restore(saved, path, T0)
    return path, aside, incident_id


def test_every_later_event_of_a_readable_file_comes_back_unchanged(
    restored_and_later: tuple[Path, Path, str],
) -> None:
    path, aside, incident_id = restored_and_later
    original = Store(aside, read_only=True)
    expected = original.timeline(incident_id)
    original.close()

    result = salvage.replay(aside, path)

    store = Store.open(path)
    try:
        assert result == salvage.Salvage(30, None)
        assert store.timeline(incident_id) == expected
        assert store.verify() == []
    finally:
        store.close()


def test_replay_stops_at_an_event_that_breaks_the_chain(
    restored_and_later: tuple[Path, Path, str],
) -> None:
    path, aside, incident_id = restored_and_later
    raw = sqlite3.connect(aside, isolation_level=None)
    raw.execute("DROP TRIGGER journal_no_update")
    raw.execute("UPDATE journal SET actor = 'mallory' WHERE seq = 33")
    raw.close()

    result = salvage.replay(aside, path)

    assert result.recovered == 10  # events #23 to #32
    assert result.stopped == "event #33 does not continue the restored chain"
    store = Store.open(path)
    try:
        assert store.incident(incident_id).note_count == 30
        assert store.verify() == []
    finally:
        store.close()


def test_replay_from_garbage_recovers_nothing_and_says_why(
    restored_and_later: tuple[Path, Path, str], tmp_path: Path
) -> None:
    path, _, _ = restored_and_later
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"not a database at all" * 100)

    result = salvage.replay(garbage, path)

    assert result.recovered == 0
    assert result.stopped is not None
    assert "unreadable" in result.stopped


def test_two_restores_in_one_second_keep_both_previous_files(
    restored_and_later: tuple[Path, Path, str],
) -> None:
    path, first_aside, _ = restored_and_later
    saved = sorted((path.parent / "backups").glob("*.sqlite"))[-1]

    second_aside = backup.restore(saved, path, T0)  # same `now` as the first

    assert second_aside != first_aside
    assert first_aside.exists()
    assert second_aside.exists()


def test_restore_is_refused_while_the_store_is_open(tmp_path: Path) -> None:
    path = tmp_path / "mimdesk.sqlite"
    store = Store.open(path)
    try:
        saved = store.backup_now().result()
        before = digest(path)

        with pytest.raises(StoreInUse, match="open in another MIMDesk"):
            backup.restore(saved, path, T0)

        assert digest(path) == before
    finally:
        store.close()


@pytest.mark.parametrize("kind", ["itself", "missing", "other database", "empty"])
def test_restore_refuses_what_is_not_a_backup_and_changes_nothing(
    tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "mimdesk.sqlite"
    store = Store.open(path)
    store.declare(
        title="t", severity=2, services=[], detected_at=None, actor="a"
    ).result()
    store.close()
    candidate = {
        "itself": path,
        "missing": tmp_path / "nope.sqlite",
        "other database": tmp_path / "other.sqlite",
        "empty": tmp_path / "empty.sqlite",
    }[kind]
    if kind == "other database":
        other = sqlite3.connect(candidate)
        other.execute("CREATE TABLE x (y)")
        other.close()
    if kind == "empty":
        candidate.write_bytes(b"")
    before = digest(path)

    with pytest.raises(StoreError):
        backup.restore(candidate, path, T0)

    assert digest(path) == before
    assert list(tmp_path.glob("*-replaced-*")) == []
