"""Reading times people type and showing instants and durations in a chosen zone.

Instants are always aware datetimes in UTC. "Now" is an argument, never read here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mimdesk.domain.errors import TimeInputError

_RELATIVE = re.compile(
    r"^(?:-\s*(?P<a>\d+)\s*(?P<ua>s|sec|m|min|h|hr|d)"
    r"|(?P<b>\d+)\s*(?P<ub>s|sec|m|min|h|hr|d)\s+ago)$",
    re.IGNORECASE,
)
_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600, "d": 86400}


@dataclass(frozen=True)
class TypedInstant:
    """An instant read from text, with the UTC offset the person typed, if any."""

    utc: datetime
    typed_offset: str | None


@lru_cache(maxsize=4096)
def utc_iso(instant: datetime) -> str:
    """Canonical storage form: UTC, microseconds kept, 'Z' suffix.

    Cached: the same milestone times are written out with every event."""
    if instant.tzinfo is None:
        raise ValueError("naive datetime: instants must carry a zone")
    text = instant.astimezone(UTC).isoformat(timespec="microseconds")
    return text.replace("+00:00", "Z")


def utc_iso_or_none(instant: datetime | None) -> str | None:
    """utc_iso, passing None through (for optional instants in stored forms)."""
    return utc_iso(instant) if instant else None


def parse_utc(text: str) -> datetime:
    """Read a stored instant (as written by utc_iso)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def load_zone(name: str) -> tzinfo:
    """A zone by IANA name, or UTC. (The machine's own zone is found by the app.)"""
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise TimeInputError(f"unknown time zone {name!r} (use an IANA name)") from None


def _format_offset(offset: timedelta | None) -> str | None:
    if offset is None:
        return None
    if offset == timedelta(0):
        return "Z"
    sign = "-" if offset < timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def _localize(wall: datetime, zone: tzinfo, text: str) -> datetime:
    """Attach `zone` to a wall time, refusing ones that DST makes missing or double."""
    early = wall.replace(tzinfo=zone, fold=0)
    late = wall.replace(tzinfo=zone, fold=1)
    round_trip = early.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    zone_name = getattr(zone, "key", None) or str(zone)
    if round_trip != wall:
        raise TimeInputError(
            f"{text!r} does not exist in {zone_name}: the clocks went forward "
            "then; add an offset (e.g. +01:00) or Z to say which instant you mean"
        )
    if early.utcoffset() != late.utcoffset():
        first = _format_offset(early.utcoffset())
        second = _format_offset(late.utcoffset())
        raise TimeInputError(
            f"{text!r} happened twice in {zone_name} (the clocks went back): "
            f"add the offset, {first} for the first or {second} for the second"
        )
    return early


def parse_instant(text: str, *, zone: tzinfo, now: datetime) -> TypedInstant:
    """Read a time typed by a person.

    Accepts ISO 8601 with an offset or Z; a date and time without offset, read in
    `zone`; 'now'; or a relative '15m ago', '2h ago' (also '-15m', '-2h').
    """
    raw = text.strip()
    if not raw:
        raise TimeInputError("empty time: give ISO 8601, e.g. 2026-12-03T14:05Z")
    if raw.lower() == "now":
        return TypedInstant(now.astimezone(UTC), None)
    relative = _RELATIVE.match(raw)
    if relative:
        count = relative.group("a") or relative.group("b")
        unit = relative.group("ua") or relative.group("ub")
        try:
            ago = timedelta(seconds=int(count) * _UNITS[unit.lower()])
            return TypedInstant((now - ago).astimezone(UTC), None)
        except (OverflowError, ValueError):
            raise TimeInputError(f"{raw!r} is too far back to be a time") from None
    try:
        parsed = datetime.fromisoformat(raw.replace("z", "Z"))
        if parsed.tzinfo is not None:
            parsed.astimezone(UTC)  # 0001-01-01T00:30+01:00 has no UTC instant
    except (ValueError, OverflowError):
        raise TimeInputError(
            f"cannot read {raw!r} as a time: use ISO 8601 such as "
            "2026-12-03T14:05:00Z, 2026-12-03 15:05+01:00, or '15m ago'"
        ) from None
    if parsed.tzinfo is not None:
        return TypedInstant(parsed.astimezone(UTC), _format_offset(parsed.utcoffset()))
    try:
        return TypedInstant(_localize(parsed, zone, raw).astimezone(UTC), None)
    except OverflowError:
        raise TimeInputError(f"{raw!r} is out of the range of times") from None


def format_duration(delta: timedelta) -> str:
    """'HH:MM:SS', with a day count past 24 h and a minus sign when negative."""
    total = int(delta.total_seconds())
    sign = "-" if total < 0 else ""
    total = abs(total)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{seconds:02d}"
    return f"{sign}{days}d {clock}" if days else f"{sign}{clock}"


def format_ago(delta: timedelta) -> str:
    """Short human form of a past duration: '47 min', '3 h 05 min', '2 d 4 h'."""
    minutes = int(delta.total_seconds()) // 60
    if minutes < 1:
        return "under 1 min"
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def _in_zone(instant: datetime, zone: tzinfo) -> datetime:
    """`instant` in `zone`, or in UTC when the zone can't express it (year 1)."""
    try:
        return instant.astimezone(zone)
    except (OverflowError, ValueError):
        return instant.astimezone(UTC)


def zone_abbreviation(instant: datetime, zone: tzinfo) -> str:
    """The zone's abbreviation at that instant (GMT, BST, CET, UTC...)."""
    local = _in_zone(instant, zone)
    return local.tzname() or _format_offset(local.utcoffset()) or "UTC"


def format_clock(instant: datetime, zone: tzinfo, *, seconds: bool = False) -> str:
    """'01:50 GMT': time of day in `zone` with the abbreviation in force then."""
    local = _in_zone(instant, zone)
    pattern = "%H:%M:%S" if seconds else "%H:%M"
    return f"{local.strftime(pattern)} {zone_abbreviation(instant, zone)}"


def format_instant(instant: datetime, zone: tzinfo, *, seconds: bool = True) -> str:
    """'2026-12-03 14:05:09 GMT': full date and time in `zone`."""
    local = _in_zone(instant, zone)
    return f"{local.date().isoformat()} {format_clock(instant, zone, seconds=seconds)}"
