"""Regulatory reporting clocks: "report X is due D after milestone M", as countdowns.

A rule may carry a backstop ("and no later than 24 h after detection"): the report
is then due at whichever comes first. Marking a report sent stops its clock.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TypeAlias

from mimdesk.domain.incident import Incident
from mimdesk.domain.lifecycle import Status

# "Classified as major", for now: declared at one of these severities.
MAJOR_LEVELS = frozenset({1, 2})


def add_months(instant: datetime, months: int) -> datetime:
    """The same day and time `months` later on the UTC calendar, clamped to the end
    of a shorter month: 31 Jan + 1 month is 29 Feb in a leap year, else 28 Feb."""
    utc = instant.astimezone(UTC)
    index = utc.month - 1 + months
    year, month = utc.year + index // 12, index % 12 + 1
    day = min(utc.day, calendar.monthrange(year, month)[1])
    return utc.replace(year=year, month=month, day=day)


@dataclass(frozen=True)
class Period:
    """A reporting period: calendar months, then a fixed duration."""

    months: int = 0
    fixed: timedelta = timedelta(0)

    def after(self, instant: datetime) -> datetime:
        return add_months(instant, self.months) + self.fixed

    @property
    def label(self) -> str:
        parts = []
        if self.months:
            parts.append(f"{self.months} month{'s' if self.months > 1 else ''}")
        hours, seconds = divmod(int(self.fixed.total_seconds()), 3600)
        if hours:
            parts.append(f"{hours} h")
        if seconds // 60:
            parts.append(f"{seconds // 60} min")
        return " ".join(parts) or "0 min"


class Anchor(StrEnum):
    """Incident milestones a reporting clock can start from."""

    DETECTED = "detected"
    DECLARED = "declared"
    CLASSIFIED_MAJOR = "classified_major"


@dataclass(frozen=True)
class ReportSent:
    """A clock that starts when another report of the same regime is sent."""

    report: str


Start: TypeAlias = Anchor | ReportSent


_ANCHOR_LABELS = {
    Anchor.DETECTED: "detection",
    Anchor.DECLARED: "declaration",
    Anchor.CLASSIFIED_MAJOR: "classification as major",
}


def start_label(start: Start) -> str:
    """'detection', 'initial sent': what a clock counts from."""
    if isinstance(start, ReportSent):
        return f"{start.report} sent"
    return _ANCHOR_LABELS[start]


@dataclass(frozen=True)
class Deadline:
    """`within` after `after`."""

    within: Period
    after: Start

    @property
    def label(self) -> str:
        return f"{self.within.label} after {start_label(self.after)}"


@dataclass(frozen=True)
class ReportRule:
    """Report `id` is due at `deadline`, or at `backstop` if that comes first."""

    id: str
    title: str
    deadline: Deadline
    backstop: Deadline | None = None


@dataclass(frozen=True)
class Regime:
    """A set of reports one regulation asks for (DORA, NIS2, GDPR...)."""

    id: str
    title: str
    reports: tuple[ReportRule, ...]


class ClockState(StrEnum):
    WAITING = "waiting"  # the clock has not started
    RUNNING = "running"
    OVERDUE = "overdue"
    SENT = "sent"
    SENT_LATE = "sent late"


@dataclass(frozen=True)
class ReportClock:
    """One report's countdown at `now`. `slack` is the due instant minus the sent
    instant (or now): positive is time to spare, negative is lateness."""

    rule: ReportRule
    state: ClockState
    due: datetime | None = None
    sent_at: datetime | None = None
    slack: timedelta | None = None
    by_backstop: bool = False

    @property
    def time_left(self) -> timedelta | None:
        return self.slack if self.state is ClockState.RUNNING else None

    @property
    def overdue_by(self) -> timedelta | None:
        late = self.state in (ClockState.OVERDUE, ClockState.SENT_LATE)
        return -self.slack if late and self.slack is not None else None


def classified_major_at(incident: Incident) -> datetime | None:
    """When the incident became major: for now, its declaration if SEV1 or SEV2.

    FIXME(regulatory): uses the current severity; an incident raised to SEV2
    after declaration should count from the raise (callers can pass that time)."""
    if incident.severity not in MAJOR_LEVELS:
        return None
    return incident.reached(Status.DECLARED)


def _start(
    start: Start,
    incident: Incident,
    sent: Mapping[str, datetime],
    major_at: datetime | None,
) -> datetime | None:
    if isinstance(start, ReportSent):
        return sent.get(start.report)
    if start is Anchor.CLASSIFIED_MAJOR:
        return major_at
    return incident.reached(Status(start.value))


def _due(
    rule: ReportRule,
    incident: Incident,
    sent: Mapping[str, datetime],
    major_at: datetime | None,
) -> tuple[datetime | None, bool]:
    """The due instant (None until the clock starts) and whether the backstop set it."""
    start = _start(rule.deadline.after, incident, sent, major_at)
    if start is None:
        return None, False
    due = rule.deadline.within.after(start)
    if rule.backstop is None:
        return due, False
    backstop_start = _start(rule.backstop.after, incident, sent, major_at)
    if backstop_start is None:
        return due, False
    backstop = rule.backstop.within.after(backstop_start)
    return min(due, backstop), backstop < due


def _clock(
    rule: ReportRule,
    incident: Incident,
    sent: Mapping[str, datetime],
    major_at: datetime | None,
    now: datetime,
) -> ReportClock:
    due, by_backstop = _due(rule, incident, sent, major_at)
    sent_at = sent.get(rule.id)
    if sent_at is not None:
        state = (
            ClockState.SENT if due is None or sent_at <= due else ClockState.SENT_LATE
        )
        slack = None if due is None else due - sent_at
        return ReportClock(rule, state, due, sent_at, slack, by_backstop)
    if due is None:
        return ReportClock(rule, ClockState.WAITING)
    state = ClockState.RUNNING if now <= due else ClockState.OVERDUE
    return ReportClock(rule, state, due, None, due - now, by_backstop)


def report_clocks(
    incident: Incident,
    regime: Regime,
    *,
    sent: Mapping[str, datetime],
    now: datetime,
    major_at: datetime | None = None,
) -> list[ReportClock]:
    """A countdown for each report of `regime`; `sent` maps report id to when it
    was sent; `major_at` overrides when the incident was classified as major."""
    major = major_at if major_at is not None else classified_major_at(incident)
    return [_clock(rule, incident, sent, major, now) for rule in regime.reports]


def _hours(count: int) -> Period:
    return Period(fixed=timedelta(hours=count))


ONE_MONTH = Period(months=1)

# Kept equal to resources/policy/regulatory.toml (a test checks it).
PRESETS: Mapping[str, Regime] = {
    "dora": Regime(
        "dora",
        "DORA major ICT-related incident",
        (
            ReportRule(
                "initial",
                "Initial notification",
                Deadline(_hours(4), Anchor.CLASSIFIED_MAJOR),
                Deadline(_hours(24), Anchor.DETECTED),
            ),
            ReportRule(
                "intermediate",
                "Intermediate report",
                Deadline(_hours(72), ReportSent("initial")),
            ),
            ReportRule(
                "final", "Final report", Deadline(ONE_MONTH, ReportSent("intermediate"))
            ),
        ),
    ),
    "nis2": Regime(
        "nis2",
        "NIS2 significant incident",
        (
            ReportRule(
                "early_warning", "Early warning", Deadline(_hours(24), Anchor.DETECTED)
            ),
            ReportRule(
                "notification",
                "Incident notification",
                Deadline(_hours(72), Anchor.DETECTED),
            ),
            ReportRule(
                "final", "Final report", Deadline(ONE_MONTH, ReportSent("notification"))
            ),
        ),
    ),
    "gdpr": Regime(
        "gdpr",
        "GDPR personal-data breach",
        (
            ReportRule(
                "notification",
                "Notification to the supervisory authority",
                Deadline(_hours(72), Anchor.DETECTED),
            ),
        ),
    ),
}
