"""Regulatory clocks: DORA, NIS2 and GDPR countdowns, backstops and calendar months."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from mimdesk.domain.incident import (
    Incident,
    change_severity,
    change_status,
    correct_milestone,
    declare,
)
from mimdesk.domain.lifecycle import Status
from mimdesk.domain.regulatory import (
    PRESETS,
    Anchor,
    Classification,
    ClockState,
    Deadline,
    Period,
    Regime,
    ReportClock,
    ReportRule,
    add_months,
    classification,
    classified_major_at,
    report_clocks,
)
from mimdesk.domain.times import parse_utc

from ..recording import Recorder

DETECTED = parse_utc("2026-03-02T08:00:00Z")
DORA = PRESETS["dora"]


def hours(count: float) -> timedelta:
    return timedelta(hours=count)


def after(count: float) -> datetime:
    """`count` hours after detection."""
    return DETECTED + hours(count)


def opened(
    rec: Recorder, declared_h: float, severity: int = 1, detected: datetime = DETECTED
) -> Incident:
    declared = detected + hours(declared_h)
    drafts = declare(
        title="Core banking ledger unavailable",
        severity=severity,
        services=["core-banking"],
        detected_at=detected,
        declared_at=declared,
        now=declared,
        actor="dana",
    )
    return rec.record(drafts, declared)


def clocks(
    rec: Recorder,
    regime: Regime,
    now: datetime,
    sent: dict[str, datetime] | None = None,
    major_at: datetime | None = None,
) -> dict[str, ReportClock]:
    """The recorded incident's clocks; classified as major as its journal says,
    unless `major_at` is given."""
    major = major_at or classified_major_at(rec.events)
    found = report_clocks(
        rec.incident, regime, sent=sent or {}, now=now, major_at=major
    )
    return {c.rule.id: c for c in found}


def test_dora_initial_is_due_4_h_after_classification(recorder: Recorder) -> None:
    opened(recorder, 1)

    initial = clocks(recorder, DORA, now=after(2))["initial"]

    assert initial.state is ClockState.RUNNING
    assert initial.due == after(5)
    assert initial.time_left == hours(3)
    assert not initial.by_backstop


def test_dora_24_h_backstop_wins_when_classified_late(recorder: Recorder) -> None:
    """Classified as major 22 h after detection: due at detection + 24 h, not
    declaration + 4 h (which would be 26 h)."""
    opened(recorder, 22)

    initial = clocks(recorder, DORA, now=after(23))["initial"]

    assert initial.due == parse_utc("2026-03-03T08:00:00Z")
    assert initial.by_backstop
    assert initial.time_left == hours(1)
    assert initial.rule.backstop is not None
    assert initial.rule.backstop.label == "24 h after detection"


def test_dora_initial_overdue_then_sent_late(recorder: Recorder) -> None:
    opened(recorder, 22)

    overdue = clocks(recorder, DORA, now=after(25))["initial"]
    sent = clocks(recorder, DORA, now=after(40), sent={"initial": after(24.5)})

    assert (overdue.state, overdue.overdue_by) == (ClockState.OVERDUE, hours(1))
    assert sent["initial"].state is ClockState.SENT_LATE
    assert sent["initial"].overdue_by == hours(0.5)
    assert sent["initial"].sent_at == after(24.5)


def test_marking_a_report_sent_stops_its_clock(recorder: Recorder) -> None:
    opened(recorder, 1)
    sent = {"initial": after(3)}

    soon = clocks(recorder, DORA, now=after(4), sent=sent)["initial"]
    much_later = clocks(recorder, DORA, now=after(400), sent=sent)["initial"]

    assert soon == much_later
    assert soon.state is ClockState.SENT
    assert soon.slack == hours(2)
    assert soon.time_left is None


def test_dora_intermediate_waits_for_the_initial_notification(
    recorder: Recorder,
) -> None:
    opened(recorder, 1)

    waiting = clocks(recorder, DORA, now=after(2))
    running = clocks(recorder, DORA, now=after(10), sent={"initial": after(3)})

    assert waiting["intermediate"].state is ClockState.WAITING
    assert waiting["intermediate"].due is None
    assert waiting["final"].state is ClockState.WAITING
    assert running["intermediate"].due == after(75)
    assert running["intermediate"].time_left == hours(65)


def test_a_sev3_incident_is_not_classified_as_major(recorder: Recorder) -> None:
    opened(recorder, 1, severity=3)

    dora = clocks(recorder, DORA, now=after(30))
    gdpr = clocks(recorder, PRESETS["gdpr"], now=after(30))

    assert dora["initial"].state is ClockState.WAITING
    assert gdpr["notification"].due == after(72)
    assert gdpr["notification"].time_left == hours(42)


def test_classification_time_can_be_given_when_raised_later(
    recorder: Recorder,
) -> None:
    opened(recorder, 1, severity=3)

    initial = clocks(recorder, DORA, now=after(6), major_at=after(5))["initial"]

    assert initial.due == after(9)
    assert initial.state is ClockState.RUNNING


def test_nis2_clocks_count_from_detection(recorder: Recorder) -> None:
    opened(recorder, 3, severity=2)

    nis2 = clocks(recorder, PRESETS["nis2"], now=after(30))

    assert nis2["early_warning"].state is ClockState.OVERDUE
    assert nis2["early_warning"].overdue_by == hours(6)
    assert nis2["notification"].due == after(72)
    assert nis2["final"].state is ClockState.WAITING


@pytest.mark.parametrize(
    ("year", "final_due"),
    [
        (2024, "2024-02-29T09:30:00Z"),  # leap year
        (2025, "2025-02-28T09:30:00Z"),
    ],
)
def test_final_report_is_due_a_calendar_month_later(
    recorder: Recorder, year: int, final_due: str
) -> None:
    """NIS2 notification sent on 31 January: the final report is due on the last
    day of February, at the same time of day."""
    sent_at = parse_utc(f"{year}-01-31T09:30:00Z")
    opened(recorder, 1, detected=sent_at - hours(30))

    final = clocks(
        recorder, PRESETS["nis2"], now=sent_at, sent={"notification": sent_at}
    )["final"]

    assert final.due == parse_utc(final_due)
    assert final.rule.deadline.label == "1 month after notification sent"


@pytest.mark.parametrize(
    ("start", "months", "due"),
    [
        ("2024-01-31T23:30:00Z", 1, "2024-02-29T23:30:00Z"),
        ("2025-01-31T12:00:00Z", 1, "2025-02-28T12:00:00Z"),
        ("2025-03-31T12:00:00Z", 1, "2025-04-30T12:00:00Z"),
        ("2025-12-15T07:00:00Z", 1, "2026-01-15T07:00:00Z"),
        ("2025-05-20T07:00:00Z", 12, "2026-05-20T07:00:00Z"),
    ],
)
def test_calendar_months_keep_the_day_clamped_to_the_month_end(
    start: str, months: int, due: str
) -> None:
    assert add_months(parse_utc(start), months) == parse_utc(due)


def test_a_custom_rule_from_declaration(recorder: Recorder) -> None:
    rule = ReportRule(
        "regulator_call",
        "Call the regulator's duty desk",
        Deadline(Period(fixed=hours(2)), Anchor.DECLARED),
    )
    regime = Regime("local", "Local regulator", (rule,))
    incident = opened(recorder, 1)
    recorder.record(
        change_status(incident, Status.RESOLVED, at=after(2), now=after(2), actor="x"),
        after(2),
    )

    clock = clocks(recorder, regime, now=after(4))["regulator_call"]

    assert clock.due == after(3)  # resolving does not stop a regulatory clock
    assert clock.state is ClockState.OVERDUE
    assert clock.overdue_by == hours(1)


def _severity(rec: Recorder, level: int, hours_after: float) -> None:
    when = after(hours_after)
    rec.record(change_severity(rec.incident, level, now=when, actor="dana"), when)


def test_lowering_severity_after_classification_keeps_the_dora_clock(
    recorder: Recorder,
) -> None:
    """SEV1 declared 1 h after detection, lowered to SEV3 an hour later: it was
    classified as major at declaration, and the initial notification stays due."""
    opened(recorder, 1)
    _severity(recorder, 3, 2)

    found = classification(recorder.events)
    initial = clocks(recorder, DORA, now=after(3))["initial"]

    assert found == Classification(after(1), downgraded=True)
    assert initial.state is ClockState.RUNNING
    assert initial.due == after(5)


def test_raised_to_major_after_declaration_counts_from_the_raise(
    recorder: Recorder,
) -> None:
    opened(recorder, 1, severity=3)
    waiting = clocks(recorder, DORA, now=after(2))["initial"]
    _severity(recorder, 2, 3)
    _severity(recorder, 4, 4)
    _severity(recorder, 1, 5)  # raised again: the first raise still counts

    initial = clocks(recorder, DORA, now=after(6))["initial"]

    assert waiting.state is ClockState.WAITING
    assert classified_major_at(recorder.events) == after(3)
    assert initial.due == after(7)
    assert not classification(recorder.events).downgraded


def test_a_corrected_declaration_moves_the_classification(
    recorder: Recorder,
) -> None:
    opened(recorder, 2)
    drafts = correct_milestone(
        recorder.incident, Status.DECLARED, after(1.5), reason="paged late",
        now=after(3), actor="dana",
    )  # fmt: skip
    recorder.record(drafts, after(3))

    assert classified_major_at(recorder.events) == after(1.5)


def test_never_major_is_never_classified(recorder: Recorder) -> None:
    opened(recorder, 1, severity=3)
    _severity(recorder, 4, 2)

    assert classification(recorder.events) == Classification(None)
