"""The single-file incident archive: exact round trip, verification, tampering."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mimdesk import archive
from mimdesk.domain.events import JournalEvent
from mimdesk.store.store import Store

from .incident_journal import T0, build


@pytest.fixture
def journal(tmp_path: Path) -> list[JournalEvent]:
    """The incident's events, with another incident's interleaved in the store."""
    path = tmp_path / "data" / "mimdesk.sqlite"
    incident_id = build(path)
    store = Store.open(path)
    try:
        other = store.declare(
            title="Logins slow", severity=3, services=[], detected_at=None,
            actor="sam",
        ).result()  # fmt: skip
        store.add_note(other, "unrelated", actor="sam").result()
        store.add_note(incident_id, "review booked", actor="lee").result()
        return store.timeline(incident_id)
    finally:
        store.close()


@pytest.fixture
def exported(tmp_path: Path, journal: list[JournalEvent]) -> Path:
    path = tmp_path / "INC.mimdesk.json"
    archive.write(path, journal, seat="control-room", now=T0)
    return path


def edit(path: Path, change: Any) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(json.dumps(data), encoding="utf-8")


def test_the_archive_round_trips_exactly(
    exported: Path, journal: list[JournalEvent]
) -> None:
    read = archive.read(exported)

    assert list(read.events) == journal
    assert [e.hash for e in read.events] == [e.hash for e in journal]
    assert read.seat == "control-room"
    assert read.incident().title == "Card payments failing at checkout"
    assert archive.verify(read) == []


def test_an_edited_payload_is_found(exported: Path) -> None:
    edit(exported, lambda d: d["events"][3]["payload"].update(person="mallory"))

    problems = archive.verify(archive.read(exported))

    assert problems[0].endswith("was changed after it was recorded (hash mismatch)")


def test_a_removed_event_is_found_even_with_its_hash_gone_from_the_digest(
    exported: Path,
) -> None:
    def drop(data: dict[str, Any]) -> None:
        del data["events"][5]

    edit(exported, drop)

    problems = archive.verify(archive.read(exported))

    assert any(
        p.startswith("event #7: does not link to the event before it in seat ")
        and p.endswith("(events removed or inserted)")
        for p in problems
    )
    assert "the digest over the events' hashes does not match" in problems


def test_a_dropped_last_event_breaks_the_digest(exported: Path) -> None:
    edit(exported, lambda d: d["events"].pop())

    assert archive.verify(archive.read(exported)) == [
        "the digest over the events' hashes does not match"
    ]


def test_events_adjacent_in_the_store_must_still_link(exported: Path) -> None:
    def relink(data: dict[str, Any]) -> None:
        data["events"][2]["prev_hash"] = "0" * 64

    edit(exported, relink)

    problems = archive.verify(archive.read(exported))

    assert any("does not link to the event before it" in p for p in problems)


def test_something_else_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.json"
    path.write_text('{"format": "other/1"}', encoding="utf-8")

    with pytest.raises(
        archive.ArchiveError, match=r"not a mimdesk\.incident_archive/1"
    ):
        archive.read(path)
