"""Time series as monitoring returns them: special floats, steps, gaps, staleness.

Pure functions over plain sequences. Timestamps are Unix seconds (floats), as the
Prometheus API gives them; values are floats where NaN means "no value" and
+/-inf are real answers that cannot be drawn.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from mimdesk.domain.errors import DomainError

# Prometheus refuses a range query that would return more points than this.
MAX_POINTS = 11_000

# Steps a person reads without effort; the chosen step is the first one that fits.
NICE_STEPS = (
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800,
    21600, 43200, 86400,
)  # fmt: skip

_SPECIAL = {"NaN": math.nan, "+Inf": math.inf, "-Inf": -math.inf, "Inf": math.inf}


def parse_value(text: object) -> float:
    """A sample value as Prometheus writes it: a JSON string, maybe 'NaN' or '+Inf'.

    Anything else unreadable is a DomainError, never a silent zero."""
    if isinstance(text, str):
        special = _SPECIAL.get(text.strip())
        if special is not None:
            return special
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        raise DomainError(f"sample value {text!r} is not a number")
    try:
        return float(text)
    except ValueError:
        raise DomainError(f"sample value {text!r} is not a number") from None


def raw_value(value: float) -> str:
    """The Prometheus spelling of a value, so NaN and Inf survive storage."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


@dataclass(frozen=True)
class Step:
    """The step of a range query and why it is what it is."""

    seconds: int
    # True when the wanted step would have asked for too many points.
    coarsened: bool = False

    @property
    def note(self) -> str:
        return f"resolution reduced to {self.seconds}s" if self.coarsened else ""


def points(start: float, end: float, step: int) -> int:
    """How many points a range query [start, end] at `step` returns per series."""
    return int((end - start) // step) + 1


def choose_step(start: float, end: float, wanted: int, limit: int = MAX_POINTS) -> Step:
    """The smallest nice step >= `wanted` that keeps a query under `limit` points."""
    if end < start:
        raise DomainError("a range must end after it starts")
    if wanted < 1:
        raise DomainError("a step must be at least one second")
    floor = max(wanted, math.ceil((end - start) / (limit - 1)))
    nice = next((s for s in NICE_STEPS if s >= floor), None)
    seconds = nice if nice is not None else math.ceil(floor / 86400) * 86400
    return Step(seconds, coarsened=seconds > wanted and floor > wanted)


def align(start: float, end: float, step: int) -> tuple[int, int]:
    """Start and end on multiples of `step`, so the same instants are asked for on
    every refresh and history does not wiggle as the window moves."""
    first = math.ceil(start / step) * step
    last = math.floor(end / step) * step
    return first, max(first, last)


def break_gaps(
    times: Sequence[float], values: Sequence[float], step: float
) -> tuple[list[float], list[float]]:
    """Insert a NaN wherever consecutive samples are more than 1.5 steps apart, so a
    line is broken across missing scrapes instead of drawn straight over them."""
    out_t: list[float] = []
    out_v: list[float] = []
    previous: float | None = None
    for t, v in zip(times, values, strict=True):
        if previous is not None and t - previous > 1.5 * step:
            out_t.append(previous + step)
            out_v.append(math.nan)
        out_t.append(t)
        out_v.append(v)
        previous = t
    return out_t, out_v


def stale_after(scrape_interval: float, factor: float) -> float:
    """Seconds after which a sample is too old to stand for the present."""
    return scrape_interval * factor


def stale_mask(
    times: Sequence[float], sample_times: Sequence[float | None], limit: float
) -> list[bool]:
    """Which points only repeat an old sample (Prometheus's lookback carries the last
    sample forward for minutes after a target stops reporting)."""
    return [
        s is not None and t - s > limit
        for t, s in zip(times, sample_times, strict=True)
    ]


def finite_range(values: Sequence[float]) -> tuple[float, float] | None:
    """Lowest and highest finite value: what an axis may scale to."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return None
    return min(finite), max(finite)


def downsample(
    times: Sequence[float], values: Sequence[float], budget: int
) -> tuple[list[float], list[float]]:
    """At most about `budget` points, keeping each bucket's low and high so a spike
    stays visible. Non-finite values are kept: they are gaps and markers."""
    if len(times) <= budget or budget < 4:
        return list(times), list(values)
    size = math.ceil(len(times) / (budget // 2))
    out_t: list[float] = []
    out_v: list[float] = []
    for first in range(0, len(times), size):
        chunk = range(first, min(first + size, len(times)))
        odd = [i for i in chunk if not math.isfinite(values[i])]
        finite = [i for i in chunk if math.isfinite(values[i])]
        keep = set(odd[:2])
        if finite:
            keep.add(min(finite, key=lambda i: values[i]))
            keep.add(max(finite, key=lambda i: values[i]))
        for i in sorted(keep):
            out_t.append(times[i])
            out_v.append(values[i])
    return out_t, out_v


@dataclass(frozen=True)
class Series:
    """One labelled series: timestamps, values, and for each point the time of the
    sample it repeats (None when unknown)."""

    labels: tuple[tuple[str, str], ...]
    times: tuple[float, ...]
    values: tuple[float, ...]
    sample_times: tuple[float | None, ...] = field(default=())

    @property
    def name(self) -> str:
        shown = [f"{k}={v}" for k, v in self.labels if k != "__name__"]
        return ", ".join(shown) or dict(self.labels).get("__name__", "")

    def last(self) -> tuple[float, float] | None:
        """The newest (time, value), or None for an empty series."""
        if not self.times:
            return None
        return self.times[-1], self.values[-1]

    def last_sample_time(self) -> float | None:
        """When the newest point's sample was really taken, where known."""
        if not self.times:
            return None
        if self.sample_times and self.sample_times[-1] is not None:
            return self.sample_times[-1]
        return self.times[-1]


def labels_key(labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """A stable, hashable form of a label set."""
    return tuple(sorted(labels.items()))
