"""The running clock behind on-screen counters: monotonic, anchored to UTC once.

Counting timer ticks drifts (each tick arrives a little late); reading the wall
clock every second jumps when NTP steps it. So "now" is the wall time read at
start plus monotonic time elapsed since, and a wall-clock step larger than
JUMP_THRESHOLD is reported and re-anchored rather than silently followed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

log = logging.getLogger(__name__)

JUMP_THRESHOLD = timedelta(seconds=2)


class MonotonicClock:
    """UTC "now" that advances with the monotonic clock."""

    def __init__(
        self,
        wall: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._wall = wall
        self._monotonic = monotonic
        self._anchor()

    def _anchor(self) -> None:
        self._anchor_wall = datetime.fromtimestamp(self._wall(), UTC)
        self._anchor_mono = self._monotonic()

    def now(self) -> datetime:
        elapsed = self._monotonic() - self._anchor_mono
        return self._anchor_wall + timedelta(seconds=elapsed)

    def check_jump(self) -> timedelta | None:
        """If the wall clock was stepped, re-anchor and return by how much."""
        step = datetime.fromtimestamp(self._wall(), UTC) - self.now()
        if abs(step) <= JUMP_THRESHOLD:
            return None
        log.warning(
            "wall clock stepped by %.1f s; clocks re-anchored", step.total_seconds()
        )
        self._anchor()
        return step


class ExerciseClock(MonotonicClock):
    """Scenario time for an exercise: starts at `start` and runs `speed` times
    faster than the monotonic clock. Never re-anchored: an exercise's journal
    must stay in scenario time even if the wall clock is stepped."""

    def __init__(
        self,
        start: datetime,
        speed: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0 < speed <= 3600:
            raise ValueError("speed must be above 0 and at most 3600")
        self.start = start
        self.speed = speed
        self._mono = monotonic
        self._origin = monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(
            seconds=(self._mono() - self._origin) * self.speed
        )

    def offset(self) -> timedelta:
        """Scenario time since T+0."""
        return self.now() - self.start

    def check_jump(self) -> timedelta | None:
        return None
