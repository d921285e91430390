"""Incident state: folded from its events, serialised, and checked when declared."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from mimdesk.domain import incident as model
from mimdesk.domain.errors import DomainError
from mimdesk.domain.events import NewEvent
from mimdesk.domain.incident import Incident
from mimdesk.domain.lifecycle import Status
from mimdesk.domain.times import parse_utc

from ..recording import Recorder

T0 = parse_utc("2026-12-03T14:00:00.123456Z")


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def declare(**changes: object) -> list[NewEvent]:
    fields: dict[str, object] = {
        "title": "Card payments failing",
        "severity": 1,
        "services": ["payments-api"],
        "detected_at": at(0),
        "now": at(2),
        "actor": "dana",
        "known_services": {"payments-api", "identity", "core-banking"},
    }
    fields.update(changes)
    return model.declare(**fields)  # type: ignore[arg-type]


def run(rec: Recorder, minutes: float, command: Any, *args: Any, **kw: Any) -> None:
    """Run a domain command at `minutes` and record what it decides."""
    drafts = command(rec.incident, *args, now=at(minutes), actor="dana", **kw)
    rec.record(drafts, at(minutes))


@pytest.fixture
def story(recorder: Recorder) -> Recorder:
    """An incident with notes, a skipped milestone, a reopening and a new title."""
    recorder.record(declare(), at(2))
    run(recorder, 4, model.add_note, "Acquirer timeouts")
    run(recorder, 9, model.change_status, Status.MITIGATED, at=at(9))
    run(recorder, 10, model.change_severity, 2)
    run(recorder, 20, model.change_status, Status.RESOLVED, at=at(20))
    run(recorder, 25, model.change_status, Status.MITIGATED, at=at(25), reason="back")
    run(recorder, 26, model.change_title, "Card payments failing (EU)")
    run(recorder, 27, model.add_note, "Back-dated call", at=at(3))
    return recorder


def test_folding_the_events_gives_the_state_kept_along_the_way(story: Recorder) -> None:
    for count, state in enumerate(story.states, start=1):
        assert model.fold(story.events[:count]) == state

    incident = story.incident
    assert incident.title == "Card payments failing (EU)"
    assert (incident.severity, incident.status) == (2, Status.MITIGATED)
    assert (incident.note_count, incident.reopen_count) == (2, 1)
    assert incident.reached(Status.MOBILISED) is None
    assert Status.RESOLVED not in incident.milestones


def test_the_timeline_puts_a_back_dated_note_where_it_happened(story: Recorder) -> None:
    texts = [model.describe(e) for e in model.in_time_order(story.events)]

    assert texts[:3] == [
        "incident opened: SEV1 Card payments failing (payments-api)",
        "status detected → declared",
        "Back-dated call",
    ]


def test_state_survives_a_round_trip_through_json(story: Recorder) -> None:
    stored = json.dumps(story.incident.to_dict())

    assert Incident.from_dict(json.loads(stored)) == story.incident


@pytest.mark.parametrize("title", ["", "   ", "\t\n"])
def test_an_incident_needs_a_title(title: str) -> None:
    with pytest.raises(DomainError, match="needs a title"):
        declare(title=title)


def test_titles_are_tidied() -> None:
    created = declare(title="  Card   payments\tfailing ")[0]

    assert created.payload["title"] == "Card payments failing"


@pytest.mark.parametrize("severity", [0, 5, True, -1])
def test_severity_must_be_one_to_four(severity: int) -> None:
    with pytest.raises(DomainError, match="severity must be 1, 2, 3 or 4"):
        declare(severity=severity)


def test_an_unknown_service_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(DomainError) as refused:
        declare(services=["payments-api", "billing"])

    assert str(refused.value) == (
        "unknown service billing; the catalogue has: core-banking, identity, "
        "payments-api"
    )


def test_detection_cannot_be_in_the_future() -> None:
    with pytest.raises(DomainError, match=r"detection time .* is in the future"):
        declare(detected_at=at(10), now=at(5))
