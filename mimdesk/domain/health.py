"""Service health from metric thresholds: what the wall says about each service.

A status is decided from data and time only. "Monitoring cannot be reached" is a
status of its own and never reads as the service being down; "no data" is never
zero; a sample that Prometheus merely carried forward is stale, not healthy.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mimdesk.domain.errors import DomainError
from mimdesk.domain.series import Series


class Health(enum.Enum):
    """A service's or metric's state, worst last in `RANK`."""

    OK = "ok"
    NO_DATA = "no_data"
    STALE = "stale"
    WARNING = "warning"
    CRITICAL = "critical"
    UNREACHABLE = "unreachable"

    @property
    def label(self) -> str:
        """The words shown beside the colour (colour is never the only signal)."""
        return _LABELS[self]

    @property
    def rank(self) -> int:
        return _RANK[self]


_LABELS = {
    Health.OK: "OK",
    Health.NO_DATA: "NO DATA",
    Health.STALE: "STALE",
    Health.WARNING: "WARNING",
    Health.CRITICAL: "CRITICAL",
    Health.UNREACHABLE: "UNREACHABLE",
}
# No data and stale outrank OK: a target that stopped reporting must not look
# healthy. A threshold breach outranks both.
_RANK = {
    Health.OK: 0,
    Health.NO_DATA: 1,
    Health.STALE: 2,
    Health.WARNING: 3,
    Health.CRITICAL: 4,
    Health.UNREACHABLE: 5,
}


@dataclass(frozen=True)
class Thresholds:
    """Warning and critical levels and which direction is bad."""

    warning: float | None = None
    critical: float | None = None
    high_is_bad: bool = True

    def __post_init__(self) -> None:
        if self.warning is None or self.critical is None:
            return
        if self.high_is_bad and self.warning > self.critical:
            raise DomainError(
                f"warning ({self.warning:g}) must not be above critical "
                f"({self.critical:g}) when high values are bad"
            )
        if not self.high_is_bad and self.warning < self.critical:
            raise DomainError(
                f"warning ({self.warning:g}) must not be below critical "
                f"({self.critical:g}) when low values are bad"
            )

    def classify(self, value: float) -> Health:
        """OK, WARNING or CRITICAL for a value; NaN has no value, so NO DATA."""
        if math.isnan(value):
            return Health.NO_DATA
        for level, health in (
            (self.critical, Health.CRITICAL),
            (self.warning, Health.WARNING),
        ):
            if level is not None and self._breaches(value, level):
                return health
        return Health.OK

    def _breaches(self, value: float, level: float) -> bool:
        return value >= level if self.high_is_bad else value <= level


@dataclass(frozen=True)
class MetricHealth:
    """A metric's state now, with the value that decided it."""

    health: Health
    value: float | None = None
    # When the deciding value was sampled (Unix seconds), for "3 min ago".
    sampled_at: float | None = None
    series: str = ""
    reason: str = ""


def evaluate(
    thresholds: Thresholds,
    series: Sequence[Series],
    *,
    now: float,
    stale_limit: float,
    empty_now: bool = False,
) -> MetricHealth:
    """The health of one metric from its series (the cache's latest view).

    `empty_now`: the latest query answered with no series at all. `stale_limit`:
    seconds after which a sample no longer stands for the present.
    """
    last = _last_known(series)
    if empty_now or last is None:
        return _no_data(last, now)
    states = [_series_health(thresholds, s, now, stale_limit) for s in series]
    return max(states, key=lambda m: m.health.rank)


def _last_known(series: Sequence[Series]) -> tuple[float, float] | None:
    points = [p for s in series if (p := s.last()) is not None]
    return max(points) if points else None


def _no_data(last: tuple[float, float] | None, now: float) -> MetricHealth:
    if last is None:
        return MetricHealth(Health.NO_DATA, reason="no data")
    when, value = last
    return MetricHealth(Health.NO_DATA, value, when, reason="no data now")


def _series_health(
    thresholds: Thresholds, series: Series, now: float, stale_limit: float
) -> MetricHealth:
    point = series.last()
    sampled = series.last_sample_time()
    if point is None or sampled is None:
        return MetricHealth(Health.NO_DATA, reason="no data")
    value = point[1]
    age = now - sampled
    if age > stale_limit:
        return MetricHealth(
            Health.STALE, value, sampled, series.name, "last sample too old"
        )
    health = thresholds.classify(value)
    return MetricHealth(health, value, sampled, series.name)


def worst(states: Iterable[Health]) -> Health:
    """The state a tile shows for several metrics: the worst of them."""
    return max(states, key=lambda h: h.rank, default=Health.NO_DATA)


def format_value(value: float | None, unit: str = "", digits: int = 4) -> str:
    """A value for a tile: 'n/a' for NaN, '∞' for infinities, else with its unit."""
    if value is None or math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "∞" if value > 0 else "-∞"
    text = _compact(value, digits)
    if not unit:
        return text
    return f"{text}{unit}" if unit in ("%", "s", "ms") else f"{text} {unit}"


def _compact(value: float, digits: int) -> str:
    magnitude = abs(value)
    for size, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if magnitude >= size:
            return f"{value / size:.{digits}g}{suffix}"
    return f"{value:.{digits}g}"
