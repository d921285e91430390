"""The Prometheus client against a real Prometheus scraping a real node_exporter."""

from __future__ import annotations

import math
import time

import pytest

from mimdesk.connectors.errors import Permanent, Unreachable
from mimdesk.connectors.prometheus import PrometheusClient

from .servers import Server

pytestmark = pytest.mark.slow


def test_real_samples_come_back_as_numbers(
    node_and_prometheus: tuple[Server, Server],
) -> None:
    exporter, prom = node_and_prometheus
    client = PrometheusClient(prom.url)
    up = client.query("up")
    assert [s.values[0] for s in up.series] == [1.0]
    assert dict(up.series[0].labels)["instance"] == f"127.0.0.1:{exporter.port}"

    busy = 'sum(rate(node_cpu_seconds_total{mode!="idle"}[5s]))'
    deadline = time.monotonic() + 15
    while not client.query(busy).series and time.monotonic() < deadline:
        time.sleep(0.3)  # a rate needs two scrapes
    time.sleep(2)
    now = time.time()
    cpu = client.query_range(busy, now - 30, now, 1)
    values = cpu.series[0].values
    assert len(values) >= 2
    assert all(v >= 0 and math.isfinite(v) for v in values)
    client.close()


def test_real_server_errors_are_typed(
    node_and_prometheus: tuple[Server, Server],
) -> None:
    _, prom = node_and_prometheus
    client = PrometheusClient(prom.url, sleep=lambda s: None)
    with pytest.raises(Permanent, match="bad query"):
        client.query("rate(up[")
    assert math.isinf(client.query("vector(1) / 0").series[0].values[0])
    assert math.isnan(client.query("vector(0) / 0").series[0].values[0])
    assert client.query('up{job="nothing-here"}').empty
    prom.stop()
    with pytest.raises(Unreachable):
        client.query("up")
    client.close()
