"""Reading times people type: offsets kept, local times read in a zone, DST refused."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from mimdesk.domain.errors import TimeInputError
from mimdesk.domain.times import load_zone, parse_instant, parse_utc

LONDON = ZoneInfo("Europe/London")
NOW = parse_utc("2024-10-27T12:00:00Z")


@pytest.mark.parametrize(
    ("text", "utc", "offset"),
    [
        ("2024-10-27T00:50:00Z", "2024-10-27T00:50:00Z", "Z"),
        ("2024-10-27t00:50z", "2024-10-27T00:50:00Z", "Z"),
        ("2024-10-27 02:50+02:00", "2024-10-27T00:50:00Z", "+02:00"),
        ("2024-10-26T20:50:00-04:00", "2024-10-27T00:50:00Z", "-04:00"),
        ("2024-10-27T06:20+05:30", "2024-10-27T00:50:00Z", "+05:30"),
    ],
)
def test_iso_with_an_offset_keeps_the_offset_typed(
    text: str, utc: str, offset: str
) -> None:
    typed = parse_instant(text, zone=LONDON, now=NOW)

    assert typed.utc == parse_utc(utc)
    assert typed.utc.utcoffset() == timedelta(0)
    assert typed.typed_offset == offset


@pytest.mark.parametrize(
    ("text", "zone", "utc"),
    [
        ("2024-12-03 14:05", "Europe/London", "2024-12-03T14:05:00Z"),
        ("2024-07-01 14:05", "Europe/London", "2024-07-01T13:05:00Z"),
        ("2024-07-01T14:05:30", "America/New_York", "2024-07-01T18:05:30Z"),
    ],
)
def test_a_time_without_offset_is_read_in_the_zone(
    text: str, zone: str, utc: str
) -> None:
    typed = parse_instant(text, zone=ZoneInfo(zone), now=NOW)

    assert typed.utc == parse_utc(utc)
    assert typed.typed_offset is None


def test_a_time_the_clocks_skipped_is_refused_with_the_reason() -> None:
    with pytest.raises(TimeInputError) as refused:
        parse_instant("2024-03-31 01:30", zone=LONDON, now=NOW)

    message = str(refused.value)
    assert "clocks went forward" in message
    assert "Europe/London" in message


def test_a_time_that_happened_twice_names_both_offsets() -> None:
    with pytest.raises(TimeInputError, match="twice") as refused:
        parse_instant("2024-10-27 01:30", zone=LONDON, now=NOW)

    assert "+01:00 for the first" in str(refused.value)
    assert "Z for the second" in str(refused.value)


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2024-10-27 01:30+01:00", "2024-10-27T00:30:00Z"),
        ("2024-10-27 01:30Z", "2024-10-27T01:30:00Z"),
    ],
)
def test_the_offsets_the_error_suggests_are_accepted(text: str, utc: str) -> None:
    assert parse_instant(text, zone=LONDON, now=NOW).utc == parse_utc(utc)


@pytest.mark.parametrize(
    ("text", "before"),
    [
        ("now", timedelta(0)),
        ("NOW", timedelta(0)),
        ("15m ago", timedelta(minutes=15)),
        ("90 sec ago", timedelta(seconds=90)),
        ("1d ago", timedelta(days=1)),
        ("-2h", timedelta(hours=2)),
        ("- 45 min", timedelta(minutes=45)),
    ],
)
def test_relative_times_count_back_from_now(text: str, before: timedelta) -> None:
    typed = parse_instant(text, zone=LONDON, now=NOW)

    assert typed.utc == NOW - before
    assert typed.typed_offset is None


@pytest.mark.parametrize(
    "text", ["teatime", "2024-13-01T10:00Z", "15m", "in 15m", "10:00 tomorrow"]
)
def test_unreadable_text_says_what_is_accepted(text: str) -> None:
    with pytest.raises(TimeInputError, match="ISO 8601") as refused:
        parse_instant(text, zone=LONDON, now=NOW)

    assert repr(text) in str(refused.value)


def test_empty_text_is_refused() -> None:
    with pytest.raises(TimeInputError, match="empty time"):
        parse_instant("  ", zone=LONDON, now=NOW)


def test_an_unknown_zone_name_is_refused() -> None:
    with pytest.raises(TimeInputError, match="unknown time zone 'Europe/Lndon'"):
        load_zone("Europe/Lndon")


@pytest.mark.parametrize(
    "typed", ["999999999d ago", "99999999999d ago", "0001-01-01T00:30+01:00"]
)
def test_times_beyond_the_calendar_are_refused_not_crashed(typed: str) -> None:
    now = parse_utc("2026-12-03T14:00:00Z")

    with pytest.raises(TimeInputError):
        parse_instant(typed, zone=ZoneInfo("Europe/London"), now=now)


def test_an_instant_a_zone_cannot_show_is_shown_in_utc() -> None:
    from mimdesk.domain.times import format_instant

    year_one = parse_utc("0001-01-01T00:00:00Z")

    assert format_instant(year_one, ZoneInfo("America/New_York")) == (
        "0001-01-01 00:00:00 UTC"
    )
