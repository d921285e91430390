"""The built-in DEMO source: plausible series for any catalogue, with no server.

It answers `query_range` and `query` like the Prometheus client. Values are a pure
function of the expression and the time, so every refresh and every test sees the
same history. Two services degrade for a few minutes in every 20, so the wall
shows WARNING and CRITICAL; the ledger database runs slow (WARNING) for most of
every 20 minutes, so business impact shows on the wall; one stops reporting once
an hour, so it shows STALE.
Every series carries the label demo="DEMO" and every answer the note "DEMO".
"""

from __future__ import annotations

import math
import re
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from mimdesk.connectors.prometheus import QueryResult
from mimdesk.domain.series import Series, choose_step

DEMO = "DEMO"
LABELS = (("demo", DEMO),)
CYCLE_S = 20 * 60


@dataclass(frozen=True)
class Profile:
    """A kind of signal: its usual level, wobble, and how an incident moves it."""

    base: float
    wobble: float
    # Added at the peak of a degradation (negative: the value falls).
    degraded: float
    low: float = 0.0
    high: float = math.inf


# First match wins; the patterns are what real expressions of each kind contain.
PROFILES: tuple[tuple[re.Pattern[str], Profile], ...] = (
    (re.compile(r'code=~"5'), Profile(0.0015, 0.001, 0.09, high=1.0)),
    (re.compile(r'code!~"5'), Profile(0.9994, 0.00025, -0.03, high=1.0)),
    (re.compile(r"histogram_quantile\(0\.9"), Profile(0.18, 0.05, 1.3)),
    (re.compile(r"probe_duration"), Profile(0.045, 0.015, 0.6)),
    (re.compile(r"\bup\b|probe_success"), Profile(0.9995, 0.0005, -0.2, high=1.0)),
    (re.compile(r"queue|backlog"), Profile(40.0, 25.0, 900.0)),
    (re.compile(r"pool|cpu|saturation|utili"), Profile(0.45, 0.12, 0.5, high=1.0)),
)
GENERIC = Profile(0.4, 0.15, 0.5)

# Services that degrade: (start within the 20-minute cycle, seconds, strength).
DEGRADING = {
    "payments-api": (0.0, 420.0, 1.0),
    "mobile-bff": (600.0, 300.0, 0.7),
    # Slow, never down: its dependants show as degraded, its business services
    # and their customers as impacted. Well for about five minutes in twenty,
    # and at the top of each hour.
    "ledger-db": (30.0, 900.0, 0.5),
}
# A service whose exporter stops for four minutes every hour: its last sample is
# carried forward, as Prometheus does, and the wall must say STALE.
STOPPING = {"intranet-search": (3000.0, 240.0)}

# How degraded a service is at an instant (0 well, 1 down), in place of the cycles.
Level = Callable[[str, float], float]

_SERVICE = re.compile(r'(?:service|job)="([^"]+)"')
_TIMESTAMP = re.compile(r"^\s*timestamp\((.*)\)\s*$", re.DOTALL)


class DemoSource:
    """A stand-in for a Prometheus server, deterministic from the expression and
    the time. Safe to share between threads: it holds no state."""

    name = DEMO
    demo = True
    base_url = "demo:"

    def __init__(
        self,
        now: Callable[[], float] = time.time,
        level: Level | None = None,
        label: str = DEMO,
    ) -> None:
        """`level(service, t)`, when given, replaces the built-in cycles of
        degradation and staleness (an exercise's scenario drives it)."""
        self._now = now
        self._level = level
        self._labels = (("demo", label),)
        self._note = label
        self.name = label

    def close(self) -> None:
        """Nothing to release; here so callers treat every source alike."""

    def query(self, expr: str, at: float | None = None) -> QueryResult:
        when = self._now() if at is None else at
        series = self._series(expr, (when,))
        return QueryResult("vector", (series,), notes=(self._note,))

    def query_range(
        self, expr: str, start: float, end: float, step: int
    ) -> QueryResult:
        chosen = choose_step(start, end, step)
        count = int((end - start) // chosen.seconds) + 1
        times = tuple(start + i * chosen.seconds for i in range(count))
        notes = ((chosen.note,) if chosen.note else ()) + (self._note,)
        series = self._series(expr, times)
        return QueryResult("matrix", (series,), step=chosen, notes=notes)

    def _series(self, expr: str, times: tuple[float, ...]) -> Series:
        inner = _TIMESTAMP.match(expr)
        target = inner.group(1) if inner else expr
        signal = Signal.of(target, self._level)
        sampled = tuple(signal.sampled_at(t) for t in times)
        if inner:
            return Series(self._labels, times, sampled)
        values = tuple(signal.value(s) for s in sampled)
        return Series(self._labels, times, values, sampled)


@dataclass(frozen=True)
class Signal:
    """One expression's made-up behaviour."""

    seed: int
    profile: Profile
    service: str
    level: Level | None = None

    @classmethod
    def of(cls, expr: str, level: Level | None = None) -> Signal:
        profile = next((p for pattern, p in PROFILES if pattern.search(expr)), GENERIC)
        found = _SERVICE.search(expr)
        seed = zlib.crc32(expr.strip().encode("utf-8"))
        return cls(seed, profile, found.group(1) if found else "", level)

    def sampled_at(self, t: float) -> float:
        """When the sample shown at `t` was really taken."""
        stop = None if self.level else STOPPING.get(self.service)
        if stop is not None:
            begin, length = stop
            into = t % 3600 - begin
            if 0 <= into < length:
                return t - into
        return t

    def value(self, t: float) -> float:
        p = self.profile
        phase = (self.seed % 1000) / 1000 * 2 * math.pi
        wave = math.sin(2 * math.pi * t / 3600 + phase) * 0.6
        wave += math.sin(2 * math.pi * t / 317 + 2 * phase) * 0.25
        wave += (_noise(self.seed, t) - 0.5) * 0.3
        level = p.base + p.wobble * wave + p.degraded * self.degradation(t)
        return min(p.high, max(p.low, level))

    def degradation(self, t: float) -> float:
        """0 normally; rises to 1 and falls back during the service's bad minutes."""
        if self.level is not None:
            return self.level(self.service, t)
        window = DEGRADING.get(self.service)
        if window is None:
            return 0.0
        begin, length, strength = window
        into = t % CYCLE_S - begin
        if not 0 <= into < length:
            return 0.0
        return strength * math.sin(math.pi * into / length)


def _noise(seed: int, t: float) -> float:
    """A repeatable number in [0, 1) for this expression at this instant."""
    return zlib.crc32(f"{seed}:{int(t)}".encode()) / 2**32
