"""Sync from a real Prometheus into the metric cache, against bare requests + json.

Starts node_exporter and Prometheus on loopback, then alternates, in the same run:
- MIMDesk: one HealthPoller.refresh() into an empty cache for 48 series of 1,440
  points (24 services x 2 metrics, 24 h at a 60 s step), which is a range query
  and its companion `timestamp()` query per metric, parsing, SQLite writes and
  the in-memory mirror;
- baseline: the same 96 HTTP queries with one requests.Session and `.json()`.

The expressions are computed by Prometheus (`vector(time())` arithmetic), so every
step has a point without waiting a day for scrapes. Prints both medians and the
ratio; target: at most 1.5.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mimdesk.connectors.prometheus import PrometheusClient
from mimdesk.domain.catalogue import catalogue_from_mapping
from mimdesk.store.metrics import MetricCache
from mimdesk.sync.health import HealthPoller
from tests.integration.servers import (
    node_exporter,
    prometheus,
    wait_for_samples,
)

TARGET = 1.5
SERVICES = 24
STEP = 60
HOURS = 24


def _catalogue() -> dict[str, object]:
    services = []
    for n in range(1, SERVICES + 1):
        services.append(
            {
                "id": f"svc-{n:02d}",
                "metric": [
                    {"id": "load", "expr": f"sin(vector(time()) / {n * 600}) + {n}"},
                    {"id": "errors", "expr": f"cos(vector(time()) / {n * 300}) + 1"},
                ],
            }
        )
    wall = {"step_seconds": STEP, "history_hours": HOURS}
    return {"service": services, "wall": wall}


def _mimdesk(url: str, folder: Path, round_no: int, now: float) -> tuple[float, int]:
    catalogue = catalogue_from_mapping(_catalogue())
    cache = MetricCache.open(folder / f"cache-{round_no}.sqlite")
    poller = HealthPoller(
        PrometheusClient(url), catalogue, cache, now=lambda: now, history_hours=HOURS
    )
    start = time.perf_counter()
    state = poller.refresh()
    elapsed = time.perf_counter() - start
    points = sum(len(s.times) for t in state.tiles for m in t.metrics for s in m.series)
    poller.close()
    return elapsed, points


def _bare(url: str, now: float) -> tuple[float, int]:
    session = requests.Session()
    end = int(now // STEP * STEP)
    first = end - (HOURS * 3600 // STEP) * STEP
    exprs = [m["expr"] for s in _catalogue()["service"] for m in s["metric"]]  # type: ignore[attr-defined]
    start = time.perf_counter()
    points = 0
    for expr in exprs:
        for query in (expr, f"timestamp({expr})"):
            params = {"query": query, "start": first, "end": end, "step": STEP}
            body = session.get(url + "/api/v1/query_range", params=params, timeout=30)
            data = body.json()["data"]["result"]
            if query == expr:
                points += sum(len(r["values"]) for r in data)
    elapsed = time.perf_counter() - start
    session.close()
    return elapsed, points


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        exporter = node_exporter(folder)
        exporter.start()
        prom = prometheus(folder, [f"127.0.0.1:{exporter.port}"])
        try:
            prom.start()
            wait_for_samples(prom.url)
            now = time.time()
            _bare(prom.url, now)  # warm Prometheus's query path once
            ours, bare = [], []
            for n in range(args.rounds):
                elapsed, our_points = _mimdesk(prom.url, folder, n, now)
                ours.append(elapsed)
                elapsed, bare_points = _bare(prom.url, now)
                bare.append(elapsed)
        finally:
            prom.stop()
            exporter.stop()

    ratio = statistics.median(ours) / statistics.median(bare)
    verdict = "PASS" if ratio <= TARGET else "MISS"
    print(
        f"sync: {our_points:,} points ({bare_points:,} bare) in 48 series; "
        f"MIMDesk {statistics.median(ours) * 1000:.0f} ms, bare requests+json "
        f"{statistics.median(bare) * 1000:.0f} ms; ratio {ratio:.2f} "
        f"(target <= {TARGET}) {verdict}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
