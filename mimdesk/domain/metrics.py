"""Response metrics across incidents: counts, duration spreads, targets met and
update cadence kept. Pure functions of incidents, their journals and `now`.

Durations are those of domain.durations, counted only once final (a running one
would drag a median down). The 90th percentile is the inclusive method of
`statistics.quantiles`, so with few incidents it stays between real values.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from mimdesk.domain.cadence import journal_cadence
from mimdesk.domain.durations import durations
from mimdesk.domain.events import JournalEvent
from mimdesk.domain.incident import Incident
from mimdesk.domain.lifecycle import Status
from mimdesk.domain.targets import Level, TargetPolicy, target_states
from mimdesk.domain.times import utc_iso_or_none

METRICS_FORMAT = "mimdesk.metrics/1"
MEASURES = ("time_to_acknowledge", "time_to_mobilise", "time_to_mitigate",
            "time_to_resolve")  # fmt: skip


@dataclass(frozen=True)
class Spread:
    """How a duration spreads over the incidents that have it."""

    count: int = 0
    median: timedelta | None = None
    p90: timedelta | None = None


@dataclass(frozen=True)
class Metrics:
    """Everything `mimdesk metrics` and the metrics view show."""

    incidents: int = 0
    by_severity: dict[int, int] = field(default_factory=dict)
    by_service: dict[str, int] = field(default_factory=dict)
    spreads: dict[str, Spread] = field(default_factory=dict)
    targets_met: int = 0
    targets_judged: int = 0
    cadence_kept: int = 0
    cadence_judged: int = 0
    since: datetime | None = None


def spread(values: Sequence[timedelta]) -> Spread:
    if not values:
        return Spread()
    seconds = sorted(v.total_seconds() for v in values)
    p90 = seconds[0]
    if len(seconds) > 1:
        p90 = statistics.quantiles(seconds, n=10, method="inclusive")[8]
    median = statistics.median(seconds)
    return Spread(len(seconds), timedelta(seconds=median), timedelta(seconds=p90))


def chosen(
    incidents: Iterable[Incident],
    *,
    since: datetime | None,
    include_demo: bool,
    include_exercise: bool = False,
) -> list[Incident]:
    """Incidents detected at or after `since`; DEMO and exercise ones only
    when asked for."""
    return [
        i
        for i in incidents
        if (include_demo or not i.demo)
        and (include_exercise or not i.exercise)
        and (since is None or i.detected_at >= since)
    ]


def cadence_kept(
    incident: Incident, events: Sequence[JournalEvent], policy: TargetPolicy,
    now: datetime,
) -> bool | None:  # fmt: skip
    """Whether every stakeholder update went out before it fell due, up to
    resolution (None when the incident was never declared)."""
    if incident.reached(Status.DECLARED) is None:
        return None
    end = incident.reached(Status.RESOLVED) or now
    state = journal_cadence(events, updates_sent=(), cadence=policy.cadence, now=end)
    return not state.reminders and state.overdue_by is None


def metrics(
    journals: Iterable[tuple[Incident, Sequence[JournalEvent]]],
    policy: TargetPolicy,
    now: datetime,
    *,
    since: datetime | None = None,
) -> Metrics:
    """The metrics over the incidents given (already chosen, see `chosen`)."""
    pairs = list(journals)
    found: dict[str, list[timedelta]] = {name: [] for name in MEASURES}
    judged: list[Level] = []
    kept: list[bool] = []
    for incident, events in pairs:
        for name, measure in vars(durations(incident, now)).items():
            if measure is not None and not measure.running:
                found[name].append(measure.value)
        judged += [
            t.level
            for t in target_states(incident, policy, now,
                                   first_update_at=incident.first_update_at)
            if t.level in (Level.MET, Level.MISSED)
        ]  # fmt: skip
        verdict = cadence_kept(incident, events, policy, now)
        kept += [] if verdict is None else [verdict]
    incidents = [i for i, _ in pairs]
    return Metrics(
        incidents=len(incidents),
        by_severity=dict(sorted(Counter(i.severity for i in incidents).items())),
        by_service=dict(
            Counter(s for i in incidents for s in i.services).most_common()
        ),
        spreads={name: spread(values) for name, values in found.items()},
        targets_met=judged.count(Level.MET),
        targets_judged=len(judged),
        cadence_kept=kept.count(True),
        cadence_judged=len(kept),
        since=since,
    )


def _seconds(value: timedelta | None) -> int | None:
    return None if value is None else round(value.total_seconds())


def metrics_json(found: Metrics) -> dict[str, Any]:
    return {
        "format": METRICS_FORMAT,
        "since": utc_iso_or_none(found.since),
        "incidents": found.incidents,
        "by_severity": {str(k): v for k, v in found.by_severity.items()},
        "by_service": found.by_service,
        "durations": {
            name: {
                "count": s.count,
                "median_seconds": _seconds(s.median),
                "p90_seconds": _seconds(s.p90),
            }
            for name, s in found.spreads.items()
        },
        "targets": {"met": found.targets_met, "judged": found.targets_judged},
        "cadence": {"kept": found.cadence_kept, "judged": found.cadence_judged},
    }
