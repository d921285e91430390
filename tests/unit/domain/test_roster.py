"""The bridge roster: one record per person, every interval and role kept (C37)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest

from mimdesk.domain import roster as r
from mimdesk.domain.errors import DomainError
from mimdesk.domain.incident import change_status, declare
from mimdesk.domain.lifecycle import Status
from mimdesk.domain.times import parse_utc

from ..recording import Recorder

T0 = parse_utc("2024-05-01T09:55:00Z")


def at(clock: str) -> datetime:
    return parse_utc(f"2024-05-01T{clock}:00Z")


@pytest.fixture
def bridge(recorder: Recorder) -> Recorder:
    recorder.record(
        declare(title="Card payments failing", severity=1, services=[],
                detected_at=T0, now=T0, actor="dana"),
        T0,
    )  # fmt: skip
    return recorder


def roster_of(rec: Recorder) -> r.Roster:
    return r.fold(rec.events)


def act(rec: Recorder, command: Callable[..., Any], *args: str, when: str, **kw: Any):
    event = command(
        roster_of(rec), *args, at=at(when), now=at(when), actor="dana", **kw
    )
    rec.record([event], at(when))
    return roster_of(rec)


def test_c37_leave_and_rejoin_keep_one_record(
    bridge: Recorder, load_case: Callable[[str], dict[str, Any]]
) -> None:
    case = load_case("C37")
    a = "responder-a@example.invalid"
    expected = case["expected"][a]

    act(bridge, r.join, a, when="10:00")
    act(bridge, r.leave, a, when="10:30")
    roster = act(bridge, r.join, a, when="10:45", role="scribe")

    record = roster.participants[a]
    assert len([p for p in roster.participants if p == a]) == expected["records"]
    assert [
        (s.strftime("%H:%M"), e and e.strftime("%H:%M")) for s, e in record.intervals
    ] == [tuple(pair) for pair in expected["intervals"]]
    assert list(record.roles) == expected["roles"]
    report_at = at(case["incident"]["report_at"])
    assert record.active_time(report_at) == timedelta(
        minutes=expected["active_minutes_at_report"]
    )
    assert roster.holders_of("scribe") == (a,)


def test_c37_rules_only_suggest_once_the_incident_is_stable(bridge: Recorder) -> None:
    assert r.may_auto_add(bridge.incident)

    bridge.record(
        change_status(bridge.incident, Status.MITIGATED, at=at("11:00"),
                      now=at("11:00"), actor="dana"),
        at("11:00"),
    )  # fmt: skip

    assert not r.may_auto_add(bridge.incident)


def test_required_roles_show_missing_until_filled_on_the_bridge(
    bridge: Recorder,
) -> None:
    required = r.DEFAULT_REQUIRED[1]
    assert roster_of(bridge).missing(required) == list(required)

    act(bridge, r.request, "alice", when="10:00", role="commander")
    roster = act(bridge, r.assign, "commander", "alice", when="10:01")
    assert "commander" in roster.missing(required)  # assigned, but not on the bridge

    roster = act(bridge, r.join, "alice", when="10:04")
    assert "commander" not in roster.missing(required)


def test_handover_of_commander_keeps_the_history(bridge: Recorder) -> None:
    act(bridge, r.join, "alice", when="10:00", role="commander")
    act(bridge, r.join, "bob", when="10:20")
    roster = act(bridge, r.assign, "commander", "bob", when="10:30")

    assert roster.holders_of("commander") == ("bob",)
    assert roster.participants["alice"].roles == ("commander",)
    assert [(h[1], h[2], h[3]) for h in roster.role_history] == [
        ("commander", "alice", None),
        ("commander", "bob", "alice"),
    ]


def test_technical_leads_can_be_several(bridge: Recorder) -> None:
    act(bridge, r.join, "carol", when="10:00", role="tech-lead")
    roster = act(bridge, r.join, "dev", when="10:02", role="tech-lead")

    assert roster.holders_of("tech-lead") == ("carol", "dev")


def test_waiting_people_and_mobilisation_time(bridge: Recorder) -> None:
    required = ("commander", "comms")
    act(bridge, r.request, "alice", when="10:00")
    act(bridge, r.request, "erin", when="10:02")
    act(bridge, r.acknowledge, "erin", when="10:03")
    roster = act(bridge, r.join, "alice", when="10:05", role="commander")

    assert roster.waiting(at("10:10")) == [("erin", timedelta(minutes=8))]
    assert r.mobilisation_time(roster, required) is None

    roster = act(bridge, r.join, "erin", when="10:12", role="comms")
    assert r.mobilisation_time(roster, required) == timedelta(minutes=12)


@pytest.mark.parametrize(
    ("command", "args", "message"),
    [
        (r.leave, ("zed",), "not on the bridge"),
        (r.acknowledge, ("zed",), "was not waiting"),
        (r.assign, ("pilot", "zed"), "unknown role 'pilot'"),
        (r.join, ("  ",), "name the person"),
    ],
)
def test_impossible_moves_are_refused(
    bridge: Recorder, command: Callable[..., Any], args: tuple[str, ...], message: str
) -> None:
    with pytest.raises(DomainError, match=message):
        command(roster_of(bridge), *args, at=at("10:00"), now=at("10:00"), actor="x")


def test_a_second_join_without_leaving_is_refused(bridge: Recorder) -> None:
    act(bridge, r.join, "alice", when="10:00")

    with pytest.raises(DomainError, match="already on the bridge"):
        r.join(roster_of(bridge), "alice", at=at("10:01"), now=at("10:01"), actor="x")


def test_giving_a_role_to_someone_absent_asks_them_to_come(bridge: Recorder) -> None:
    roster = act(bridge, r.assign, "commander", "dana", when="10:00")

    assert roster.participants["dana"].presence is r.Presence.REQUESTED
    assert roster.waiting(at("10:07")) == [("dana", timedelta(minutes=7))]
    assert roster.missing(["commander"]) == ["commander"]


def test_a_move_dated_before_the_persons_last_move_is_refused(bridge: Recorder) -> None:
    act(bridge, r.request, "alice", when="10:10")

    with pytest.raises(DomainError, match="last move on the bridge was later"):
        r.join(roster_of(bridge), "alice", at=at("10:00"), now=at("10:20"), actor="x")


def test_a_handover_dated_before_the_role_last_changed_is_refused(
    bridge: Recorder,
) -> None:
    act(bridge, r.join, "alice", when="10:39", role="commander")

    with pytest.raises(DomainError, match="last changed hands later"):
        r.assign(
            roster_of(bridge), "commander", "dave", at=at("10:30"), now=at("10:40"),
            actor="x",
        )  # fmt: skip


def test_mobilisation_waits_for_holders_to_be_on_the_bridge(bridge: Recorder) -> None:
    required = ("commander", "tech-lead")
    act(bridge, r.join, "dana", when="10:00", role="commander")
    act(bridge, r.join, "t1", when="10:05", role="tech-lead")
    roster = act(bridge, r.assign, "tech-lead", "zed", when="10:06")

    assert r.mobilisation_time(roster, required) is not None


@pytest.mark.parametrize("person", ["with space", "x" * 121])
def test_a_person_must_be_one_short_word(bridge: Recorder, person: str) -> None:
    with pytest.raises(DomainError, match="one word"):
        r.join(roster_of(bridge), person, at=at("10:00"), now=at("10:00"), actor="x")


def test_roster_of_a_closed_incident_cannot_change(bridge: Recorder) -> None:
    for target, when in ((Status.RESOLVED, "10:10"), (Status.CLOSED, "10:20")):
        bridge.record(
            change_status(bridge.incident, target, at=at(when), now=at(when),
                          actor="dana"),
            at(when),
        )  # fmt: skip

    with pytest.raises(DomainError, match="reopen it to change the roster"):
        r.check_open(bridge.incident)
