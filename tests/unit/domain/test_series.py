"""Series as Prometheus returns them: special floats, steps, gaps, staleness."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from mimdesk.domain.errors import DomainError
from mimdesk.domain.series import (
    Series,
    align,
    break_gaps,
    choose_step,
    downsample,
    finite_range,
    parse_value,
    points,
    raw_value,
    stale_after,
    stale_mask,
)

from ..cases import matrix

Case = Callable[[str], dict[str, Any]]


def _spelled(value: float) -> object:
    """A parsed value in the spelling the field cases use for expectations."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


def test_c01_special_strings_parse_to_floats(load_case: Case) -> None:
    case = load_case("C01")
    (series,) = matrix(case["response"]["body"])

    assert [_spelled(v) for v in series.values] == case["expected"]["parsed_values"]


def test_c01_axis_scales_to_finite_values_only(load_case: Case) -> None:
    case = load_case("C01")
    (series,) = matrix(case["response"]["body"])

    assert (
        list(finite_range(series.values) or ()) == case["expected"]["y_autoscale_range"]
    )


def test_c01_nan_is_a_gap_not_a_zero(load_case: Case) -> None:
    case = load_case("C01")
    (series,) = matrix(case["response"]["body"])

    gaps = [
        t for t, v in zip(series.times, series.values, strict=True) if math.isnan(v)
    ]
    assert gaps == case["expected"]["plot_gaps_at"]


@pytest.mark.parametrize("text", ["NaN", "+Inf", "-Inf", "1.5", "0", "-2e-3"])
def test_raw_spelling_survives_a_round_trip(text: str) -> None:
    value = parse_value(text)

    again = parse_value(raw_value(value))

    assert _spelled(again) == _spelled(value)


@pytest.mark.parametrize("bad", ["", "abc", None, True, [1]])
def test_an_unreadable_value_is_an_error_never_zero(bad: object) -> None:
    with pytest.raises(DomainError, match="not a number"):
        parse_value(bad)


def test_c03_step_is_raised_to_a_nice_step_under_the_limit(load_case: Case) -> None:
    case = load_case("C03")
    params, expected = case["request"]["params"], case["expected"]
    start, end, wanted = params["start"], params["end"], params["step"]

    step = choose_step(start, end, wanted)

    assert points(start, end, wanted) == expected["points_requested"]
    assert math.ceil((end - start) / (11_000 - 1)) == expected["min_step_seconds"]
    assert step.seconds == expected["chosen_step_seconds"]
    assert points(start, end, step.seconds) == expected["points_after_clamp"]
    assert step.note == expected["ui_note"]


def test_a_step_that_fits_is_kept_without_a_note() -> None:
    step = choose_step(0, 6 * 3600, 15)

    assert (step.seconds, step.coarsened, step.note) == (15, False, "")


def test_align_asks_for_the_same_instants_as_the_window_moves() -> None:
    first = align(1000.0, 1437.0, 15)
    later = align(1007.0, 1449.0, 15)

    assert first == (1005, 1425)
    assert later == (1020, 1440)
    assert all(t % 15 == 0 for t in (*first, *later))


def test_c05_line_breaks_across_missing_scrapes(load_case: Case) -> None:
    case = load_case("C05")
    (series,) = matrix(case["responses"]["metric"]["body"])

    times, values = break_gaps(series.times, series.values, case["step_s"])

    after = case["expected"]["nan_inserted_after"]
    index = times.index(after)
    assert math.isnan(values[index + 1])
    assert times[index + 2] == case["expected"]["gap_between"][1]
    assert sum(math.isnan(v) for v in values) == 1  # no interpolation, one break


def test_c05_points_repeating_an_old_sample_are_stale(load_case: Case) -> None:
    case = load_case("C05")
    (stamps,) = matrix(case["responses"]["sample_timestamps"]["body"])
    limit = stale_after(case["scrape_interval_s"], 2.0)

    mask = stale_mask(stamps.times, stamps.values, limit)

    staleness = case["expected"]["staleness"]
    first = stamps.times[mask.index(True)]
    assert first == staleness["first_stale_point"]
    assert all(mask[mask.index(True) :])
    assert stamps.times[-1] - stamps.values[-1] == staleness["age_at_last_point_s"]
    assert mask[-1] is staleness["stale_at_end"]


def test_unknown_sample_times_are_not_called_stale() -> None:
    assert stale_mask([100.0, 200.0], [None, 100.0], 30.0) == [False, True]


def test_downsampling_keeps_a_spike_and_the_gaps() -> None:
    times = [float(t) for t in range(10_000)]
    values = [1.0] * 10_000
    values[5_001] = 50.0
    values[7_000] = math.nan

    out_t, out_v = downsample(times, values, 500)

    assert len(out_t) <= 1_000
    assert 50.0 in out_v
    assert any(math.isnan(v) for v in out_v)
    assert out_t == sorted(out_t)


def test_series_knows_its_newest_point_and_sample_time() -> None:
    series = Series(
        (("__name__", "up"), ("instance", "a")), (10.0, 25.0), (1.0, 0.0), (10.0, 5.0)
    )

    assert series.name == "instance=a"
    assert series.last() == (25.0, 0.0)
    assert series.last_sample_time() == 5.0
    assert Series((), (), ()).last() is None
