"""Regulatory reporting clocks: "report X is due D after milestone M", as countdowns.

A rule may carry a backstop ("and no later than 24 h after detection"): the report
is then due at whichever comes first. Marking a report sent stops its clock.
"""

from __future__ import annotations

import calendar
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, TypeAlias

from mimdesk.domain import events as ev
from mimdesk.domain.errors import DomainError
from mimdesk.domain.lifecycle import Status
from mimdesk.domain.times import utc_iso

if TYPE_CHECKING:  # incident.py checks report order with this module
    from mimdesk.domain.incident import Incident

# "Classified as major": declared while at one of these severities.
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


@dataclass(frozen=True)
class Classification:
    """When the incident was first classified as major (None: never), and whether
    its severity has since been lowered below major (the clocks keep running)."""

    major_at: datetime | None
    downgraded: bool = False


def _severity_after(event: ev.JournalEvent, severity: int) -> int:
    if event.kind == ev.INCIDENT_CREATED:
        return int(event.payload["severity"])
    if event.kind == ev.SEVERITY_CHANGED:
        return int(event.payload["to"])
    return severity


def _declared_after(
    event: ev.JournalEvent, declared: datetime | None
) -> datetime | None:
    """The declaration time after `event`: the first declaration, or a correction."""
    p, declaration = event.payload, Status.DECLARED.value
    first = declared is None and event.kind == ev.STATUS_CHANGED
    first = first and p["to"] == declaration
    corrected = event.kind == ev.MILESTONE_CORRECTED and p["status"] == declaration
    return event.occurred_at if first or corrected else declared


def classification(
    events: Iterable[ev.JournalEvent], major: Collection[int] = MAJOR_LEVELS
) -> Classification:
    """Fold the journal: classified as major at the first instant the incident was
    both declared and at a `major` severity. A later downgrade does not undo it.

    FIXME(regulatory): an explicit reclassification ("not major after all") would
    be its own command and journal event; nothing can undo a classification yet."""
    severity, major_since, declared = 0, None, None
    for event in ev.in_fold_order(events):
        severity = _severity_after(event, severity)
        if major_since is None and severity in major:
            major_since = event.occurred_at
        declared = _declared_after(event, declared)
    if major_since is None or declared is None:
        return Classification(None)
    return Classification(max(major_since, declared), severity not in major)


def classified_major_at(
    events: Iterable[ev.JournalEvent], major: Collection[int] = MAJOR_LEVELS
) -> datetime | None:
    """When the incident was first classified as major (see `classification`)."""
    return classification(events, major).major_at


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
    major_at: datetime | None,
) -> list[ReportClock]:
    """A countdown for each report of `regime`; `sent` maps report id to when it
    was sent; `major_at` is when the incident was classified as major (None: not
    classified, so clocks that count from it wait)."""
    return [_clock(rule, incident, sent, major_at, now) for rule in regime.reports]


def check_report_order(
    regimes: Iterable[Regime],
    key: str,
    sent: Mapping[str, datetime],
    at: datetime,
) -> None:
    """Refuse report `key` ("dora.intermediate") unless the reports before it in
    its regime were sent, and sent no later than `at`. A key of no regime in
    `regimes` is not checked here."""
    regime_id, _, report_id = key.partition(".")
    regime = next((r for r in regimes if r.id == regime_id), None)
    ids = [rule.id for rule in regime.reports] if regime else []
    if regime is None or report_id not in ids:
        return
    earlier = [f"{regime_id}.{rule}" for rule in ids[: ids.index(report_id)]]
    missing = [k for k in earlier if k not in sent]
    if missing:
        raise DomainError(
            f"{key} cannot be recorded before {', '.join(missing)}: a later "
            f"{regime_id.upper()} report needs the earlier ones sent first"
        )
    for before in earlier:
        if sent[before] > at:
            raise DomainError(
                f"{key} cannot have been sent before {before} "
                f"({utc_iso(sent[before])}); check the time"
            )


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
