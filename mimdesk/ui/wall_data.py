"""Arrays a tile's graph draws: gaps, stale stretches, off-scale marks, axis ranges.

Plain numpy, no Qt, so what a graph will show is tested without a screen.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

import numpy as np

from mimdesk.domain.health import Thresholds
from mimdesk.domain.series import Series
from mimdesk.domain.times import zone_abbreviation

# Axis tick spacings a person reads at a glance (seconds).
TICK_SPACINGS = (60, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)

# Every zone's offset from UTC is a whole number of quarter hours.
ZONE_GRAIN = 900

_EMPTY = np.empty(0)


@dataclass(frozen=True)
class PanelData:
    """One metric's graph: `fresh` and `stale` share `x` (NaN where the other
    draws; `stale` is empty when nothing is stale); `top`/`bottom` are the times
    of +inf/-inf values."""

    x: np.ndarray
    fresh: np.ndarray
    stale: np.ndarray
    top: np.ndarray
    bottom: np.ndarray
    low: float | None
    high: float | None

    @property
    def empty(self) -> bool:
        return self.x.size == 0


def _floats(values: Sequence[float | None]) -> np.ndarray:
    """A float array of a tuple; None becomes NaN."""
    try:
        return np.fromiter(values, float, len(values))
    except TypeError:  # a None: the slower way, which reads it as NaN
        return np.array(values, dtype=float)


def _step(times: np.ndarray) -> float:
    """The series' step: its smallest spacing (gaps only make spacings longer)."""
    spacings = np.diff(times)
    spacings = spacings[spacings > 0]
    return float(spacings.min()) if spacings.size else 0.0


def _stale(series: Series, times: np.ndarray, limit: float) -> np.ndarray | None:
    """The rule of series.stale_mask, vectorised: the point repeats a sample
    older than `limit`. None when no point does."""
    if not series.sample_times:
        return None
    with np.errstate(invalid="ignore"):
        stale = (times - _floats(series.sample_times)) > limit
    return stale if stale.any() else None


def _one(
    series: Series, scale: float, limit: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """x, y and stale flags (None: none stale) of one series, NaN inserted across
    missing steps."""
    times = _floats(series.times)
    values = _floats(series.values)
    if scale != 1.0:
        values *= scale
    stale = _stale(series, times, limit)
    step = _step(times)
    if step > 0:
        after = np.nonzero(np.diff(times) > 1.5 * step)[0] + 1
        if after.size:
            times = np.insert(times, after, times[after - 1] + step)
            values = np.insert(values, after, math.nan)
            if stale is not None:
                stale = np.insert(stale, after, False)
    return times, values, stale


def _joined(
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Series end to end, each but the last followed by a NaN break."""
    if len(parts) == 1:
        return parts[0]
    x = np.concatenate([np.append(t, t[-1]) for t, _, _ in parts])[:-1]
    y = np.concatenate([np.append(v, math.nan) for _, v, _ in parts])[:-1]
    if all(s is None for _, _, s in parts):
        return x, y, None
    stale = np.concatenate(
        [
            np.append(np.zeros(t.size, bool) if s is None else s, False)
            for t, _, s in parts
        ]
    )[:-1]
    return x, y, stale


def panel_data(
    series: Iterable[Series], *, scale: float, stale_limit: float
) -> PanelData:
    """Everything one panel draws, its series joined end to end by NaN breaks."""
    parts = [_one(s, scale, stale_limit) for s in series if s.times]
    if not parts:
        return PanelData(_EMPTY, _EMPTY, _EMPTY, _EMPTY, _EMPTY, None, None)
    x, y, stale = _joined(parts)
    finite = np.isfinite(y)
    if finite.all():
        shown, top, bottom = y, _EMPTY, _EMPTY
    else:
        shown = np.where(finite, y, math.nan)
        top, bottom = x[np.isposinf(y)], x[np.isneginf(y)]
    low, high = _bounds(shown)
    if stale is None:
        return PanelData(x, shown, _EMPTY, top, bottom, low, high)
    # The stale line starts at the last fresh point, so the two lines join.
    joined = stale | np.append(stale[1:], False)
    return PanelData(
        x,
        np.where(stale, math.nan, shown),
        np.where(joined, shown, math.nan),
        top,
        bottom,
        low,
        high,
    )


def _bounds(values: np.ndarray) -> tuple[float | None, float | None]:
    """Smallest and largest value, NaN left out; None for none."""
    if not values.size:
        return None, None
    low, high = float(np.fmin.reduce(values)), float(np.fmax.reduce(values))
    if math.isnan(low):
        return None, None
    return low, high


def scaled_levels(thresholds: Thresholds, scale: float) -> tuple[float | None, ...]:
    """Warning and critical in the units the graph is drawn in."""
    return tuple(
        None if level is None else level * scale
        for level in (thresholds.warning, thresholds.critical)
    )


def y_range(
    low: float | None, high: float | None, levels: Sequence[float | None] = ()
) -> tuple[float, float]:
    """The y range: finite values and threshold levels only, never an infinity."""
    points = [v for v in (low, high, *levels) if v is not None and math.isfinite(v)]
    if not points:
        return 0.0, 1.0
    bottom, top = min(points), max(points)
    if bottom == top:
        pad = abs(bottom) * 0.1 or 1.0
        return bottom - pad, top + pad
    return bottom, top


def _offset(instant: float, zone: tzinfo) -> float:
    offset = datetime.fromtimestamp(instant, UTC).astimezone(zone).utcoffset()
    return offset.total_seconds() if offset is not None else 0.0


def _local_multiples(
    start: float, end: float, zone: tzinfo, spacing: int
) -> list[float]:
    """Instants in [start, end] whose time of day in `zone` is a multiple of
    `spacing`, read with the offset in force at each one, so ticks stay on the
    hour across DST (and both 01:00s of the night the clocks go back appear)."""
    grain = min(spacing, ZONE_GRAIN)
    instant = math.ceil(start / grain) * grain
    found: list[float] = []
    while instant <= end:
        if (instant + _offset(instant, zone)) % spacing == 0:
            found.append(instant)
        instant += grain
    return found


def tick_spacing(span: float, most: int) -> int:
    """The smallest readable spacing that gives at most `most` ticks over `span`."""
    most = max(1, most)
    return next((s for s in TICK_SPACINGS if span / s <= most), TICK_SPACINGS[-1])


def time_ticks(
    start: float, end: float, zone: tzinfo, most: int
) -> list[tuple[float, str]]:
    """Axis ticks (Unix seconds, label) on round local times in `zone`.

    A label carries the zone's abbreviation where it changes (GMT to BST)."""
    if not (math.isfinite(start) and math.isfinite(end)) or end <= start:
        return []
    spacing = tick_spacing(end - start, most)
    pattern = "%d %b" if spacing >= 86400 else "%H:%M"
    ticks: list[tuple[float, str]] = []
    previous = zone_abbreviation(datetime.fromtimestamp(start, UTC), zone)
    for instant in _local_multiples(start, end, zone, spacing):
        moment = datetime.fromtimestamp(instant, UTC)
        text = moment.astimezone(zone).strftime(pattern)
        abbreviation = zone_abbreviation(moment, zone)
        if abbreviation != previous:
            text = f"{text} {abbreviation}"
        previous = abbreviation
        ticks.append((instant, text))
    return ticks
