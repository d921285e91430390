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
