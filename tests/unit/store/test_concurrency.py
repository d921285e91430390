"""Case C30: two writers and a polling reader share a store; nothing is locked out."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mimdesk.domain.events import NOTE_ADDED
from mimdesk.store import db
from mimdesk.store import store as store_module
from mimdesk.store.store import Store


@pytest.fixture
def c30(load_case: Any) -> dict[str, Any]:
    case: dict[str, Any] = load_case("C30")
    return case


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """The read_only flag of every connection the store opens."""
    flags: list[bool] = []

    def counting_connect(
        path: Path, *, read_only: bool = False, immutable: bool = False
    ) -> sqlite3.Connection:
        flags.append(read_only)
        return db.connect(path, read_only=read_only, immutable=immutable)

    monkeypatch.setattr(store_module, "connect", counting_connect)
    return flags


@pytest.fixture
def shared(tmp_path: Path, c30: dict[str, Any], opened: list[bool]) -> Iterator[Store]:
    store = Store.open(tmp_path / c30["db_path"])
    yield store
    store.close()


class Workload:
    """Writer threads appending notes and a reader polling the incident list."""

    def __init__(self, store: Store, incident_id: str) -> None:
        self.store = store
        self.incident_id = incident_id
        self.errors: list[BaseException] = []
        self.seen_notes: list[int] = []
        self.writers_done = threading.Event()

    def write(self, name: str, rows: int) -> None:
        try:
            for n in range(rows):
                self.store.add_note(
                    self.incident_id, f"{name} {n}", actor=name
                ).result()
        except Exception as exc:  # noqa: BLE001 - reported by the test
            self.errors.append(exc)

    def poll(self, interval_s: float) -> None:
        try:
            while True:
                self.seen_notes.append(self.store.incidents()[0].note_count)
                if self.writers_done.wait(interval_s):
                    return
        except Exception as exc:  # noqa: BLE001 - reported by the test
            self.errors.append(exc)

    def run(self, writers: list[dict[str, Any]], poll_ms: int) -> None:
        reader = threading.Thread(target=self.poll, args=(poll_ms / 1000,))
        threads = [
            threading.Thread(target=self.write, args=(w["name"], w["rows"]))
            for w in writers
        ]
        reader.start()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.writers_done.set()
        reader.join()


def test_two_writers_and_a_reader_lose_nothing(
    shared: Store, c30: dict[str, Any], opened: list[bool]
) -> None:
    incident_id = shared.declare(
        title="Alert storm", severity=1, services=[], detected_at=None, actor="im"
    ).result()
    writers, expected = c30["workload"]["writers"], c30["expected"]

    load = Workload(shared, incident_id)
    load.run(writers, c30["workload"]["readers"][0]["poll_ms"])

    locked = [e for e in load.errors if isinstance(e, sqlite3.OperationalError)]
    assert len(locked) == expected["operational_errors"]
    assert load.errors == []
    timeline = shared.timeline(incident_id)
    notes = [e.payload["text"] for e in timeline if e.kind == NOTE_ADDED]
    assert len(notes) == expected["rows"]
    assert set(notes) == {f"{w['name']} {n}" for w in writers for n in range(w["rows"])}
    assert shared.incident(incident_id).note_count == expected["rows"]
    assert load.seen_notes
    assert load.seen_notes == sorted(load.seen_notes)
    assert shared.verify() == []
    assert opened.count(False) == expected["writer_connections"]
    names = [t.name for t in threading.enumerate()]
    assert [n for n in names if n.startswith("store-writer")] == [
        "store-writer:incidents.db"
    ]
