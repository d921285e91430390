"""Business impact: how hurt technical services hurt business services and customers.

Worked out from the catalogue's dependency graph and each service's health, by
plain functions of data and time:

- A service whose health is CRITICAL is down, WARNING degraded, OK not impacted.
- STALE, NO DATA and UNREACHABLE are *unknown*: shown as such, never counted as
  impacted and never as fine. Unknown reaches a service above only when nothing
  there is known to be worse and its own health is not measured OK (its own
  metrics are better evidence than a silent exporter below it).
- A service with no metrics has no level of its own: it takes what its
  dependencies give it.
- Along a hard dependency a level arrives unchanged; along a soft one, down
  arrives as degraded.
- A business service takes the worst of its technical services the same way.
  For an incident, an operator's override wins over the computed level, and
  both are kept.
- A segment takes the worst of the business services that serve it; its
  customers are counted once however many of them reach it. Revenue at risk
  counts each affected segment (degraded or down) in full: at risk, not lost.

Where several inputs are equally bad, the shortest path is given as the reason,
and of those the first in the catalogue's order, so the same data always reads
the same way.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from mimdesk.domain.catalogue import (
    SOFT,
    BusinessService,
    Catalogue,
    Segment,
    Service,
    dependency_order,
)
from mimdesk.domain.health import Health
from mimdesk.domain.incident import Incident


class Level(enum.Enum):
    """How hurt something is; `rank` orders them, worst last."""

    NONE = "none"
    UNKNOWN = "unknown"
    DEGRADED = "degraded"
    DOWN = "down"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def impacted(self) -> bool:
        """Degraded or down: counted in customers and revenue."""
        return self in (Level.DEGRADED, Level.DOWN)

    @property
    def label(self) -> str:
        """The word shown beside the colour."""
        return "NOT IMPACTED" if self is Level.NONE else self.value.upper()


_RANK = {Level.NONE: 0, Level.UNKNOWN: 1, Level.DEGRADED: 2, Level.DOWN: 3}

HEALTH_LEVELS: Mapping[Health, Level] = {
    Health.OK: Level.NONE,
    Health.WARNING: Level.DEGRADED,
    Health.CRITICAL: Level.DOWN,
    Health.STALE: Level.UNKNOWN,
    Health.NO_DATA: Level.UNKNOWN,
    Health.UNREACHABLE: Level.UNKNOWN,
}


def level_of(health: Health) -> Level:
    return HEALTH_LEVELS[health]


@dataclass(frozen=True)
class Step:
    """One link of a reason: the service reached, and by which kind of edge."""

    service: str
    edge: str  # HARD or SOFT


@dataclass(frozen=True)
class Cause:
    """Why something is at its level: the path from its input down to the
    service whose own health started it (`path` is empty for that service)."""

    origin: str
    health: Health
    path: tuple[Step, ...] = ()

    def through(self, service: str, edge: str) -> Cause:
        """This cause as seen one edge further up."""
        return Cause(self.origin, self.health, (Step(service, edge), *self.path))

    def text(self) -> str:
        """'card-gateway (hard) ← core-banking (hard) ← ledger-db (hard): WARNING'."""
        if not self.path:
            return f"own health {self.health.label}"
        steps = " \u2190 ".join(f"{s.service} ({s.edge})" for s in self.path)
        return f"{steps}: {self.health.label}"


@dataclass(frozen=True)
class ServiceImpact:
    """A technical service: its own health (None: not monitored) and its level."""

    service: Service
    level: Level
    health: Health | None = None
    cause: Cause | None = None
    # Every service its level came through (itself too, when its own health
    # counts); empty when not impacted.
    via: frozenset[str] = frozenset()

    @property
    def why(self) -> str:
        if self.cause is None:
            return "not monitored" if self.health is None else ""
        return self.cause.text()


@dataclass(frozen=True)
class Override:
    """An operator's word on a business service's impact for one incident."""

    business_service: str
    level: Level
    reason: str
    actor: str
    at: datetime


@dataclass(frozen=True)
class BusinessImpact:
    """A business service: the level that counts, the one computed, and why."""

    business: BusinessService
    level: Level
    computed: Level
    cause: Cause | None = None
    override: Override | None = None
    since: datetime | None = None
    customers: int = 0
    # Every technical service its computed level came through.
    via: frozenset[str] = frozenset()

    @property
    def why(self) -> str:
        """'down (override by dana: “branches closed”) — computed: degraded'."""
        o = self.override
        if o is not None:
            return (
                f"{o.level.value} (override by {o.actor}: \u201c{o.reason}\u201d) "
                f"\u2014 computed: {self.computed.value}"
            )
        return self.cause.text() if self.cause else ""


@dataclass(frozen=True)
class SegmentImpact:
    """A customer segment, as hurt as the worst business service serving it."""

    segment: Segment
    level: Level
    currency: str
    # The business services that bring it to its level, in catalogue order.
    business_services: tuple[str, ...] = ()
    since: datetime | None = None

    def cost(self, until: datetime | None) -> float | None:
        """Revenue at risk from `since` to `until`; None when either is unknown."""
        revenue, since = self.segment.revenue_per_hour, self.since
        if revenue is None or since is None or until is None:
            return None
        if not self.level.impacted:
            return None
        return revenue * max(until - since, timedelta()) / timedelta(hours=1)


@dataclass(frozen=True)
class ImpactReport:
    """Impact at one moment, for the whole catalogue or for one incident.

    `until` is where running costs stop (now while the incident is open); `note`
    says why nothing could be worked out, when that is so.
    """

    services: tuple[ServiceImpact, ...] = ()
    business: tuple[BusinessImpact, ...] = ()
    segments: tuple[SegmentImpact, ...] = ()
    now: datetime | None = None
    since: datetime | None = None
    until: datetime | None = None
    incident: Incident | None = None
    note: str = ""
    # Overrides for business services the catalogue no longer has.
    unmatched: tuple[Override, ...] = ()

    @property
    def impacted(self) -> tuple[BusinessImpact, ...]:
        return tuple(b for b in self.business if b.level.impacted)

    @property
    def customers_affected(self) -> int:
        return sum(s.segment.customers for s in self.segments if s.level.impacted)

    @property
    def customers_unknown(self) -> int:
        return sum(
            s.segment.customers for s in self.segments if s.level is Level.UNKNOWN
        )

    @property
    def revenue_per_hour(self) -> dict[str, float]:
        """Revenue at risk an hour, by currency."""
        found: dict[str, float] = {}
        for s in self.segments:
            revenue = s.segment.revenue_per_hour
            if s.level.impacted and revenue is not None:
                found[s.currency] = found.get(s.currency, 0.0) + revenue
        return found

    @property
    def running_cost(self) -> dict[str, float]:
        """Revenue at risk since each segment was first hurt, by currency."""
        found: dict[str, float] = {}
        for s in self.segments:
            cost = s.cost(self.until)
            if cost is not None:
                found[s.currency] = found.get(s.currency, 0.0) + cost
        return found

    def business_cost(
        self, item: BusinessImpact
    ) -> tuple[dict[str, float], dict[str, float]]:
        """(revenue at risk an hour, since `item.since`) of one business service's
        segments, by currency. Shared segments make these not add up: the
        report's totals count each segment once."""
        hourly: dict[str, float] = {}
        so_far: dict[str, float] = {}
        if not item.level.impacted:
            return hourly, so_far
        hours = None
        if item.since is not None and self.until is not None:
            hours = max(self.until - item.since, timedelta()) / timedelta(hours=1)
        for s in self.segments:
            revenue = s.segment.revenue_per_hour
            if s.segment.id not in item.business.segments or revenue is None:
                continue
            hourly[s.currency] = hourly.get(s.currency, 0.0) + revenue
            if hours is not None:
                so_far[s.currency] = so_far.get(s.currency, 0.0) + revenue * hours
        return hourly, so_far


# --- propagation ----------------------------------------------------------------


@dataclass(frozen=True)
class _Reach:
    """A level as it reaches a node: why, and every service it came through."""

    level: Level
    cause: Cause | None = None
    via: frozenset[str] = frozenset()

    def along(self, service: str, edge: str) -> _Reach:
        """One edge further up: soft edges pass down on as degraded."""
        level = self.level
        if edge == SOFT and level is Level.DOWN:
            level = Level.DEGRADED
        cause = None if self.cause is None else self.cause.through(service, edge)
        return _Reach(level, cause, self.via | {service})


_FINE = _Reach(Level.NONE)


def _combine(own: _Reach | None, inputs: Sequence[_Reach]) -> _Reach:
    """The worst of `own` and `inputs` (of equals, the shortest reason, then the
    first, through all of them); unknown only where nothing is worse and `own`
    is not a measured OK."""
    candidates = ([own] if own is not None else []) + list(inputs)
    worst = max((c.level.rank for c in candidates), default=0)
    if own is not None and own.level is Level.NONE and worst < _RANK[Level.DEGRADED]:
        return _FINE
    equal = [c for c in candidates if c.level.rank == worst]
    if worst == 0:
        return _FINE
    chosen = min(equal, key=lambda c: len(c.cause.path) if c.cause else 0)
    return _Reach(
        chosen.level, chosen.cause, frozenset().union(*(c.via for c in equal))
    )


def _own(sid: str, health: Health | None) -> _Reach | None:
    if health is None:
        return None
    level = level_of(health)
    if level is Level.NONE:
        return _FINE
    return _Reach(level, Cause(sid, health), frozenset({sid}))


def service_impacts(
    catalogue: Catalogue, health: Mapping[str, Health]
) -> dict[str, ServiceImpact]:
    """Every technical service's level, dependencies first; `health` holds the
    monitored services' own health (others are not monitored)."""
    found: dict[str, _Reach] = {}
    by_id = {s.id: s for s in catalogue.services}
    for sid in dependency_order(catalogue.services):
        inputs = [found[d].along(d, edge) for d, edge in by_id[sid].edges]
        found[sid] = _combine(_own(sid, health.get(sid)), inputs)
    return {
        s.id: ServiceImpact(
            s, found[s.id].level, health.get(s.id), found[s.id].cause, found[s.id].via
        )
        for s in catalogue.services
    }


def _reach(item: ServiceImpact) -> _Reach:
    return _Reach(item.level, item.cause, item.via)


def business_impacts(
    catalogue: Catalogue,
    services: Mapping[str, ServiceImpact],
    overrides: Mapping[str, Override] | None = None,
) -> tuple[BusinessImpact, ...]:
    """Every business service's computed level, and the one that counts."""
    chosen = overrides or {}
    sizes = {s.id: s.customers for s in catalogue.segments}
    found = []
    for business in catalogue.business_services:
        inputs = [_reach(services[s]).along(s, edge) for s, edge in business.edges]
        computed = _combine(None, inputs)
        override = chosen.get(business.id)
        level = override.level if override is not None else computed.level
        customers = sum(sizes.get(seg, 0) for seg in business.segments)
        found.append(
            BusinessImpact(
                business, level, computed.level, computed.cause, override, None,
                customers, computed.via,
            )
        )  # fmt: skip
    return tuple(found)


def segment_impacts(
    catalogue: Catalogue, business: Sequence[BusinessImpact]
) -> tuple[SegmentImpact, ...]:
    """Each segment served by at least one of `business`, in catalogue order,
    dated from the first of them to be hurt."""
    found = []
    for segment in catalogue.segments:
        serving = [b for b in business if segment.id in b.business.segments]
        if not serving:
            continue
        level = _combine(None, [_Reach(b.level) for b in serving]).level
        reaching = [b for b in serving if b.level is level and level is not Level.NONE]
        starts = [b.since for b in serving if b.level.impacted and b.since]
        found.append(
            SegmentImpact(
                segment,
                level,
                segment.currency or catalogue.currency,
                tuple(b.business.id for b in reaching),
                min(starts) if starts and level.impacted else None,
            )
        )
    return tuple(found)


# --- what one seat has seen -----------------------------------------------------


@dataclass(frozen=True)
class Sightings:
    """When one seat started looking at an incident's impact, and when it first
    saw each business service impacted after that. A service already impacted at
    the first look is dated from the incident's impact start instead (None here):
    nobody here saw it begin. Kept in memory; a restart looks afresh."""

    watching_since: datetime | None = None
    first_seen: Mapping[str, datetime | None] = field(default_factory=dict)


def sighted(previous: Sightings, report: ImpactReport, now: datetime) -> Sightings:
    """`previous` with what `report` shows at `now`; the earliest sighting stays."""
    impacted = [b.business.id for b in report.business if b.level.impacted]
    first = dict(previous.first_seen)
    for business_id in impacted:
        if business_id not in first:
            first[business_id] = now if previous.watching_since is not None else None
    return Sightings(previous.watching_since or now, first)


# --- the report -----------------------------------------------------------------


def impact_start(incident: Incident) -> datetime:
    """When an incident's impact began: the impact-started milestone, else detection."""
    return incident.impact_started_at or incident.detected_at


def live_impact(
    catalogue: Catalogue,
    health: Mapping[str, Health],
    now: datetime,
    sightings: Sightings | None = None,
) -> ImpactReport:
    """The whole catalogue's impact now. Without an incident nothing says when
    impact began, so a business service is dated only if `sightings` saw it
    begin (and running costs run from then)."""
    services = service_impacts(catalogue, health)
    business = business_impacts(catalogue, services)
    seen = sightings.first_seen if sightings else {}
    business = tuple(_dated(b, seen.get(b.business.id)) for b in business)
    return ImpactReport(
        services=tuple(services.values()),
        business=business,
        segments=segment_impacts(catalogue, business),
        now=now,
        until=now,
    )


def _dated(item: BusinessImpact, since: datetime | None) -> BusinessImpact:
    if not item.level.impacted or since is None:
        return item
    return replace(item, since=since)


def incident_impact(
    catalogue: Catalogue,
    health: Mapping[str, Health],
    incident: Incident,
    overrides: Mapping[str, Override],
    now: datetime,
    sightings: Sightings | None = None,
) -> ImpactReport:
    """An open incident's impact: the business services whose impact comes
    through a service it names (that service hurt, or passing on what hurts
    one below it), and those the operator overrode; dated from the incident's
    impact start, or later where `sightings` saw one begin later.

    A business service hurt only by something the incident does not name is
    left out: it is another incident's, even when it is built on the same
    services."""
    if not incident.is_open:
        return ImpactReport(
            now=now,
            incident=incident,
            note=f"{incident.id} is {incident.status.value}: impact is worked out "
            "from live health only while an incident is open",
        )
    services = service_impacts(catalogue, health)
    named = set(incident.services)
    business = tuple(
        b
        for b in business_impacts(catalogue, services, overrides)
        if b.business.id in overrides or b.via & named
    )
    start = impact_start(incident)
    seen = sightings.first_seen if sightings else {}
    business = tuple(
        _dated(b, _later(start, seen.get(b.business.id))) for b in business
    )
    known = {b.id for b in catalogue.business_services}
    wanted = named.union(*(b.via for b in business))
    return ImpactReport(
        services=tuple(services[s.id] for s in catalogue.services if s.id in wanted),
        business=business,
        segments=segment_impacts(catalogue, business),
        now=now,
        since=start,
        until=now,
        incident=incident,
        unmatched=tuple(o for k, o in overrides.items() if k not in known),
    )


def _later(start: datetime, seen: datetime | None) -> datetime:
    return max(start, seen) if seen is not None else start
