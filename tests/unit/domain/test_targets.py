"""Milestone targets: time left, amber near the end, red when overdue, met or missed."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from mimdesk.domain.incident import Incident, change_severity, change_status, declare
from mimdesk.domain.lifecycle import Status
from mimdesk.domain.targets import (
    DEFAULT_POLICY,
    FIRST_UPDATE,
    Level,
    SeverityTargets,
    Target,
    TargetPolicy,
    TargetState,
    running_level,
    target_states,
)
from mimdesk.domain.times import parse_utc

from ..recording import Recorder

T0 = parse_utc("2026-12-03T14:00:00Z")


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def minutes(count: float) -> timedelta:
    return timedelta(minutes=count)


def opened(rec: Recorder, declared_min: float, severity: int = 1) -> Incident:
    """Card payments failing: detected at minute 0, declared at `declared_min`."""
    drafts = declare(
        title="Card payments failing",
        severity=severity,
        services=["payments-api"],
        detected_at=at(0),
        declared_at=at(declared_min),
        now=at(declared_min),
        actor="dana",
    )
    return rec.record(drafts, at(declared_min))


def move(rec: Recorder, target: Status, minute: float) -> Incident:
    drafts = change_status(
        rec.incident, target, at=at(minute), now=at(minute), actor="x"
    )
    return rec.record(drafts, at(minute))


def state_of(
    incident: Incident,
    end: str,
    now_min: float,
    policy: TargetPolicy = DEFAULT_POLICY,
    first_update_min: float | None = None,
) -> TargetState:
    """The state of the default target that ends at milestone `end`."""
    first = None if first_update_min is None else at(first_update_min)
    states = target_states(incident, policy, at(now_min), first_update_at=first)
    (state,) = [s for s in states if s.target.end == end]
    return state


def test_sev1_defaults_are_the_issue_targets() -> None:
    labels = [t.label for t in DEFAULT_POLICY.targets_for(1)]

    assert labels == [
        "declared within 15 min of detected",
        "mobilised within 15 min of declared",
        "first update within 30 min of declared",
    ]
    assert DEFAULT_POLICY.cadence[1] == minutes(30)


def test_declared_in_time_is_met_with_the_time_to_spare(recorder: Recorder) -> None:
    state = state_of(opened(recorder, 5), Status.DECLARED, now_min=40)

    assert state.level is Level.MET
    assert state.due == at(15)
    assert state.reached_at == at(5)
    assert state.met_by == minutes(10)
    assert state.time_left is None
    assert state.overdue_by is None


def test_declared_late_is_missed_by_the_lateness(recorder: Recorder) -> None:
    state = state_of(opened(recorder, 22), Status.DECLARED, now_min=30)

    assert state.level is Level.MISSED
    assert state.overdue_by == minutes(7)
    assert state.met_by is None


@pytest.mark.parametrize(
    ("now_min", "level", "left_min"),
    [
        (5, Level.OK, 15),
        (14.9, Level.OK, 5.1),
        (15, Level.AMBER, 5),  # 5 min: longer than the last 20 % (3 min)
        (20, Level.AMBER, 0),
        (20.5, Level.RED, -0.5),
        (47, Level.RED, -27),
    ],
)
def test_mobilisation_runs_ok_then_amber_then_red(
    recorder: Recorder, now_min: float, level: Level, left_min: float
) -> None:
    state = state_of(opened(recorder, 5), Status.MOBILISED, now_min)

    assert state.due == at(20)
    assert state.level is level
    assert state.slack == minutes(left_min)
    if level is Level.RED:
        assert state.overdue_by == minutes(-left_min)
        assert state.time_left is None
    else:
        assert state.time_left == minutes(left_min)


def test_amber_starts_at_the_longer_of_the_fraction_and_the_margin(
    recorder: Recorder,
) -> None:
    """SEV3: mobilise within 60 min of declaration, so 20 % (12 min) is longer
    than the 5 min margin; a 20 min margin is longer again."""
    incident = opened(recorder, 5, severity=3)
    wide = TargetPolicy(DEFAULT_POLICY.by_severity, warn_margin=minutes(20))

    assert state_of(incident, Status.MOBILISED, 52.9).level is Level.OK
    assert state_of(incident, Status.MOBILISED, 53).level is Level.AMBER
    assert state_of(incident, Status.MOBILISED, 44.9, wide).level is Level.OK
    assert state_of(incident, Status.MOBILISED, 45, wide).level is Level.AMBER


@pytest.mark.parametrize(
    ("left", "level"),
    [
        (minutes(30), Level.OK),
        (minutes(6) + timedelta(seconds=1), Level.OK),
        (minutes(6), Level.AMBER),
        (timedelta(0), Level.AMBER),
        (-timedelta(seconds=1), Level.RED),
    ],
)
def test_running_level_of_a_30_min_clock_from_due_and_now(
    left: timedelta, level: Level
) -> None:
    due = at(30)

    assert DEFAULT_POLICY.running_level(due, due - left, minutes(30)) is level
    assert running_level(due, due - left, minutes(6)) is level


def test_mobilised_later_is_missed_and_stays_missed(recorder: Recorder) -> None:
    opened(recorder, 5)
    incident = move(recorder, Status.MOBILISED, 26)

    state = state_of(incident, Status.MOBILISED, now_min=200)

    assert state.level is Level.MISSED
    assert state.overdue_by == minutes(6)


def test_a_skipped_mobilisation_is_not_applicable(recorder: Recorder) -> None:
    opened(recorder, 5)
    incident = move(recorder, Status.MITIGATED, 30)

    state = state_of(incident, Status.MOBILISED, now_min=40)

    assert state.level is Level.NOT_APPLICABLE
    assert state.due is None


def test_first_update_counts_from_declaration(recorder: Recorder) -> None:
    incident = opened(recorder, 5)

    running = state_of(incident, FIRST_UPDATE, now_min=12)
    sent = state_of(incident, FIRST_UPDATE, now_min=60, first_update_min=29)

    assert (running.level, running.due, running.time_left) == (
        Level.OK,
        at(35),
        minutes(23),
    )
    assert (sent.level, sent.reached_at, sent.met_by) == (Level.MET, at(29), minutes(6))


def test_first_update_not_due_before_resolution_does_not_apply(
    recorder: Recorder,
) -> None:
    opened(recorder, 5)
    incident = move(recorder, Status.RESOLVED, 20)

    state = state_of(incident, FIRST_UPDATE, now_min=120)

    assert state.level is Level.NOT_APPLICABLE
    assert state.due == at(35)


def test_first_update_never_sent_is_missed_by_resolution_time(
    recorder: Recorder,
) -> None:
    opened(recorder, 5)
    incident = move(recorder, Status.RESOLVED, 50)

    state = state_of(incident, FIRST_UPDATE, now_min=300)

    assert state.level is Level.MISSED
    assert state.overdue_by == minutes(15)


def test_targets_follow_the_current_severity(recorder: Recorder) -> None:
    opened(recorder, 5, severity=1)
    drafts = change_severity(recorder.incident, 2, now=at(8), actor="dana")
    incident = recorder.record(drafts, at(8))

    state = state_of(incident, Status.MOBILISED, now_min=25)

    assert state.due == at(35)  # SEV2: mobilise within 30 min of declaration
    assert state.time_left == minutes(10)
    assert state.level is Level.OK


def test_a_severity_without_targets_has_none(recorder: Recorder) -> None:
    policy = TargetPolicy({1: SeverityTargets()})

    assert target_states(opened(recorder, 5, 2), policy, at(10)) == []


def test_a_custom_target_from_mitigation_to_resolution(recorder: Recorder) -> None:
    rule = Target(Status.MITIGATED, Status.RESOLVED, timedelta(hours=2))
    policy = TargetPolicy({1: SeverityTargets((rule,))})
    opened(recorder, 5)
    before = target_states(recorder.incident, policy, at(30))
    incident = move(recorder, Status.MITIGATED, 40)
    (after,) = target_states(incident, policy, at(70))

    assert [s.level for s in before] == [Level.NOT_APPLICABLE]
    assert after.due == at(160)
    assert after.time_left == minutes(90)
    assert after.target.label == "resolved within 2 h of mitigated"
