"""The health wall's poller against a real Prometheus scraping a real node_exporter,
with the shipped node.toml: real statuses, an outage, and recovery."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from mimdesk.connectors.prometheus import PrometheusClient
from mimdesk.domain.catalogue import Catalogue
from mimdesk.domain.health import Health
from mimdesk.domain.wall import Link, WallState
from mimdesk.resources import resource
from mimdesk.settings import load_catalogue
from mimdesk.store.metrics import CACHE_FILE, MetricCache
from mimdesk.sync.health import HealthPoller

from .servers import Server, wait_for_samples

pytestmark = pytest.mark.slow

READY_S = 60.0


@pytest.fixture
def node_catalogue() -> Catalogue:
    catalogue, problem = load_catalogue(resource("catalogues", "node.toml"))
    assert problem == ""
    wall = replace(catalogue.wall, scrape_interval=1, step_seconds=1,
                   history_hours=0.05, stale_factor=5.0)  # fmt: skip
    return replace(catalogue, wall=wall)


def refresh_until(
    poller: HealthPoller, ready: Callable[[WallState], bool], what: str
) -> WallState:
    deadline = time.monotonic() + READY_S
    while time.monotonic() < deadline:
        state = poller.refresh()
        if ready(state):
            return state
        time.sleep(0.3)  # rates need a second scrape
    pytest.fail(f"timed out waiting for {what}")


def by_id(state: WallState) -> dict[str, Health]:
    return {tile.service.id: tile.health for tile in state.tiles}


def every_metric_has_data(state: WallState) -> bool:
    return all(
        m.series and m.health.value is not None for t in state.tiles for m in t.metrics
    )


def test_real_node_tiles_then_outage_then_recovery(
    node_and_prometheus: tuple[Server, Server],
    node_catalogue: Catalogue,
    tmp_path: Path,
) -> None:
    _, prom = node_and_prometheus
    client = PrometheusClient(prom.url, timeout=(1.0, 5.0), sleep=lambda s: None)
    poller = HealthPoller(
        client, node_catalogue, MetricCache.open(tmp_path / CACHE_FILE)
    )
    try:
        live = refresh_until(poller, every_metric_has_data, "data on every metric")

        assert live.source.link is Link.CONNECTED
        assert live.source.last_success is not None
        statuses = by_id(live)
        assert statuses["node-scrape"] is Health.OK
        assert live.tiles[0].headline == "1"
        assert set(statuses.values()) <= {Health.OK, Health.WARNING, Health.CRITICAL}
        memory = live.tiles[2].metrics[0].health.value
        assert memory is not None
        assert 0 < memory < 100
        up = live.tiles[0].metrics[0].series[0]
        assert up.sample_times[-1] is not None  # real scrape times, from timestamp()

        prom.stop()
        down = poller.refresh()

        assert down.source.link is Link.UNREACHABLE
        assert set(by_id(down).values()) == {Health.UNREACHABLE}
        assert down.source.last_success == live.source.last_success
        kept = down.tiles[2].metrics[0]
        assert kept.series == live.tiles[2].metrics[0].series
        assert kept.health.value == memory

        prom.start()
        wait_for_samples(prom.url)
        back = refresh_until(
            poller, lambda s: s.source.link is Link.CONNECTED, "the poller to recover"
        )

        assert Health.UNREACHABLE not in by_id(back).values()
        assert back.source.last_success is not None
        assert back.source.last_success > live.source.last_success
    finally:
        poller.close()
