"""The wall's read model: per service tile, what to draw and what to say.

Built from the metric cache's series and the poller's connection state by plain
functions, so every status rule is tested without a screen.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from mimdesk.domain.alert_links import DEFAULT_LABELS
from mimdesk.domain.alerts import AlertRecord, services_of
from mimdesk.domain.catalogue import Catalogue, Metric, Service
from mimdesk.domain.health import Health, MetricHealth, evaluate, format_value, worst
from mimdesk.domain.series import Series, stale_after


class Link(enum.Enum):
    """Can the wall reach its monitoring source?"""

    UNKNOWN = "unknown"  # no refresh finished yet
    CONNECTED = "connected"
    UNREACHABLE = "unreachable"  # network, DNS, refused, timeouts
    FAILING = "failing"  # reached, but answered with errors (auth, 5xx, bad query)


@dataclass(frozen=True)
class MetricView:
    """One metric of one service: its health, and its series for the graph."""

    metric: Metric
    health: MetricHealth
    series: tuple[Series, ...] = ()
    # Warnings Prometheus sent with the data ("partial response ...").
    warnings: tuple[str, ...] = ()
    # Query problems for this metric alone (bad expression, too expensive...).
    error: str = ""
    # "resolution reduced to 60s", "+4,800 series hidden".
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Tile:
    """A service tile: status (colour and words), headline value, graphs."""

    service: Service
    health: Health
    metrics: tuple[MetricView, ...]
    headline: str
    detail: str = ""
    # Names of the firing alerts mapped to the service, oldest start first.
    alerts: tuple[str, ...] = ()

    @property
    def alert_line(self) -> str:
        """'ALERT: HighErrorRate', 'ALERTS: A, B': words, never colour alone."""
        if not self.alerts:
            return ""
        noun = "ALERT" if len(self.alerts) == 1 else "ALERTS"
        return f"{noun}: {', '.join(self.alerts)}"

    @property
    def partial(self) -> bool:
        return any(m.warnings for m in self.metrics)

    @property
    def panels(self) -> tuple[MetricView, ...]:
        return tuple(m for m in self.metrics if m.metric.panel)[:2]


@dataclass(frozen=True)
class SourceState:
    """The poller's view of its source, shown in the wall's corner."""

    name: str = ""
    link: Link = Link.UNKNOWN
    demo: bool = False
    # Unix seconds of the last refresh that reached the source.
    last_success: float | None = None
    message: str = ""
    # Why the catalogue on disk was not taken (the wall keeps the last good one).
    catalogue_problem: str = ""


@dataclass(frozen=True)
class WallState:
    """Everything the wall shows at one moment."""

    tiles: tuple[Tile, ...] = ()
    source: SourceState = field(default_factory=SourceState)
    now: float = 0.0
    # The catalogue the tiles were built from (the one reloaded last): the
    # dependencies and business services that impact is worked out from.
    catalogue: Catalogue = field(default_factory=Catalogue)


@dataclass(frozen=True)
class Cached:
    """What the cache holds for one metric."""

    series: tuple[Series, ...] = ()
    empty_now: bool = False
    warnings: tuple[str, ...] = ()
    error: str = ""
    notes: tuple[str, ...] = ()


def build_tile(
    service: Service,
    cached: Mapping[str, Cached],
    *,
    catalogue: Catalogue,
    now: float,
    link: Link,
) -> Tile:
    """A tile from the cache: health per metric, the worst for the service."""
    wall = catalogue.wall
    limit = stale_after(wall.scrape_interval, wall.stale_factor)
    views = []
    for metric in service.metrics:
        entry = cached.get(metric.id, Cached())
        health = evaluate(
            metric.thresholds,
            entry.series,
            now=now,
            stale_limit=limit,
            empty_now=entry.empty_now,
        )
        views.append(
            MetricView(
                metric, health, entry.series, entry.warnings, entry.error, entry.notes
            )
        )
    # Broken monitoring is never shown as the service being down.
    if link in (Link.UNREACHABLE, Link.FAILING):
        status = Health.UNREACHABLE
    else:
        status = worst(v.health.health for v in views)
    headline, detail = _words(views, now)
    return Tile(service, status, tuple(views), headline, detail)


def _words(views: Sequence[MetricView], now: float) -> tuple[str, str]:
    """The headline value (first panel metric) and a line saying why."""
    if not views:
        return "", "no metrics in the catalogue"
    first = views[0]
    unit = first.metric.unit
    health = first.health
    value = None if health.value is None else health.value * first.metric.scale
    shown = format_value(value, unit)
    if health.health is Health.NO_DATA:
        if health.value is None or health.sampled_at is None:
            return "no data", ""
        return "no data", f"No data (last {shown}, {_ago(now - health.sampled_at)})"
    if health.health is Health.STALE and health.sampled_at is not None:
        return shown, f"Stale: last sample {_ago(now - health.sampled_at)}"
    bad = [v for v in views if v.health.health in (Health.WARNING, Health.CRITICAL)]
    if bad and bad[0] is not first:
        other = bad[0]
        value = other.health.value
        scaled = None if value is None else value * other.metric.scale
        return shown, f"{other.metric.name} {format_value(scaled, other.metric.unit)}"
    return shown, ""


def _ago(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 90:
        return f"{seconds} s ago"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min ago"
    return f"{round(seconds / 3600)} h ago"


def build_wall(
    catalogue: Catalogue,
    cached: Mapping[str, Mapping[str, Cached]],
    *,
    source: SourceState,
    now: float,
) -> WallState:
    """Every monitored service's tile, in catalogue order."""
    tiles = tuple(
        build_tile(
            service,
            cached.get(service.id, {}),
            catalogue=catalogue,
            now=now,
            link=source.link,
        )
        for service in catalogue.monitored
    )
    return WallState(tiles, source, now, catalogue)


# What an alert's `severity` label says about its service; other values (info,
# none, a team's own words) put the alert on the tile without moving its status.
ALERT_HEALTH: Mapping[str, Health] = {
    "critical": Health.CRITICAL,
    "warning": Health.WARNING,
}


def alert_health(records: Iterable[AlertRecord]) -> Health | None:
    """The worst status the firing alerts' severity labels ask for, if any."""
    found = [
        ALERT_HEALTH[level]
        for r in records
        if r.firing
        and (level := dict(r.labels).get("severity", "").lower()) in ALERT_HEALTH
    ]
    return max(found, key=lambda h: h.rank, default=None)


def raised(health: Health, by_alerts: Health | None) -> Health:
    """A tile's status once its alerts are counted: at least what they ask for.

    An alert is news from Alertmanager, not from the metric source, so it also
    replaces UNREACHABLE (the corner still says the source is unreachable)."""
    if by_alerts is None:
        return health
    if health is Health.UNREACHABLE:
        return by_alerts
    return max(health, by_alerts, key=lambda h: h.rank)


def with_alerts(
    state: WallState,
    records: Iterable[AlertRecord],
    label_names: Sequence[str] = DEFAULT_LABELS,
) -> WallState:
    """`state` with each tile naming the firing alerts mapped to its service, its
    status raised as their severity labels say. Resolved alerts change nothing."""
    known = [tile.service.id for tile in state.tiles]
    by_service: dict[str, list[AlertRecord]] = {}
    firing = sorted((r for r in records if r.firing), key=lambda r: r.starts_at)
    for record in firing:
        for service_id in services_of(record.labels, known, label_names):
            by_service.setdefault(service_id, []).append(record)
    tiles = tuple(
        _alerted(tile, by_service.get(tile.service.id, ())) for tile in state.tiles
    )
    return replace(state, tiles=tiles)


def _alerted(tile: Tile, records: Sequence[AlertRecord]) -> Tile:
    names = tuple(dict.fromkeys(r.name for r in records))
    health = raised(tile.health, alert_health(records))
    if names == tile.alerts and health is tile.health:
        return tile
    return replace(tile, alerts=names, health=health)
