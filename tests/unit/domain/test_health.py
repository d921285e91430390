"""Service health from thresholds: no data is not zero, stale is not healthy."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from mimdesk.domain.errors import DomainError
from mimdesk.domain.health import Health, Thresholds, evaluate, format_value, worst
from mimdesk.domain.series import Series

Case = Callable[[str], dict[str, Any]]
NOW = 1_700_000_000.0
ERRORS = Thresholds(warning=0.01, critical=0.05)
AVAILABILITY = Thresholds(warning=0.999, critical=0.99, high_is_bad=False)


def one(value: float, t: float = NOW, sampled: float | None = None) -> Series:
    return Series((("service", "svc-a"),), (t,), (value,), (sampled,))


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.0, Health.OK), (0.0099, Health.OK), (0.01, Health.WARNING),
     (0.049, Health.WARNING), (0.05, Health.CRITICAL), (math.inf, Health.CRITICAL),
     (math.nan, Health.NO_DATA)],
)  # fmt: skip
def test_high_values_are_bad_for_an_error_ratio(value: float, expected: Health) -> None:
    assert ERRORS.classify(value) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(1.0, Health.OK), (0.9989, Health.WARNING), (0.99, Health.CRITICAL),
     (-math.inf, Health.CRITICAL)],
)  # fmt: skip
def test_low_values_are_bad_for_availability(value: float, expected: Health) -> None:
    assert AVAILABILITY.classify(value) is expected


def test_levels_in_the_wrong_order_are_refused() -> None:
    with pytest.raises(DomainError, match="must not be above critical"):
        Thresholds(warning=0.1, critical=0.05)


def test_fresh_value_decides_the_status() -> None:
    state = evaluate(ERRORS, [one(0.02)], now=NOW + 5, stale_limit=30)

    assert (state.health, state.value, state.sampled_at) == (Health.WARNING, 0.02, NOW)


def test_an_empty_answer_is_no_data_with_the_last_value_kept() -> None:
    state = evaluate(ERRORS, [one(0.012)], now=NOW + 60, stale_limit=30, empty_now=True)

    assert state.health is Health.NO_DATA
    assert (state.value, state.sampled_at) == (0.012, NOW)


def test_nothing_ever_cached_is_no_data_not_zero() -> None:
    state = evaluate(ERRORS, [], now=NOW, stale_limit=30)

    assert (state.health, state.value) == (Health.NO_DATA, None)


def test_a_carried_forward_sample_is_stale_even_when_its_value_is_fine() -> None:
    state = evaluate(
        ERRORS, [one(0.0, NOW, sampled=NOW - 300)], now=NOW, stale_limit=30
    )

    assert state.health is Health.STALE
    assert state.sampled_at == NOW - 300


def test_the_worst_series_decides() -> None:
    good = Series((("instance", "a"),), (NOW,), (0.0,))
    bad = Series((("instance", "b"),), (NOW,), (0.2,))

    state = evaluate(ERRORS, [good, bad], now=NOW, stale_limit=30)

    assert (state.health, state.series) == (Health.CRITICAL, "instance=b")


def test_unreachable_outranks_everything_and_no_data_outranks_ok() -> None:
    assert worst([Health.OK, Health.NO_DATA]) is Health.NO_DATA
    assert worst([Health.CRITICAL, Health.UNREACHABLE]) is Health.UNREACHABLE
    assert worst([]) is Health.NO_DATA


def test_every_status_has_words_beside_its_colour() -> None:
    assert [h.label for h in Health] == [
        "OK", "NO DATA", "STALE", "WARNING", "CRITICAL", "UNREACHABLE",
    ]  # fmt: skip


def test_c01_tile_text_for_special_values(load_case: Case) -> None:
    expected = load_case("C01")["expected"]["tile_text"]

    specials = {"NaN": math.nan, "+Inf": math.inf, "-Inf": -math.inf}

    shown = {text: format_value(value) for text, value in specials.items()}

    assert shown == expected


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [(0.012, "", "0.012"), (99.95, "%", "99.95%"), (0.25, "s", "0.25s"),
     (1_250_000.0, "B/s", "1.25M B/s"), (None, "%", "n/a")],
)  # fmt: skip
def test_values_are_shown_with_their_unit(
    value: float | None, unit: str, text: str
) -> None:
    assert format_value(value, unit) == text
