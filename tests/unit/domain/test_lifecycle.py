"""Moving an incident through its lifecycle: milestones, skips, reopenings, times."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from mimdesk.domain.errors import DomainError
from mimdesk.domain.incident import (
    Incident,
    Milestone,
    change_status,
    declare,
    describe,
)
from mimdesk.domain.lifecycle import Status, parse_status
from mimdesk.domain.times import parse_utc

from ..recording import Recorder

T0 = parse_utc("2026-12-03T14:00:00Z")


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def declared(recorder: Recorder) -> Recorder:
    """Card payments failing: detected at minute 0, declared at minute 5."""
    drafts = declare(
        title="Card payments failing",
        severity=1,
        services=["payments-api"],
        detected_at=at(0),
        declared_at=at(5),
        now=at(5),
        actor="dana",
    )
    recorder.record(drafts, at(5))
    return recorder


def move(rec: Recorder, target: Status, minutes: float) -> Incident:
    """Record the move to `target` at `minutes`, typed at that moment."""
    drafts = change_status(
        rec.incident, target, at=at(minutes), now=at(minutes), actor="dana"
    )
    return rec.record(drafts, at(minutes))


def test_forward_moves_record_each_milestone(declared: Recorder) -> None:
    move(declared, Status.MOBILISED, 12)
    incident = move(declared, Status.MITIGATED, 31)

    assert incident.status is Status.MITIGATED
    assert incident.reached(Status.DETECTED) == at(0)
    assert incident.reached(Status.DECLARED) == at(5)
    assert incident.reached(Status.MOBILISED) == at(12)
    assert incident.reached(Status.MITIGATED) == at(31)
    assert incident.reached(Status.RESOLVED) is None


def test_skipped_milestones_are_recorded_as_not_reached(declared: Recorder) -> None:
    incident = move(declared, Status.RESOLVED, 40)

    assert incident.reached(Status.RESOLVED) == at(40)
    for status in (Status.MOBILISED, Status.MITIGATED):
        assert incident.milestones[status] == Milestone(None, skipped=True)
    text = describe(declared.events[-1])
    assert text == "status declared → resolved (not reached: mobilised, mitigated)"


def test_moving_back_is_a_reopening_that_clears_later_milestones(
    declared: Recorder,
) -> None:
    move(declared, Status.MOBILISED, 12)
    move(declared, Status.MITIGATED, 20)
    resolved = move(declared, Status.RESOLVED, 30)
    incident = move(declared, Status.MOBILISED, 45)

    assert resolved.elapsed(at(45)) == timedelta(minutes=30)
    assert incident.status is Status.MOBILISED
    assert incident.is_open
    assert incident.reopen_count == 1
    assert incident.reached(Status.MOBILISED) == at(12)
    assert Status.MITIGATED not in incident.milestones
    assert Status.RESOLVED not in incident.milestones
    assert incident.elapsed(at(60)) == timedelta(minutes=60)
    assert describe(declared.events[-1]) == "reopened: status resolved → mobilised"


def test_reopening_to_a_skipped_status_reaches_it_then(declared: Recorder) -> None:
    move(declared, Status.RESOLVED, 30)
    incident = move(declared, Status.MITIGATED, 50)

    assert incident.milestones[Status.MITIGATED] == Milestone(at(50))
    assert incident.milestones[Status.MOBILISED] == Milestone(None, skipped=True)


def test_a_move_after_a_reopening_cannot_be_dated_before_it(
    declared: Recorder,
) -> None:
    move(declared, Status.RESOLVED, 30)
    move(declared, Status.DECLARED, 50)  # payments failing again

    with pytest.raises(DomainError, match="earlier than the move to declared"):
        change_status(
            declared.incident, Status.MITIGATED, at=at(40), now=at(60), actor="x"
        )
    assert move(declared, Status.MITIGATED, 55).reached(Status.MITIGATED) == at(55)


def test_the_same_status_is_refused(declared: Recorder) -> None:
    with pytest.raises(DomainError, match="already declared"):
        change_status(
            declared.incident, Status.DECLARED, at=at(9), now=at(9), actor="x"
        )


@pytest.mark.parametrize("target", [Status.MOBILISED, Status.CLOSED])
def test_a_time_before_earlier_milestones_is_refused(
    declared: Recorder, target: Status
) -> None:
    with pytest.raises(DomainError, match="cannot be earlier"):
        change_status(declared.incident, target, at=at(4), now=at(9), actor="x")


def test_a_reopening_before_the_last_milestone_is_refused(declared: Recorder) -> None:
    move(declared, Status.RESOLVED, 30)

    with pytest.raises(DomainError, match="reopening cannot be earlier"):
        change_status(
            declared.incident, Status.MOBILISED, at=at(29), now=at(40), actor="x"
        )


@pytest.mark.parametrize(("ahead_s", "accepted"), [(59, True), (60, True), (61, False)])
def test_times_more_than_a_minute_ahead_are_refused(
    declared: Recorder, ahead_s: int, accepted: bool
) -> None:
    now = at(20)
    when = now + timedelta(seconds=ahead_s)

    if accepted:
        (event,) = change_status(
            declared.incident, Status.MOBILISED, at=when, now=now, actor="x"
        )
        assert event.occurred_at == when
    else:
        with pytest.raises(DomainError, match="in the future"):
            change_status(
                declared.incident, Status.MOBILISED, at=when, now=now, actor="x"
            )


@pytest.mark.parametrize(
    ("text", "status"), [(" Mobilized ", Status.MOBILISED), ("CLOSED", Status.CLOSED)]
)
def test_status_names_are_read_leniently(text: str, status: Status) -> None:
    assert parse_status(text) is status


def test_an_unknown_status_lists_the_real_ones() -> None:
    with pytest.raises(DomainError, match="detected, declared, mobilised, mitigated"):
        parse_status("fixed")


def test_a_time_more_than_a_year_back_is_refused_as_a_typo(declared: Recorder) -> None:
    from mimdesk.domain.incident import add_note

    with pytest.raises(DomainError, match="more than a year before now"):
        add_note(
            declared.incident,
            "x",
            now=at(9),
            actor="x",
            at=parse_utc("0001-01-01T00:00:00Z"),
        )


def test_undo_goes_back_without_counting_as_a_reopening(declared: Recorder) -> None:
    move(declared, Status.MITIGATED, 20)

    drafts = change_status(
        declared.incident,
        Status.DECLARED,
        at=at(21),
        now=at(21),
        actor="dana",
        undo=True,
    )
    incident = declared.record(drafts, at(21))

    assert incident.status is Status.DECLARED
    assert incident.reopen_count == 0
    assert describe(declared.events[-1]).startswith("undone: status mitigated")
