"""WallStates built from domain functions, for the wall's GUI tests."""

from __future__ import annotations

import math

from mimdesk.domain.catalogue import Catalogue, Metric, Service, WallConfig
from mimdesk.domain.health import Thresholds
from mimdesk.domain.series import Series
from mimdesk.domain.wall import Cached, Link, SourceState, WallState, build_wall

NOW = 1_796_306_400.0  # 2026-12-03 14:00 UTC
STEP = 60
CONFIG = WallConfig(history_hours=6.0, scrape_interval=STEP, step_seconds=STEP)


def availability(number: int) -> Metric:
    return Metric(
        "availability",
        "Availability",
        f"avail{number}",
        unit="%",
        thresholds=Thresholds(0.995, 0.99, high_is_bad=False),
        scale=100.0,
    )


def latency() -> Metric:
    return Metric(
        "latency", "Latency p95", "lat", unit="ms", thresholds=Thresholds(300, 800)
    )


def catalogue(
    count: int, *, metrics: int = 2, config: WallConfig = CONFIG
) -> Catalogue:
    services = tuple(
        Service(
            f"svc-{n:02d}",
            f"Service {n:02d}",
            metrics=(availability(n), latency())[:metrics],
        )
        for n in range(count)
    )
    return Catalogue(services, config)


def wave(
    points: int, *, base: float, swing: float, phase: float = 0.0, now: float = NOW
) -> Series:
    """`points` samples one STEP apart ending at `now`."""
    times = tuple(now - STEP * (points - 1 - i) for i in range(points))
    values = tuple(base + swing * math.sin(i / 40 + phase) for i in range(points))
    return Series((("instance", "a"),), times, values, times)


def series_for(metric: Metric, points: int, phase: float, now: float) -> Series:
    if metric.id == "availability":
        return wave(points, base=0.997, swing=0.003, phase=phase, now=now)
    return wave(points, base=250.0, swing=120.0, phase=phase, now=now)


def state(
    count: int = 12,
    *,
    points: int = 360,
    phase: float = 0.0,
    now: float = NOW,
    link: Link = Link.CONNECTED,
    demo: bool = False,
    metrics: int = 2,
    message: str = "",
) -> WallState:
    """`count` services, each metric a sine wave of `points` samples."""
    cat = catalogue(count, metrics=metrics)
    cached = {
        s.id: {
            m.id: Cached((series_for(m, points, phase + n, now),)) for m in s.metrics
        }
        for n, s in enumerate(cat.services)
    }
    source = SourceState("test", link, demo, now - 15, message)
    return build_wall(cat, cached, source=source, now=now)
