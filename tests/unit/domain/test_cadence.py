"""Stakeholder-update cadence: field case C38, and the rules around it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from mimdesk.domain.cadence import (
    CadenceInput,
    CadenceState,
    Reopened,
    Resolved,
    SeverityChanged,
    UpdateSent,
    cadence_state,
    journal_cadence,
    reminder_to_announce,
)
from mimdesk.domain.incident import (
    change_severity,
    change_status,
    change_title,
    declare,
)
from mimdesk.domain.lifecycle import Status
from mimdesk.domain.times import format_clock, parse_utc

from ..recording import Recorder

DAY = "2024-05-01T"


def utc(clock: str) -> datetime:
    """An instant on the C38 day: utc('10:15')."""
    return parse_utc(f"{DAY}{clock}:00Z")


def minutes(count: int) -> timedelta:
    return timedelta(minutes=count)


def sev(name: str) -> int:
    return int(name.removeprefix("SEV"))


class C38:
    """Field case C38 read into cadence inputs."""

    def __init__(self, case: dict[str, Any]) -> None:
        self.case = case
        self.cadence = {
            sev(name): minutes(count)
            for name, count in case["cadence_min_by_sev"].items()
        }
        timeline = case["timeline_utc"]
        self.started_at = parse_utc(timeline[0]["at"])
        self.severity = next(
            sev(e["from"]) for e in timeline if e["type"] == "severity_changed"
        )
        self.inputs = [i for e in timeline if (i := self._input(e)) is not None]

    @staticmethod
    def _input(entry: dict[str, Any]) -> CadenceInput | None:
        at = parse_utc(entry["at"])
        kind = entry["type"]
        if kind == "status_update_posted":
            return UpdateSent(at)
        if kind == "severity_changed":
            return SeverityChanged(at, sev(entry["to"]))
        if kind == "status" and entry["to"] == "resolved":
            return Resolved(at)
        # title_edited and clock_check move nothing: no input for them.
        return None

    def at(self, now: datetime) -> CadenceState:
        return cadence_state(
            self.inputs,
            severity=self.severity,
            started_at=self.started_at,
            cadence=self.cadence,
            now=now,
        )


@pytest.fixture
def c38(load_case: Any) -> C38:
    return C38(load_case("C38"))


def test_c38_before_the_severity_change_the_sev2_cadence_applies(c38: C38) -> None:
    state = c38.at(utc("10:19"))

    assert state.next_due == utc("10:30")
    assert state.overdue_by is None
    assert state.reminders == ()


def test_c38_escalation_recomputes_due_from_the_last_update(c38: C38) -> None:
    state = c38.at(utc("10:20"))

    assert state.next_due == utc("10:15")
    assert state.overdue_by == minutes(5)
    assert state.reminders == (utc("10:20"),)


def test_c38_clock_check_at_10_36(c38: C38) -> None:
    expected = c38.case["expected"]

    state = c38.at(utc("10:36"))

    assert state.overdue_by == minutes(expected["overdue_min_at_10_36"])
    assert state.reminders == (utc("10:20"), utc("10:35"))
    assert state.last_update == utc("10:00")


def test_c38_the_10_40_update_resets_the_clock(c38: C38) -> None:
    expected = c38.case["expected"]

    after_update = c38.at(utc("10:40"))
    at_due = c38.at(utc("10:55"))

    assert after_update.next_due == parse_utc(expected["next_due_after_10_40"])
    assert after_update.overdue_by is None
    assert after_update.reminders == (utc("10:20"), utc("10:35"))
    assert at_due.reminders[-1] == utc("10:55")
    assert at_due.overdue_by == timedelta(0)


def test_c38_nothing_after_resolution(c38: C38) -> None:
    expected = c38.case["expected"]
    resolved = utc("11:00")

    state = c38.at(utc("13:00"))

    assert state.reminders == tuple(parse_utc(t) for t in expected["reminders_sent_at"])
    after = [r for r in state.reminders if r >= resolved]
    assert len(after) == expected["reminders_after_resolved"]
    assert state.next_due is None
    assert state.overdue_by is None


def test_c38_through_the_journal_a_title_edit_changes_nothing(
    c38: C38, recorder: Recorder
) -> None:
    """The same story told with the real commands: SEV2 declared at 10:00, the
    title edited at 10:10, raised to SEV1 at 10:20, resolved at 11:00."""
    drafts = declare(
        title="Card payments failing",
        severity=2,
        services=[],
        detected_at=utc("09:55"),
        declared_at=utc("10:00"),
        now=utc("10:00"),
        actor="dana",
    )
    recorder.record(drafts, utc("10:00"))
    title = change_title(
        recorder.incident, "Card payments down", now=utc("10:10"), actor="d"
    )
    recorder.record(title, utc("10:10"))
    severity = change_severity(recorder.incident, 1, now=utc("10:20"), actor="dana")
    recorder.record(severity, utc("10:20"))
    resolve = change_status(
        recorder.incident, Status.RESOLVED, at=utc("11:00"), now=utc("11:00"), actor="d"
    )
    recorder.record(resolve, utc("11:00"))
    updates = [utc("10:00"), utc("10:40")]

    state = journal_cadence(
        recorder.events, updates_sent=updates, cadence=c38.cadence, now=utc("13:00")
    )

    assert state.reminders == c38.at(utc("13:00")).reminders
    assert [t.strftime("%H:%M") for t in state.reminders] == ["10:20", "10:35", "10:55"]


def test_reminders_repeat_once_per_interval_while_overdue() -> None:
    state = cadence_state(
        [UpdateSent(utc("10:00"))],
        severity=2,
        started_at=utc("10:00"),
        cadence={2: minutes(30)},
        now=utc("12:00"),
    )

    assert [t.strftime("%H:%M") for t in state.reminders] == [
        "10:30",
        "11:00",
        "11:30",
        "12:00",
    ]
    assert state.overdue_by == minutes(90)


def test_an_update_sent_exactly_when_due_is_on_time() -> None:
    state = cadence_state(
        [UpdateSent(utc("10:00")), UpdateSent(utc("10:30"))],
        severity=2,
        started_at=utc("10:00"),
        cadence={2: minutes(30)},
        now=utc("10:45"),
    )

    assert state.reminders == ()
    assert state.next_due == utc("11:00")


def test_before_the_first_update_the_clock_runs_from_the_start() -> None:
    state = cadence_state(
        [],
        severity=1,
        started_at=utc("10:05"),
        cadence={1: minutes(15)},
        now=utc("10:10"),
    )

    assert state.next_due == utc("10:20")
    assert state.last_update is None


def test_escalating_again_keeps_one_reminder_per_interval() -> None:
    """Reminded at 10:30 under SEV2; raised to SEV1 at 10:40: next reminder 10:45."""
    inputs = [UpdateSent(utc("10:00")), SeverityChanged(utc("10:40"), 1)]

    state = cadence_state(
        inputs,
        severity=2,
        started_at=utc("10:00"),
        cadence={1: minutes(15), 2: minutes(30)},
        now=utc("10:50"),
    )

    assert state.reminders == (utc("10:30"), utc("10:45"))
    assert state.next_due == utc("10:15")


def test_a_reopening_resumes_the_clock_from_the_last_update() -> None:
    inputs = [
        UpdateSent(utc("10:00")),
        Resolved(utc("10:20")),
        Reopened(utc("11:00")),
    ]

    state = cadence_state(
        inputs,
        severity=1,
        started_at=utc("10:00"),
        cadence={1: minutes(30)},
        now=utc("11:10"),
    )

    assert state.reminders == (utc("11:00"),)
    assert state.next_due == utc("10:30")
    assert state.overdue_by == minutes(40)


def test_a_severity_without_cadence_has_no_clock() -> None:
    inputs = [UpdateSent(utc("10:00")), SeverityChanged(utc("10:05"), 4)]

    state = cadence_state(
        inputs,
        severity=1,
        started_at=utc("10:00"),
        cadence={1: minutes(15)},
        now=utc("12:00"),
    )

    assert (state.next_due, state.overdue_by, state.reminders) == (None, None, ())


def test_inputs_after_now_have_not_happened_yet() -> None:
    inputs = [UpdateSent(utc("10:00")), UpdateSent(utc("10:50"))]

    state = cadence_state(
        inputs,
        severity=2,
        started_at=utc("10:00"),
        cadence={2: minutes(30)},
        now=utc("10:40"),
    )

    assert state.reminders == (utc("10:30"),)
    assert state.last_update == utc("10:00")


def test_a_zero_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="SEV1 update interval must be positive"):
        cadence_state(
            [],
            severity=1,
            started_at=utc("10:00"),
            cadence={1: timedelta(0)},
            now=utc("11:00"),
        )


def test_c29_next_update_across_the_dst_change(load_case: Any) -> None:
    """C29: last update 01:20 UTC on the night London's clocks went back."""
    case = load_case("C29")
    last = parse_utc(case["last_status_update_utc"])

    state = cadence_state(
        [UpdateSent(last)],
        severity=1,
        started_at=parse_utc(case["milestones_utc"]["acknowledged"]),
        cadence={1: minutes(case["status_cadence_min"])},
        now=parse_utc(case["now_utc"]),
    )

    assert state.next_due == parse_utc(case["expected"]["next_update_due_utc"])
    assert state.next_due is not None
    shown = format_clock(state.next_due, ZoneInfo(case["display_tz"]))
    assert shown == case["expected"]["next_update_due_display"]


def test_c38_a_screen_announces_each_reminder_once(c38: C38) -> None:
    """Checked every minute from 10:00 to 13:00, the reminders announced are
    exactly C38's, each at its own minute."""
    announced: list[datetime] = []
    last = None
    for minute in range(0, 181):
        now = utc("10:00") + minutes(minute)
        due = reminder_to_announce(c38.at(now), last)
        if due is not None:
            announced.append(now)
            last = due

    expected = c38.case["expected"]["reminders_sent_at"]
    assert announced == [parse_utc(t) for t in expected]


def test_reminders_missed_while_away_are_announced_once_as_the_latest() -> None:
    state = cadence_state(
        [UpdateSent(utc("10:00"))],
        severity=2,
        started_at=utc("10:00"),
        cadence={2: minutes(30)},
        now=utc("12:10"),
    )

    assert reminder_to_announce(state, None) == utc("12:00")
    assert reminder_to_announce(state, utc("12:00")) is None


def test_no_reminder_to_announce_once_the_update_is_sent() -> None:
    state = cadence_state(
        [UpdateSent(utc("10:00")), UpdateSent(utc("10:40"))],
        severity=2,
        started_at=utc("10:00"),
        cadence={2: minutes(30)},
        now=utc("10:45"),
    )

    assert state.reminders == (utc("10:30"),)
    assert reminder_to_announce(state, None) is None
    assert state.interval == minutes(30)
