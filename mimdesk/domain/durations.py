"""Incident durations measured between milestones, as differences of UTC instants.

Definitions (per incident; MTTA, MTTM and MTTR are the means of these over many):
- time to acknowledge: detected -> declared (declaring is the acknowledgement);
- time to mobilise: declared -> mobilised;
- time to mitigate: detected -> mitigated;
- time to resolve: detected -> resolved.
A duration is None when its end was not reached and can no longer run: skipped, or
the incident is no longer open. While the incident is open and the end milestone is
still ahead, it runs live to `now`. Nothing is invented from other milestones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from mimdesk.domain.incident import Incident
from mimdesk.domain.lifecycle import Status


@dataclass(frozen=True)
class Measure:
    """A duration; `running` when its end is still ahead and it counts to now."""

    value: timedelta
    running: bool = False


@dataclass(frozen=True)
class Durations:
    """The four durations of one incident at `now`."""

    time_to_acknowledge: Measure | None
    time_to_mobilise: Measure | None
    time_to_mitigate: Measure | None
    time_to_resolve: Measure | None


def measure(
    incident: Incident, start: Status, end: Status, now: datetime
) -> Measure | None:
    """From milestone `start` to `end`: final once `end` is reached, live while the
    incident is open and has not yet passed `end`, else None."""
    begun = incident.reached(start)
    if begun is None:
        return None
    ended = incident.reached(end)
    if ended is not None:
        return Measure(ended - begun)
    if incident.is_open and incident.status.rank < end.rank:
        return Measure(now - begun, running=True)
    return None


def durations(incident: Incident, now: datetime) -> Durations:
    """The incident's durations, final or live at `now`."""
    return Durations(
        time_to_acknowledge=measure(incident, Status.DETECTED, Status.DECLARED, now),
        time_to_mobilise=measure(incident, Status.DECLARED, Status.MOBILISED, now),
        time_to_mitigate=measure(incident, Status.DETECTED, Status.MITIGATED, now),
        time_to_resolve=measure(incident, Status.DETECTED, Status.RESOLVED, now),
    )
