"""Per-severity milestone targets ("declare within 15 min of detection"), judged.

A target runs from one milestone to another. It is judged against the incident's
milestones and `now`: met or missed once the later milestone is reached, otherwise
time left (amber, "due soon", near the end) or time overdue (red).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final, Literal, TypeAlias

from mimdesk.domain.incident import Incident
from mimdesk.domain.lifecycle import Status

# The first stakeholder update is a milestone the incident state does not hold yet.
FIRST_UPDATE: Final = "first_update"
Point: TypeAlias = Status | Literal["first_update"]


class Level(StrEnum):
    """How a target stands: running (ok, amber, red) or decided (met, missed)."""

    OK = "ok"
    AMBER = "amber"
    RED = "red"
    MET = "met"
    MISSED = "missed"
    NOT_APPLICABLE = "not applicable"


def point_label(point: Point) -> str:
    """'declared', 'first update': a milestone as people say it."""
    return point.replace("_", " ")


@dataclass(frozen=True)
class Target:
    """`end` is due within `within` of `start`."""

    start: Point
    end: Point
    within: timedelta

    @property
    def label(self) -> str:
        minutes = int(self.within.total_seconds()) // 60
        limit = f"{minutes} min" if minutes < 120 else f"{minutes / 60:g} h"
        return f"{point_label(self.end)} within {limit} of {point_label(self.start)}"


@dataclass(frozen=True)
class SeverityTargets:
    """The targets for one severity and how often stakeholder updates are due."""

    targets: tuple[Target, ...] = ()
    update_every: timedelta | None = None


DEFAULT_WARN_MARGIN: Final = timedelta(minutes=5)


@dataclass(frozen=True)
class TargetPolicy:
    """Targets by severity; a running clock is amber ("due soon") in the last
    `warn_fraction` of its window or the last `warn_margin`, whichever is longer."""

    by_severity: Mapping[int, SeverityTargets] = field(default_factory=dict)
    warn_fraction: float = 0.2
    warn_margin: timedelta = DEFAULT_WARN_MARGIN

    def targets_for(self, severity: int) -> tuple[Target, ...]:
        entry = self.by_severity.get(severity)
        return entry.targets if entry else ()

    @property
    def cadence(self) -> dict[int, timedelta]:
        """Stakeholder-update interval by severity (severities without one left out)."""
        return {
            level: entry.update_every
            for level, entry in self.by_severity.items()
            if entry.update_every is not None
        }

    def warn_before(self, window: timedelta) -> timedelta:
        """How long before the due time a clock of `window` turns amber."""
        return max(window * self.warn_fraction, self.warn_margin)

    def running_level(self, due: datetime, now: datetime, window: timedelta) -> Level:
        """OK, AMBER (due soon) or RED (overdue) for a clock of `window` due at
        `due`; exactly at the due time it is still amber, not yet late."""
        return running_level(due, now, self.warn_before(window))


def running_level(due: datetime, now: datetime, warn_before: timedelta) -> Level:
    """OK until `warn_before` ahead of `due`, then AMBER, and RED once past it."""
    left = due - now
    if left < timedelta(0):
        return Level.RED
    return Level.AMBER if left <= warn_before else Level.OK


def _minutes(count: int) -> timedelta:
    return timedelta(minutes=count)


def _standard(declare: int, mobilise: int, first_update: int) -> tuple[Target, ...]:
    return (
        Target(Status.DETECTED, Status.DECLARED, _minutes(declare)),
        Target(Status.DECLARED, Status.MOBILISED, _minutes(mobilise)),
        Target(Status.DECLARED, FIRST_UPDATE, _minutes(first_update)),
    )


# Kept equal to resources/policy/targets.toml (a test checks it).
DEFAULT_POLICY = TargetPolicy(
    by_severity={
        1: SeverityTargets(_standard(15, 15, 30), _minutes(30)),
        2: SeverityTargets(_standard(30, 30, 60), _minutes(60)),
        3: SeverityTargets(_standard(60, 60, 120), _minutes(120)),
        4: SeverityTargets(
            (
                Target(Status.DETECTED, Status.DECLARED, _minutes(240)),
                Target(Status.DECLARED, FIRST_UPDATE, _minutes(480)),
            )
        ),
    }
)


@dataclass(frozen=True)
class TargetState:
    """One target judged at `now`. `slack` is the due instant minus the moment the
    target was decided (or now): positive is time to spare, negative is lateness."""

    target: Target
    level: Level
    due: datetime | None = None
    reached_at: datetime | None = None
    slack: timedelta | None = None

    @property
    def time_left(self) -> timedelta | None:
        return self.slack if self.level in (Level.OK, Level.AMBER) else None

    @property
    def overdue_by(self) -> timedelta | None:
        late = self.level in (Level.RED, Level.MISSED)
        return -self.slack if late and self.slack is not None else None

    @property
    def met_by(self) -> timedelta | None:
        return self.slack if self.level is Level.MET else None


def _reached(
    incident: Incident, point: Point, first_update_at: datetime | None
) -> datetime | None:
    if point == FIRST_UPDATE:
        return first_update_at
    return incident.reached(Status(point))


def _skipped(incident: Incident, point: Point) -> bool:
    if point == FIRST_UPDATE:
        return False
    milestone = incident.milestones.get(Status(point))
    return milestone is not None and milestone.skipped


def _stopped_at(incident: Incident, target: Target) -> datetime | None:
    """A first-update target stops counting when the incident is resolved."""
    if target.end != FIRST_UPDATE or incident.is_open:
        return None
    return incident.reached(Status.RESOLVED) or incident.reached(Status.CLOSED)


def _judge(
    incident: Incident,
    policy: TargetPolicy,
    target: Target,
    first_update_at: datetime | None,
    now: datetime,
) -> TargetState:
    start = _reached(incident, target.start, first_update_at)
    if start is None or _skipped(incident, target.end):
        return TargetState(target, Level.NOT_APPLICABLE)
    due = start + target.within

    reached = _reached(incident, target.end, first_update_at)
    if reached is not None:
        level = Level.MET if reached <= due else Level.MISSED
        return TargetState(target, level, due, reached, due - reached)

    stopped = _stopped_at(incident, target)
    if stopped is not None:
        if stopped <= due:
            return TargetState(target, Level.NOT_APPLICABLE, due)
        return TargetState(target, Level.MISSED, due, None, due - stopped)

    level = policy.running_level(due, now, target.within)
    return TargetState(target, level, due, None, due - now)


def target_states(
    incident: Incident,
    policy: TargetPolicy,
    now: datetime,
    *,
    first_update_at: datetime | None = None,
) -> list[TargetState]:
    """Each target for the incident's current severity, judged at `now`.

    Not applicable: the start milestone is not reached or was skipped, the end
    milestone was skipped, or the incident was resolved before a first update fell
    due. A first update never sent by resolution after it fell due is missed."""
    return [
        _judge(incident, policy, target, first_update_at, now)
        for target in policy.targets_for(incident.severity)
    ]
