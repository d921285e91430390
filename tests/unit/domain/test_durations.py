"""Incident durations: from milestones, live while running, never invented."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from mimdesk.domain.durations import Durations, Measure, durations
from mimdesk.domain.incident import Incident, change_status, declare
from mimdesk.domain.lifecycle import Status
from mimdesk.domain.times import format_duration, parse_utc

from ..recording import Recorder

T0 = parse_utc("2026-12-03T14:00:00Z")
LONDON = ZoneInfo("Europe/London")


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def minutes(count: float) -> timedelta:
    return timedelta(minutes=count)


def opened(rec: Recorder, detected: datetime, declared: datetime) -> Incident:
    drafts = declare(
        title="Card payments failing",
        severity=1,
        services=[],
        detected_at=detected,
        declared_at=declared,
        now=declared,
        actor="dana",
    )
    return rec.record(drafts, declared)


def move(rec: Recorder, target: Status, minute: float) -> Incident:
    drafts = change_status(
        rec.incident, target, at=at(minute), now=at(minute), actor="x"
    )
    return rec.record(drafts, at(minute))


def test_a_fresh_incident_acknowledged_and_running(recorder: Recorder) -> None:
    incident = opened(recorder, at(0), at(4))

    now = durations(incident, at(10))

    assert now == Durations(
        time_to_acknowledge=Measure(minutes(4)),
        time_to_mobilise=Measure(minutes(6), running=True),
        time_to_mitigate=Measure(minutes(10), running=True),
        time_to_resolve=Measure(minutes(10), running=True),
    )


def test_a_resolved_incident_has_final_durations(recorder: Recorder) -> None:
    opened(recorder, at(0), at(4))
    move(recorder, Status.MOBILISED, 17)
    move(recorder, Status.MITIGATED, 52)
    incident = move(recorder, Status.RESOLVED, 95)

    now = durations(incident, at(10_000))

    assert now == Durations(
        time_to_acknowledge=Measure(minutes(4)),
        time_to_mobilise=Measure(minutes(13)),
        time_to_mitigate=Measure(minutes(52)),
        time_to_resolve=Measure(minutes(95)),
    )


def test_skipped_milestones_give_no_duration(recorder: Recorder) -> None:
    opened(recorder, at(0), at(4))
    incident = move(recorder, Status.RESOLVED, 40)

    now = durations(incident, at(60))

    assert now.time_to_mobilise is None
    assert now.time_to_mitigate is None
    assert now.time_to_resolve == Measure(minutes(40))


def test_mitigated_stops_mitigation_but_not_mobilisation(recorder: Recorder) -> None:
    """Mitigated without going through mobilised: mobilisation was skipped."""
    opened(recorder, at(0), at(4))
    incident = move(recorder, Status.MITIGATED, 30)

    now = durations(incident, at(45))

    assert now.time_to_mobilise is None
    assert now.time_to_mitigate == Measure(minutes(30))
    assert now.time_to_resolve == Measure(minutes(45), running=True)


def test_a_reopening_sets_the_resolution_clock_running_again(
    recorder: Recorder,
) -> None:
    opened(recorder, at(0), at(4))
    move(recorder, Status.MITIGATED, 30)
    move(recorder, Status.RESOLVED, 50)
    incident = move(recorder, Status.MITIGATED, 70)

    now = durations(incident, at(80))

    assert now.time_to_mitigate == Measure(minutes(30))
    assert now.time_to_resolve == Measure(minutes(80), running=True)


def test_c29_durations_across_the_dst_change_are_exact(
    recorder: Recorder, load_case: Any
) -> None:
    """Detected 01:50 BST, declared 01:58 BST, now 01:20 GMT (the clocks went
    back in between): 8 min to acknowledge, 30 min running, never -30 min."""
    case = load_case("C29")
    detected = parse_utc(case["milestones_utc"]["detected"])
    declared = parse_utc(case["milestones_utc"]["acknowledged"])
    now = parse_utc(case["now_utc"])
    local_now = now.astimezone(LONDON)
    local_detected = detected.astimezone(LONDON)
    naive = local_now.replace(tzinfo=None) - local_detected.replace(tzinfo=None)
    incident = opened(recorder, detected, declared)

    measured = durations(incident, now)

    assert (local_detected.tzname(), local_now.tzname()) == ("BST", "GMT")
    assert format_duration(naive) == case["expected"]["naive_local_result_to_avoid"]
    assert measured.time_to_acknowledge == Measure(minutes(8))
    assert measured.time_to_mitigate is not None
    elapsed = format_duration(measured.time_to_mitigate.value)
    assert elapsed == case["expected"]["elapsed_since_detected"]
