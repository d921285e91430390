"""`mimdesk health` and `mimdesk query` as scripts use them, on the DEMO source."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path
from typing import Any

from .conftest import Run

STATUSES = {"ok", "no_data", "stale", "warning", "critical", "unreachable"}
SAMPLE_IDS = [
    "payments-api", "card-gateway", "core-banking", "identity", "mobile-bff",
    "branch-network", "email", "intranet-search",
]  # fmt: skip


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_health_prints_each_service_and_its_status(mimdesk: Run) -> None:
    result = mimdesk("health")

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("source: DEMO (demo data, not measured): connected")
    shown = [line.split()[:2] for line in lines[1:] if not line.startswith(" ")]
    assert [name for name, _ in shown] == SAMPLE_IDS
    labels = {"OK", "NO", "STALE", "WARNING", "CRITICAL"}
    assert all(status in labels for _, status in shown)


def test_health_json_has_the_documented_shape(mimdesk: Run, data_dir: Path) -> None:
    data = as_json(mimdesk("health", "--json"))

    assert data["format"] == "mimdesk.health/1"
    assert data["source"]["name"] == "DEMO"
    assert data["source"]["demo"] is True
    assert data["source"]["link"] == "connected"
    assert [s["id"] for s in data["services"]] == SAMPLE_IDS
    payments = data["services"][0]
    assert payments["status"] in STATUSES
    errors = payments["metrics"][0]
    assert errors["id"] == "error_ratio"
    assert errors["unit"] == "%"
    assert 0 <= errors["value"] < 1
    assert errors["shown"].endswith("%")
    assert errors["notes"] == ["DEMO"]
    # The samples go to a cache of their own; the incident store is not touched.
    assert (data_dir / "cache.sqlite").exists()
    assert not (data_dir / "mimdesk.sqlite").exists()


def test_health_exits_5_when_prometheus_cannot_be_reached(
    mimdesk: Run, config: Path
) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    config.write_text(f'[prometheus]\nurl = "{url}"\n', encoding="utf-8")

    result = mimdesk("health", "--json")

    assert result.returncode == 5
    assert "cannot reach Prometheus" in result.stderr
    data = json.loads(result.stdout)
    assert data["source"]["link"] == "unreachable"
    assert {s["status"] for s in data["services"]} == {"unreachable"}


def test_health_refuses_a_catalogue_without_metrics(
    mimdesk: Run, tmp_path: Path
) -> None:
    catalogue = tmp_path / "plain.toml"
    catalogue.write_text('[[service]]\nid = "hr"\n', encoding="utf-8")

    result = mimdesk("--catalogue", str(catalogue), "health")

    assert result.returncode == 2
    assert "[[service.metric]]" in result.stderr


def test_query_range_json_keeps_prometheus_spelling(mimdesk: Run) -> None:
    data = as_json(mimdesk("query", "up", "--range", "1h", "--step", "60", "--json"))

    assert data["format"] == "mimdesk.query/1"
    assert (data["resultType"], data["step"], data["source"]) == ("matrix", 60, "DEMO")
    (series,) = data["result"]
    assert series["metric"] == {"demo": "DEMO"}
    assert len(series["values"]) == 60
    assert all(isinstance(v, str) and float(v) <= 1 for _, v in series["values"])
    times = [t for t, _ in series["values"]]
    assert all(t % 60 == 0 for t in times)


def test_query_instant_prints_the_value(mimdesk: Run) -> None:
    result = mimdesk("query", 'avg(up{job="identity"})')  # never degrades

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "# DEMO: vector"
    assert lines[2] == "{demo=DEMO}"
    assert 0.99 < float(lines[3].split()[1]) <= 1


def test_query_rejects_a_bad_duration(mimdesk: Run) -> None:
    result = mimdesk("query", "up", "--range", "soon")

    assert result.returncode == 2
    assert "not a duration like 1h" in result.stderr


def test_query_exits_5_when_prometheus_cannot_be_reached(
    mimdesk: Run, config: Path
) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    config.write_text(f'[prometheus]\nurl = "{url}"\n', encoding="utf-8")

    result = mimdesk("query", "up")

    assert result.returncode == 5
    assert f"cannot reach Prometheus at {url}" in result.stderr
