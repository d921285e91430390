"""`mimdesk health` and `mimdesk query` as scripts use them, on the DEMO source,
and what they say when the settings, the server or the metric cache are wrong."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .conftest import Run

URL_RULE = "must be an http:// or https:// URL with a host, e.g. http://127.0.0.1:9090"

STATUSES = {"ok", "no_data", "stale", "warning", "critical", "unreachable"}
SAMPLE_IDS = [
    "payments-api", "card-gateway", "core-banking", "ledger-db", "identity",
    "mobile-bff", "branch-network", "email", "intranet-search",
]  # fmt: skip


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


RunWith = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def run_with(data_dir: Path, config: Path) -> RunWith:
    """Like `mimdesk`, with some environment variables set."""

    def run(extra: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MIMDESK_")}
        command = [sys.executable, "-m", "mimdesk", "--data-dir", str(data_dir)]
        return subprocess.run(
            [*command, "--config", str(config), *args],
            capture_output=True,
            text=True,
            encoding="utf-8",
            env={**env, "PYTHONIOENCODING": "utf-8", **extra},
            check=False,
        )

    return run


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
    data = as_json(
        mimdesk("query", "--demo", "up", "--range", "1h", "--step", "60", "--json")
    )

    assert data["format"] == "mimdesk.query/1"
    assert data["demo"] is True
    assert (data["resultType"], data["step"], data["source"]) == ("matrix", 60, "DEMO")
    (series,) = data["result"]
    assert series["metric"] == {"demo": "DEMO"}
    assert len(series["values"]) == 60
    assert all(isinstance(v, str) and float(v) <= 1 for _, v in series["values"])
    times = [t for t, _ in series["values"]]
    assert all(t % 60 == 0 for t in times)


def test_query_instant_prints_the_value(mimdesk: Run) -> None:
    result = mimdesk("query", "--demo", 'avg(up{job="identity"})')  # never degrades

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "# DEMO (demo data, not measured): vector"
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


# --- the metric cache (defects A, B) ------------------------------------------


def test_health_sets_aside_a_cache_of_random_bytes(
    mimdesk: Run, data_dir: Path
) -> None:
    data_dir.mkdir()
    (data_dir / "cache.sqlite").write_bytes(os.urandom(8192))

    result = mimdesk("health")

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("source: DEMO")
    assert "mimdesk.sqlite" not in result.stderr
    (aside,) = data_dir.glob("cache.sqlite.damaged-*")
    assert aside.read_bytes()[:16] != b"SQLite format 3\x00"
    with sqlite3.connect(data_dir / "cache.sqlite") as conn:
        assert conn.execute("SELECT count(*) FROM samples").fetchone()[0] > 0


def test_health_sets_aside_a_cache_damaged_inside(mimdesk: Run, data_dir: Path) -> None:
    assert mimdesk("health").returncode == 0
    cache = data_dir / "cache.sqlite"
    damaged = bytearray(cache.read_bytes())
    assert damaged.startswith(b"SQLite format 3\x00")  # a valid header stays
    damaged[3 * 4096 : 4 * 4096] = b"\xff" * 4096
    cache.write_bytes(bytes(damaged))

    result = mimdesk("health")

    assert result.returncode == 0, result.stderr
    assert "store" not in result.stderr
    assert len(list(data_dir.glob("cache.sqlite.damaged-*"))) == 1


def test_health_runs_on_a_memory_cache_where_no_file_can_be_written(
    mimdesk: Run, tmp_path: Path
) -> None:
    not_a_folder = tmp_path / "plain-file"
    not_a_folder.write_text("", encoding="utf-8")
    command = ["--data-dir", str(not_a_folder / "data"), "health"]

    result = mimdesk(*command)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("source: DEMO")
    warnings = [
        line for line in result.stderr.splitlines() if line.startswith("warning:")
    ]
    assert len(warnings) == 1
    assert f"the metric cache {not_a_folder / 'data' / 'cache.sqlite'}" in warnings[0]
    assert "kept in memory" in warnings[0]
    assert "mimdesk.sqlite" not in result.stderr


# --- the configured server (defects A, C, D, E, F) ------------------------------


@pytest.mark.parametrize("url", ["127.0.0.1:29090", "ftp://127.0.0.1:9090", "http://"])
@pytest.mark.parametrize("command", [("health",), ("query", "up")])
def test_an_unusable_url_in_the_environment_is_one_error_at_start(
    run_with: RunWith, url: str, command: tuple[str, ...]
) -> None:
    result = run_with({"MIMDESK_PROMETHEUS_URL": url}, *command)

    assert result.returncode == 2
    assert result.stderr == f"error: MIMDESK_PROMETHEUS_URL {URL_RULE}, not {url!r}\n"
    assert result.stdout == ""


def test_health_with_an_unusable_url_in_the_settings_exits_2(
    mimdesk: Run, config: Path
) -> None:
    config.write_text('[prometheus]\nurl = "not a url"\n', encoding="utf-8")

    result = mimdesk("health")

    assert result.returncode == 2
    assert f"error: [prometheus] url {URL_RULE}, not 'not a url'" in result.stderr
    assert "DEMO" not in result.stdout


def test_a_missing_ca_file_is_named_with_its_setting(
    mimdesk: Run, config: Path
) -> None:
    config.write_text(
        '[prometheus]\nurl = "https://127.0.0.1:9"\nca_file = "/nope/ca.pem"\n',
        encoding="utf-8",
    )

    result = mimdesk("health")

    assert result.returncode == 2
    assert "error: [prometheus] ca_file: /nope/ca.pem does not exist" in result.stderr
    assert "store" not in result.stderr


def test_auth_without_a_secret_is_said_on_stderr(mimdesk: Run, config: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}"
    config.write_text(
        f'[prometheus]\nurl = "{url}"\nauth = "bearer"\n', encoding="utf-8"
    )

    result = mimdesk("query", "up")

    assert result.returncode == 5
    assert "warning: [prometheus] auth is 'bearer' but no secret" in result.stderr
    assert "MIMDESK_SECRET_PROMETHEUS" in result.stderr


def test_query_refuses_to_make_data_up_without_a_server(mimdesk: Run) -> None:
    result = mimdesk("query", "this is (not promql")

    assert result.returncode == 2
    assert result.stdout == ""
    assert "no Prometheus server is configured" in result.stderr
    assert "MIMDESK_PROMETHEUS_URL" in result.stderr
    assert "[prometheus]" in result.stderr
    assert "--demo" in result.stderr


def test_query_with_demo_labels_its_output(mimdesk: Run) -> None:
    result = mimdesk("query", "--demo", "this is (not promql")

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("# DEMO (demo data, not measured): ")


# --- the catalogue (defect G) --------------------------------------------------


def test_health_reports_only_the_catalogue_problem(
    mimdesk: Run, tmp_path: Path
) -> None:
    catalogue = tmp_path / "broken.toml"
    catalogue.write_text(
        '[[service]]\nid = "web"\n\n[[service.metric]]\nid = "up"\nexpr = "up"\n\n'
        '[[service]]\nid = "two words"\n',
        encoding="utf-8",
    )

    result = mimdesk("--catalogue", str(catalogue), "health")

    assert result.returncode == 2
    assert result.stderr == (
        f"warning: {catalogue}:9: service id 'two words' must be one word\n"
    )
    assert result.stdout == ""


# --- query steps and shapes (defect H) -----------------------------------------


def test_query_says_when_the_step_is_coarsened(mimdesk: Run) -> None:
    result = mimdesk("query", "--demo", "up", "--range", "30d", "--step", "1s")

    assert result.returncode == 0, result.stderr
    assert "# note: resolution reduced to 300s (asked for 1s)" in result.stdout


def test_query_refuses_a_step_longer_than_the_range(mimdesk: Run) -> None:
    result = mimdesk("query", "--demo", "up", "--range", "1h", "--step", "2h")

    assert result.returncode == 2
    assert "step must be shorter than the range" in result.stderr


def test_query_refuses_a_step_without_a_range(mimdesk: Run) -> None:
    result = mimdesk("query", "--demo", "up", "--step", "15s")

    assert result.returncode == 2
    assert "--step applies to range queries; add --range" in result.stderr
