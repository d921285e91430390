"""The health poller: only new data fetched, last data kept when monitoring fails,
and the wall survives restarts."""

from __future__ import annotations

import math
import queue
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from mimdesk.connectors.errors import AuthFailed, Permanent, TimedOut, Unreachable
from mimdesk.connectors.prometheus import PrometheusClient, QueryResult
from mimdesk.domain.catalogue import Catalogue, Metric, Service
from mimdesk.domain.health import Health
from mimdesk.domain.series import Series, stale_mask
from mimdesk.domain.wall import Link, WallState
from mimdesk.resources import resource
from mimdesk.settings import PrometheusSettings, Settings, load_catalogue
from mimdesk.store.metrics import CACHE_FILE, MetricCache
from mimdesk.sync.catalogue_watch import CatalogueWatch
from mimdesk.sync.demo import DemoSource
from mimdesk.sync.health import HealthPoller, PollerThread, open_health

from ..cases import matrix

Case = Callable[[str], dict[str, Any]]
T0 = 1_796_314_560.0  # 16 min into an hour: between the DEMO's bad minutes
HOUR = 3600.0


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Flaky:
    """The DEMO source behind a switch, recording what was asked."""

    def __init__(self, clock: Clock) -> None:
        self.inner = DemoSource(now=clock)
        self.failure: Exception | None = None
        self.broken: dict[str, Exception] = {}
        # expr -> time after which the answer has no more points
        self.cut_after: dict[str, float] = {}
        self.asked: list[tuple[str, float, float]] = []
        self.base_url = "http://prom.example.internal:9090"

    def query(self, expr: str, at: float | None = None) -> QueryResult:
        return self.inner.query(expr, at)

    def query_range(
        self, expr: str, start: float, end: float, step: int
    ) -> QueryResult:
        self.asked.append((expr, start, end))
        if self.failure is not None:
            raise self.failure
        if expr in self.broken:
            raise self.broken[expr]
        answer = self.inner.query_range(expr, start, end, step)
        cut = next((t for e, t in self.cut_after.items() if e in expr), None)
        if cut is None:
            return answer
        series = tuple(_until(s, cut) for s in answer.series)
        return replace(answer, series=series)

    def close(self) -> None:
        pass


def _until(series: Series, cut: float) -> Series:
    keep = sum(1 for t in series.times if t <= cut)
    return replace(series, times=series.times[:keep], values=series.values[:keep])


@pytest.fixture
def sample() -> Catalogue:
    catalogue, _ = load_catalogue(resource("catalogues", "sample.toml"))
    return replace(catalogue, wall=replace(catalogue.wall, history_hours=1.0))


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[MetricCache]:
    opened = MetricCache.open(tmp_path / CACHE_FILE)
    yield opened
    opened.close()


def statuses(state: WallState) -> dict[str, Health]:
    return {tile.service.id: tile.health for tile in state.tiles}


def test_demo_wall_has_every_service_with_an_hour_of_data(
    sample: Catalogue, cache: MetricCache, clock: Clock
) -> None:
    poller = HealthPoller(DemoSource(now=clock), sample, cache, now=clock)

    state = poller.refresh()

    assert [t.service.id for t in state.tiles] == [s.id for s in sample.monitored]
    assert (state.source.name, state.source.demo) == ("DEMO", True)
    assert (state.source.link, state.source.last_success) == (Link.CONNECTED, T0)
    assert set(statuses(state).values()) == {Health.OK}
    view = state.tiles[0].metrics[0]
    (series,) = view.series
    assert len(series.times) == 241
    assert (series.times[0], series.times[-1]) == (T0 - HOUR, T0)
    assert series.sample_times == series.times
    assert "DEMO" in view.notes


def test_a_refresh_asks_only_for_what_is_new(
    sample: Catalogue, cache: MetricCache, clock: Clock
) -> None:
    source = Flaky(clock)
    poller = HealthPoller(source, sample, cache, now=clock)
    poller.refresh()
    source.asked.clear()
    clock.now += 15

    poller.refresh()

    windows = {(start, end) for _, start, end in source.asked}
    assert windows == {(T0 - 30, T0 + 15)}  # two steps of overlap, on the grid
    series = poller.state().tiles[0].metrics[0].series[0]
    assert series.times[-1] == T0 + 15
    assert series.times[0] == T0 - HOUR + 15  # the oldest fell out of the window


def test_the_wall_in_memory_matches_the_cache_after_many_refreshes(
    sample: Catalogue, cache: MetricCache, clock: Clock
) -> None:
    """Each refresh splices its answers into memory instead of re-reading the
    cache; a wall restarted from the cache must show exactly the same."""
    source = Flaky(clock)
    poller = HealthPoller(source, sample, cache, now=clock)
    for minute in range(30):  # through a degradation, a stale spell and empties
        clock.now += 60
        if minute == 12:
            source.broken = {m.expr: Permanent("bad query") for m in _metrics(sample)}
        elif minute == 13:
            source.broken = {}
        poller.refresh()

    restarted = HealthPoller(source, sample, cache, now=clock)

    def drawn(state: WallState) -> list[tuple[object, ...]]:
        return [(m.series, m.warnings) for t in state.tiles for m in t.metrics]

    assert drawn(restarted.state()) == drawn(poller.state())
    assert statuses(restarted.state()) == statuses(poller.state())


def _metrics(catalogue: Catalogue) -> list[Metric]:
    return [m for s in catalogue.monitored for m in s.metrics]


def test_degradation_shows_on_the_wall(
    sample: Catalogue, cache: MetricCache, clock: Clock
) -> None:
    clock.now = T0 - 960 + 210  # the middle of a payments-api episode
    poller = HealthPoller(DemoSource(now=clock), sample, cache, now=clock)

    found = statuses(poller.refresh())

    assert found["payments-api"] is Health.CRITICAL
    assert found["identity"] is Health.OK


def test_unreachable_keeps_the_last_data_then_recovers(
    sample: Catalogue, cache: MetricCache, clock: Clock
) -> None:
    source = Flaky(clock)
    poller = HealthPoller(source, sample, cache, now=clock)
    before = poller.refresh()
    source.failure = Unreachable("cannot reach Prometheus: connection refused")
    clock.now += 15

    down = poller.refresh()

    assert set(statuses(down).values()) == {Health.UNREACHABLE}
    assert down.source.link is Link.UNREACHABLE
    assert down.source.last_success == T0
    assert "connection refused" in down.source.message
    assert down.tiles[0].metrics[0].series == before.tiles[0].metrics[0].series
    source.failure = None
    clock.now += 15

    back = poller.refresh()

    assert back.source.link is Link.CONNECTED
    assert back.source.last_success == clock.now
    assert set(statuses(back).values()) == {Health.OK}
    assert back.tiles[0].metrics[0].series[0].times[-1] == clock.now


def test_an_unreachable_source_is_given_up_after_the_first_try(
    sample: Catalogue, cache: MetricCache, clock: Clock
) -> None:
    source = Flaky(clock)
    source.failure = Unreachable("no route to host")
    poller = HealthPoller(source, sample, cache, now=clock)

    poller.refresh()

    assert len(source.asked) == 1  # not once per metric, each waiting a timeout


def test_refused_credentials_say_re_authenticate(
    sample: Catalogue, cache: MetricCache, clock: Clock
) -> None:
    source = Flaky(clock)
    source.failure = AuthFailed("Prometheus refused the credentials (HTTP 401)")
    poller = HealthPoller(source, sample, cache, now=clock)

    state = poller.refresh()

    assert state.source.link is Link.FAILING
    assert "re-authenticate" in state.source.message
    assert set(statuses(state).values()) == {Health.UNREACHABLE}


def test_a_bad_query_marks_its_metric_only(
    sample: Catalogue, cache: MetricCache, clock: Clock
) -> None:
    source = Flaky(clock)
    broken = sample.monitored[1].metrics[1]
    source.broken[broken.expr] = Permanent("bad query: parse error")
    poller = HealthPoller(source, sample, cache, now=clock)

    state = poller.refresh()

    assert state.source.link is Link.CONNECTED
    errors = {(t.service.id, m.metric.id): m.error for t in state.tiles
              for m in t.metrics if m.error}  # fmt: skip
    assert errors == {(sample.monitored[1].id, broken.id): "bad query: parse error"}
    assert state.tiles[1].metrics[1].health.health is Health.NO_DATA
    assert state.tiles[1].metrics[0].health.health is Health.OK


def test_only_bad_queries_still_mean_prometheus_answered(
    sample: Catalogue, cache: MetricCache, clock: Clock
) -> None:
    one = replace(sample, services=sample.monitored[:1])
    source = Flaky(clock)
    for metric in one.services[0].metrics:
        source.broken[metric.expr] = Permanent("bad query: parse error")
    poller = HealthPoller(source, one, cache, now=clock)

    state = poller.refresh()

    assert state.source.link is Link.CONNECTED
    assert state.tiles[0].health is Health.NO_DATA
    assert state.tiles[0].metrics[0].error == "bad query: parse error"


def test_a_server_wide_failure_is_said_once_and_ends_the_round(
    sample: Catalogue, cache: MetricCache, clock: Clock
) -> None:
    source = Flaky(clock)
    source.failure = Permanent("TLS check failed for https://p", source_level=True)
    poller = HealthPoller(source, sample, cache, now=clock)

    state = poller.refresh()

    assert len(source.asked) == 1
    assert state.source.link is Link.FAILING
    assert state.source.message == "TLS check failed for https://p"
    assert {t.health for t in state.tiles} == {Health.UNREACHABLE}


def test_a_heavy_query_timing_out_does_not_take_the_wall_down(
    sample: Catalogue, cache: MetricCache, clock: Clock
) -> None:
    source = Flaky(clock)
    heavy = sample.monitored[0].metrics[0]
    source.broken[f"timestamp({heavy.expr})"] = TimedOut("did not answer within 30 s")
    poller = HealthPoller(source, sample, cache, now=clock)

    state = poller.refresh()
    source.asked.clear()
    clock.now += 15
    poller.refresh()

    assert state.source.link is Link.CONNECTED
    assert state.tiles[0].metrics[0].series  # its values still drawn
    assert all(t.health is not Health.UNREACHABLE for t in state.tiles)
    asked = {expr for expr, _, _ in source.asked}
    assert f"timestamp({heavy.expr})" not in asked  # not waited for every round
    assert heavy.expr in asked


def test_points_that_stop_before_now_are_no_data_now(
    sample: Catalogue, cache: MetricCache, clock: Clock
) -> None:
    """A rate() keeps answering for a while after its target died, with points
    that stop short of the present: that is NO DATA now, not OK."""
    source = Flaky(clock)
    poller = HealthPoller(source, sample, cache, now=clock)
    poller.refresh()
    target = sample.monitored[0].metrics[0]
    source.cut_after[target.expr] = clock.now + 30
    clock.now += 120

    state = poller.refresh()

    view = state.tiles[0].metrics[0]
    assert view.health.health is Health.NO_DATA
    assert state.tiles[0].health is Health.NO_DATA
    assert state.tiles[0].detail.startswith("No data (last ")
    assert state.tiles[0].detail.endswith(", 2 min ago)")  # last point 90 s back


def test_a_restarted_wall_shows_the_last_data_without_asking(
    sample: Catalogue, tmp_path: Path, clock: Clock
) -> None:
    cache = MetricCache.open(tmp_path / CACHE_FILE)
    first = HealthPoller(Flaky(clock), sample, cache, now=clock)
    shown = first.refresh()
    first.close()
    clock.now += 120
    silent = Flaky(clock)
    silent.failure = AssertionError("state() must not use the network")

    again = HealthPoller(silent, sample, MetricCache.open(tmp_path / CACHE_FILE),
                         now=clock)  # fmt: skip
    try:
        state = again.state()
    finally:
        again.close()

    assert state.source.link is Link.UNKNOWN
    assert state.source.last_success == T0
    (kept,) = state.tiles[0].metrics[0].series
    (last,) = shown.tiles[0].metrics[0].series
    assert kept.times == last.times[8:]  # what is still inside the hour
    assert kept.values == last.values[8:]
    # Two minutes without news: the data is shown, but not as the present.
    assert set(statuses(state).values()) == {Health.STALE}
    assert state.tiles[0].detail == "Stale: last sample 2 min ago"


def test_demo_data_never_shows_on_a_real_wall(
    sample: Catalogue, cache: MetricCache, clock: Clock
) -> None:
    HealthPoller(DemoSource(now=clock), sample, cache, now=clock).refresh()
    real = Flaky(clock)
    real.failure = Unreachable("connection refused")

    state = HealthPoller(real, sample, cache, now=clock).state()

    assert state.source.name == "http://prom.example.internal:9090"
    assert all(not m.series for t in state.tiles for m in t.metrics)
    assert cache.count() == 0


def test_waiting_for_the_next_refresh_does_not_look_stale(
    sample: Catalogue, cache: MetricCache, clock: Clock
) -> None:
    poller = HealthPoller(DemoSource(now=clock), sample, cache, now=clock)
    poller.refresh()

    clock.now += 25  # between refreshes (15 s), plus a slow answer
    waiting = statuses(poller.state())
    clock.now += 120  # refreshes stopped coming
    stopped = statuses(poller.state())

    assert set(waiting.values()) == {Health.OK}
    assert set(stopped.values()) == {Health.STALE}


class Replay:
    """Answers with field-case bodies: the metric and its timestamp() companion."""

    def __init__(self, metric: dict[str, Any], stamps: dict[str, Any]) -> None:
        self.bodies = {"metric": metric, "stamps": stamps}

    def query(self, expr: str, at: float | None = None) -> QueryResult:
        raise NotImplementedError

    def query_range(
        self, expr: str, start: float, end: float, step: int
    ) -> QueryResult:
        key = "stamps" if expr.startswith("timestamp(") else "metric"
        return QueryResult("matrix", matrix(self.bodies[key]))

    def close(self) -> None:
        pass


def test_c05_a_target_that_stopped_reporting_is_stale_and_gapped(
    cache: MetricCache, load_case: Case
) -> None:
    case = load_case("C05")
    up = Metric("up", "Scrape up", 'up{instance="node-1.example.internal:9100"}')
    catalogue = Catalogue((Service("node-1", "Node 1", metrics=(up,)),))
    replay = Replay(case["responses"]["metric"]["body"],
                    case["responses"]["sample_timestamps"]["body"])  # fmt: skip
    expected = case["expected"]
    clock = Clock(1_700_000_600.0)

    state = HealthPoller(replay, catalogue, cache, now=clock).refresh()

    (tile,) = state.tiles
    assert tile.health is Health.STALE
    (series,) = tile.metrics[0].series
    gap = series.times.index(expected["nan_inserted_after"]) + 1
    assert math.isnan(series.values[gap])
    assert series.times[gap + 1] == expected["gap_between"][1]
    mask = stale_mask(series.times, series.sample_times, 30)
    assert series.times[mask.index(True)] == expected["staleness"]["first_stale_point"]
    assert mask[-1] is expected["staleness"]["stale_at_end"]
    assert tile.detail == "Stale: last sample 5 min ago"


class Emptying(Replay):
    """The C04 story: a value, then an empty answer."""

    def __init__(self, value: float, ts: float) -> None:
        point = {"metric": {}, "values": [[ts, repr(value)]]}
        self.answers = [{"data": {"result": [point]}}, {"data": {"result": []}}]

    def query_range(
        self, expr: str, start: float, end: float, step: int
    ) -> QueryResult:
        body = self.answers[0] if end <= 1_699_999_820 else self.answers[1]
        return QueryResult("matrix", matrix(body))


def test_c04_no_data_is_never_zero(cache: MetricCache, load_case: Case) -> None:
    case = load_case("C04")
    last = case["context"]["last_known"]
    metric = Metric("errors", "errors", "svc_a:error_ratio:rate5m")
    catalogue = Catalogue((Service("svc-a", "A", metrics=(metric,)),))
    clock = Clock(last["ts"])
    poller = HealthPoller(Emptying(last["value"], last["ts"]), catalogue, cache,
                          now=clock)  # fmt: skip
    poller.refresh()
    clock.now = case["now"]

    (tile,) = poller.refresh().tiles

    assert tile.health.value == case["expected"]["tile_state"]
    assert tile.detail == case["expected"]["tile_text"]
    assert cache.count() == 1


def test_the_thread_publishes_states_and_stops_when_told(
    sample: Catalogue, cache: MetricCache, clock: Clock
) -> None:
    poller = HealthPoller(DemoSource(now=clock), sample, cache, now=clock)
    states: queue.Queue[WallState] = queue.Queue()
    thread = PollerThread(poller, states.put, interval_s=3600)

    thread.start()
    first = states.get(timeout=30)
    thread.refresh_now()
    second = states.get(timeout=30)
    stopped = thread.stop(timeout=30)

    assert first.source.link is Link.CONNECTED
    assert second.source.link is Link.CONNECTED
    assert stopped
    assert not thread.running


def test_the_thread_survives_a_failing_refresh(
    sample: Catalogue, cache: MetricCache, clock: Clock
) -> None:
    poller = HealthPoller(DemoSource(now=clock), sample, cache, now=clock)
    cache.close()  # every refresh now fails inside SQLite
    states: queue.Queue[WallState] = queue.Queue()
    thread = PollerThread(poller, states.put, interval_s=3600)

    thread.start()
    try:
        state = states.get(timeout=30)
    finally:
        assert thread.stop(timeout=30)

    assert state.source.link is Link.UNKNOWN  # the last known state, still shown


def test_open_health_chooses_the_source(
    tmp_path: Path, sample: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MIMDESK_PROMETHEUS_URL", raising=False)
    configured = Settings(prometheus=PrometheusSettings(url="http://prom:9090"))

    chosen = {}
    for label, settings, env, demo in (
        ("nothing set", Settings(), None, False),
        ("settings", configured, None, False),
        ("environment", configured, "https://user:pw@kiosk:9090", False),
        ("--demo", configured, "http://kiosk:9090", True),
    ):
        if env:
            monkeypatch.setenv("MIMDESK_PROMETHEUS_URL", env)
        poller = open_health(settings, sample, tmp_path / label, demo=demo)
        chosen[label] = (type(poller.source), poller.state().source.name)
        poller.close()

    assert chosen == {
        "nothing set": (DemoSource, "DEMO"),
        "settings": (PrometheusClient, "http://prom:9090"),
        "environment": (PrometheusClient, "https://kiosk:9090"),
        "--demo": (DemoSource, "DEMO"),
    }
    assert (tmp_path / "settings" / CACHE_FILE).exists()


def test_an_edited_catalogue_is_taken_and_a_broken_one_reported(
    sample: Catalogue, cache: MetricCache, clock: Clock, tmp_path: Path
) -> None:
    original = resource("catalogues", "sample.toml").read_text(encoding="utf-8")
    path = tmp_path / "services.toml"
    path.write_text(original, encoding="utf-8")
    watch = CatalogueWatch(path, sample, load_catalogue)
    poller = HealthPoller(DemoSource(now=clock), sample, cache, now=clock)
    states: queue.Queue[WallState] = queue.Queue()
    thread = PollerThread(poller, states.put, interval_s=3600, watch=watch)
    thread.start()
    try:
        before = states.get(timeout=30)
        # One service fewer: the next refresh draws eight tiles.
        cut = original.index('[[service]]\nid = "intranet-search"')
        path.write_text(original[:cut], encoding="utf-8")
        thread.refresh_now()
        fewer = states.get(timeout=30)
        path.write_text(original[:cut] + '[[service]]\nid = "two words"\n')
        thread.refresh_now()
        broken = states.get(timeout=30)
    finally:
        assert thread.stop(timeout=30)

    assert len(before.tiles) == 9
    assert len(fewer.tiles) == 8
    assert fewer.source.catalogue_problem == ""
    assert len(broken.tiles) == 8  # the last good catalogue stays in use
    line = original[:cut].count("\n") + 2  # the id line of the new table
    assert broken.source.catalogue_problem == (
        f"{path}:{line}: service id 'two words' must be one word"
    )
