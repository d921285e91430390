"""Hybrid logical clock stamps: the order seats agree on for an incident's events.

A stamp is the wall-clock millisecond and a counter, written so that comparing
the text compares the stamps ("0001733356800123-0007"). A seat stamps each event
it records later than every stamp it has seen, its own and other seats', so an
edit made after seeing another seat's edit sorts after it everywhere, even when
the two machines' clocks disagree. Ties between seats (edits made while cut off
from each other) are broken by seat id, the same way on every seat.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from mimdesk.domain.errors import DomainError

_STAMP = re.compile(r"^(\d{16})-(\d{4})$")
COUNTER_MAX = 9999
# A stamp further ahead of this seat's clock than this is not believed: a seat
# with its clock a year fast would otherwise drag every later edit after it.
MAX_AHEAD_MS = 24 * 3600 * 1000


def stamp(ms: int, counter: int = 0) -> str:
    if ms < 0 or not 0 <= counter <= COUNTER_MAX:
        raise ValueError(f"no stamp for {ms} ms, counter {counter}")
    return f"{ms:016d}-{counter:04d}"


def parse(text: str) -> tuple[int, int]:
    """(milliseconds, counter) of a stamp; DomainError if it is not one."""
    m = _STAMP.match(text)
    if m is None:
        raise DomainError(f"{text!r} is not a clock stamp (16 digits, '-', 4 digits)")
    return int(m.group(1)), int(m.group(2))


def millis(at: datetime) -> int:
    return int(at.astimezone(UTC).timestamp() * 1000)


def after(last: str | None, now: datetime) -> str:
    """The stamp for an event recorded `now`, later than `last` (the latest this
    seat has seen), on the wall clock when that is ahead."""
    wall = millis(now)
    if last is None:
        return stamp(wall)
    ms, counter = parse(last)
    # Never more than half a day ahead of this seat's clock, so other seats
    # believe the stamp (`believable`) even after a seat whose clock runs days
    # ahead was heard from; this seat's edits then sort before that seat's.
    ms = min(ms, wall + MAX_AHEAD_MS // 2)
    if wall > ms:
        return stamp(wall)
    if counter < COUNTER_MAX:
        return stamp(ms, counter + 1)
    return stamp(ms + 1)


def believable(text: str, recorded_at: datetime) -> bool:
    """Whether another seat's stamp is a stamp and not a day or more ahead of
    when its event says it was recorded."""
    try:
        ms, _counter = parse(text)
    except DomainError:
        return False
    return ms <= millis(recorded_at) + MAX_AHEAD_MS


def instant(text: str) -> datetime:
    """The wall-clock time in a stamp."""
    ms, _counter = parse(text)
    return datetime.fromtimestamp(ms / 1000, UTC)
