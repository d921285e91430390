"""The DEMO source: plausible, repeatable, labelled, and sometimes unwell."""

from __future__ import annotations

import math

import pytest

from mimdesk.domain.catalogue import Catalogue
from mimdesk.domain.health import Health
from mimdesk.domain.series import stale_mask
from mimdesk.resources import resource
from mimdesk.settings import load_catalogue
from mimdesk.sync.demo import CYCLE_S, DEMO, DemoSource

T0 = 1_796_313_600.0  # a whole hour, so cycles start here


@pytest.fixture(scope="module")
def sample() -> Catalogue:
    catalogue, problem = load_catalogue(resource("catalogues", "sample.toml"))
    assert problem == ""
    return catalogue


def test_every_sample_expression_gets_a_plausible_series(sample: Catalogue) -> None:
    demo = DemoSource()
    for service in sample.monitored:
        for metric in service.metrics:
            result = demo.query_range(metric.expr, T0, T0 + 3600, 15)

            (series,) = result.series
            assert len(series.times) == 241
            assert all(math.isfinite(v) and v >= 0 for v in series.values)
            assert metric.thresholds.classify(series.values[0]) is Health.OK, (
                service.id, metric.id,
            )  # fmt: skip


def test_values_are_a_function_of_expression_and_time_only() -> None:
    expr = 'max(probe_duration_seconds{job="branch-network"})'
    wide = DemoSource().query_range(expr, T0, T0 + 600, 15).series[0]

    narrow = DemoSource().query_range(expr, T0 + 300, T0 + 450, 15).series[0]

    assert narrow.values == wide.values[20:31]
    other = DemoSource().query_range(expr + " * 1", T0, T0 + 600, 15).series[0]
    assert other.values != wide.values


def test_payments_degrades_and_recovers_every_twenty_minutes(sample: Catalogue) -> None:
    payments = sample.get("payments-api")
    assert payments is not None
    errors = payments.metrics[0]
    demo = DemoSource()

    series = demo.query_range(errors.expr, T0, T0 + 2 * CYCLE_S, 15).series[0]

    states = [errors.thresholds.classify(v) for v in series.values]
    per_cycle = CYCLE_S // 15
    for cycle in (0, 1):
        episode = states[cycle * per_cycle : cycle * per_cycle + 28]  # first 7 min
        calm = states[cycle * per_cycle + 28 : (cycle + 1) * per_cycle]
        assert {Health.WARNING, Health.CRITICAL} <= set(episode)
        assert episode[0] is Health.OK  # it comes on gradually
        assert set(calm) == {Health.OK}


def test_a_quiet_service_stays_healthy(sample: Catalogue) -> None:
    identity = sample.get("identity")
    assert identity is not None
    demo = DemoSource()

    for metric in identity.metrics:
        series = demo.query_range(metric.expr, T0, T0 + 3 * 3600, 60).series[0]
        assert {metric.thresholds.classify(v) for v in series.values} == {Health.OK}


def test_timestamps_show_a_service_that_stopped_reporting(sample: Catalogue) -> None:
    search = sample.get("intranet-search")
    assert search is not None
    expr = search.metrics[0].expr
    demo = DemoSource()

    stamps = demo.query_range(f"timestamp({expr})", T0 + 2940, T0 + 3300, 15)
    values = demo.query_range(expr, T0 + 2940, T0 + 3300, 15).series[0]

    (times,) = stamps.series
    stale = stale_mask(times.times, times.values, 30)
    assert times.times[stale.index(True)] == T0 + 3045
    assert stale[-1] is False  # it comes back
    assert values.sample_times == times.values
    frozen = [v for v, s in zip(values.values, stale, strict=True) if s]
    assert len(set(frozen)) == 1  # the old sample, carried forward


def test_everything_is_labelled_demo() -> None:
    demo = DemoSource(now=lambda: T0)

    ranged = demo.query_range("up", T0, T0 + 60, 15)
    instant = demo.query("up")

    assert (demo.name, demo.demo) == (DEMO, True)
    for result in (ranged, instant):
        assert DEMO in result.notes
        assert ("demo", DEMO) in result.series[0].labels
    assert instant.series[0].times == (T0,)


def test_a_long_range_gets_a_coarser_step_like_the_real_client() -> None:
    result = DemoSource().query_range("up", T0, T0 + 7 * 86400, 15)

    assert result.step is not None
    assert result.step.seconds == 60
    assert "resolution reduced to 60s" in result.notes
    assert len(result.series[0].times) == 10081
