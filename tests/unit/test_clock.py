"""Case C29: incident clocks across the October 2024 DST change, with late timer
ticks and wall-clock steps."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from mimdesk.clock import MonotonicClock
from mimdesk.domain.incident import declare
from mimdesk.domain.times import format_clock, format_duration, parse_utc

from .recording import Recorder


class FakeClocks:
    """Wall and monotonic time that move only when the test says, in whole ms."""

    def __init__(self, wall_s: float) -> None:
        self.wall_ms = round(wall_s * 1000)
        self.mono_ms = 7_000_000

    def wall(self) -> float:
        return self.wall_ms / 1000

    def monotonic(self) -> float:
        return self.mono_ms / 1000

    def advance(self, ms: int) -> None:
        self.wall_ms += ms
        self.mono_ms += ms


@pytest.fixture
def c29(load_case: Any) -> dict[str, Any]:
    case: dict[str, Any] = load_case("C29")
    return case


def test_elapsed_since_detection_comes_from_utc_instants(
    c29: dict[str, Any], recorder: Recorder
) -> None:
    detected = parse_utc(c29["milestones_utc"]["detected"])
    acknowledged = parse_utc(c29["milestones_utc"]["acknowledged"])
    now = parse_utc(c29["now_utc"])
    drafts = declare(
        title="Card payments failing",
        severity=1,
        services=[],
        detected_at=detected,
        declared_at=acknowledged,
        now=acknowledged,
        actor="dana",
    )
    incident = recorder.record(drafts, acknowledged)

    elapsed = format_duration(incident.elapsed(now))

    assert elapsed == c29["expected"]["elapsed_since_detected"]
    zone = ZoneInfo(c29["display_tz"])
    naive = now.astimezone(zone).replace(tzinfo=None) - detected.astimezone(
        zone
    ).replace(tzinfo=None)
    assert format_duration(naive) == c29["expected"]["naive_local_result_to_avoid"]
    assert elapsed != format_duration(naive)


def test_next_update_due_is_shown_with_the_abbreviation_then(
    c29: dict[str, Any],
) -> None:
    zone = ZoneInfo(c29["display_tz"])
    last = parse_utc(c29["last_status_update_utc"])

    due = last + timedelta(minutes=c29["status_cadence_min"])

    assert due == parse_utc(c29["expected"]["next_update_due_utc"])
    assert format_clock(due, zone) == c29["expected"]["next_update_due_display"]
    detected = parse_utc(c29["milestones_utc"]["detected"])
    assert format_clock(detected, zone) == "01:50 BST"


def test_late_timer_ticks_do_not_make_the_counter_drift(c29: dict[str, Any]) -> None:
    timer = c29["timer"]
    clocks = FakeClocks(parse_utc(c29["milestones_utc"]["detected"]).timestamp())
    clock = MonotonicClock(clocks.wall, clocks.monotonic)
    start = clock.now()
    late_tick_ms = timer["interval_ms"] + timer["per_tick_latency_ms"]

    jumps = []
    for _ in range(timer["ticks"]):
        clocks.advance(late_tick_ms)
        jumps.append(clock.check_jump())
    shown = format_duration(clock.now() - start)

    real = timedelta(milliseconds=late_tick_ms * timer["ticks"])
    counted = timedelta(milliseconds=timer["interval_ms"] * timer["ticks"])
    assert shown == format_duration(real) == "1d 00:04:19"
    assert shown != format_duration(counted)
    drift = (real - counted).total_seconds()
    assert round(drift) == c29["expected"]["tick_count_error_s_per_day_to_avoid"]
    assert set(jumps) == {None}


def stepped_clock(case: dict[str, Any], step_ms: int) -> tuple[MonotonicClock, float]:
    """A clock that ran a minute, then saw the wall clock stepped by `step_ms`;
    returns it and the wall time now, in seconds."""
    clocks = FakeClocks(parse_utc(case["now_utc"]).timestamp())
    clock = MonotonicClock(clocks.wall, clocks.monotonic)
    clocks.advance(60_000)
    clocks.wall_ms += step_ms
    return clock, clocks.wall()


@pytest.mark.parametrize("step_ms", [1000, -1000, 2000, -2000])
def test_small_wall_clock_steps_are_not_reported(
    c29: dict[str, Any], step_ms: int
) -> None:
    assert c29["expected"]["clock_jump_warning_threshold_s"] * 1000 >= abs(step_ms)
    clock, _ = stepped_clock(c29, step_ms)

    assert clock.check_jump() is None


@pytest.mark.parametrize("step_ms", [2001, -2500, 3_600_000])
def test_wall_clock_steps_beyond_the_threshold_are_reported(
    c29: dict[str, Any], step_ms: int
) -> None:
    assert c29["expected"]["clock_jump_warning_threshold_s"] * 1000 < abs(step_ms)
    clock, wall = stepped_clock(c29, step_ms)

    assert clock.check_jump() == timedelta(milliseconds=step_ms)
    assert clock.now().timestamp() == pytest.approx(wall, abs=1e-6)
    assert clock.check_jump() is None
