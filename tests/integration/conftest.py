"""Fixtures for running the real `mimdesk` command against a temporary data folder,
and for real monitoring servers on loopback."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mimdesk.sync.receiver import AlertReceiver

from .alertsink import Deliveries
from .servers import Server, alertmanager, node_exporter, prometheus, wait_for_samples
from .synapse import Synapse, homeserver

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """The settings file the command is pointed at (absent unless a test writes it)."""
    return tmp_path / "settings.toml"


@pytest.fixture
def mimdesk(data_dir: Path, config: Path) -> Run:
    """Run `python -m mimdesk` with this test's data folder and settings file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIMDESK_")}
    env["PYTHONIOENCODING"] = "utf-8"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "mimdesk", "--data-dir", str(data_dir)]
        return subprocess.run(
            [*command, "--config", str(config), *args],
            capture_output=True,
            text=True,
            encoding="utf-8",
            env=env,
            check=False,
        )

    return run


@pytest.fixture
def node_and_prometheus(tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    """node_exporter and a Prometheus scraping it every second, both on loopback."""
    exporter = node_exporter(tmp_path)
    exporter.start()
    prom = prometheus(tmp_path, [f"127.0.0.1:{exporter.port}"])
    try:
        prom.start()
        wait_for_samples(prom.url)
        yield exporter, prom
    finally:
        prom.stop()
        exporter.stop()


# Fires at the first evaluation: node_exporter always reports a load average.
LOAD_RULE = """groups:
  - name: mimdesk-test
    rules:
      - alert: NodeLoadSeen
        expr: node_load1 >= 0
        for: 0s
        labels:
          service: svc-node
          severity: warning
        annotations:
          summary: load average reported
"""


@pytest.fixture
def receiver_token() -> str:
    """Generated per test: never a committed secret."""
    return secrets.token_urlsafe(24)


@pytest.fixture
def alert_sink() -> Deliveries:
    """What the receiver hands deliveries to (a module may put a Store behind it)."""
    return Deliveries()


@pytest.fixture
def alert_receiver(
    receiver_token: str, alert_sink: Deliveries
) -> Iterator[tuple[AlertReceiver, Deliveries]]:
    """The webhook receiver on a free loopback port, recording what it keeps."""
    sink = alert_sink
    receiver = AlertReceiver(sink, receiver_token, port=0, read_timeout=5)
    receiver.start()
    try:
        yield receiver, sink
    finally:
        receiver.stop()


@pytest.fixture
def start_alertmanager(
    tmp_path: Path,
    receiver_token: str,
    alert_receiver: tuple[AlertReceiver, Deliveries],
) -> Iterator[Callable[..., Server]]:
    """Starts an Alertmanager (once per test) posting to the receiver."""
    started: list[Server] = []

    def start(*, max_alerts: int = 0) -> Server:
        folder = tmp_path / "am"
        folder.mkdir()
        url = alert_receiver[0].url
        server = alertmanager(folder, url, receiver_token, max_alerts=max_alerts)
        started.append(server)
        server.start()
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()


@pytest.fixture
def alerting_chain(
    tmp_path: Path, start_alertmanager: Callable[..., Server]
) -> Iterator[tuple[Server, Server, Server]]:
    """node_exporter, a Prometheus with LOAD_RULE sending to an Alertmanager, and
    that Alertmanager posting to the receiver: (exporter, prometheus, manager)."""
    manager = start_alertmanager()
    exporter = node_exporter(tmp_path)
    exporter.start()
    prom = prometheus(
        tmp_path,
        [f"127.0.0.1:{exporter.port}"],
        rules=LOAD_RULE,
        alertmanagers=[f"127.0.0.1:{manager.port}"],
    )
    try:
        prom.start()
        yield exporter, prom, manager
    finally:
        prom.stop()
        exporter.stop()


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synapse]:
    """A Synapse with rate limits no test reaches, shared by the session: each
    test registers its own users and makes its own rooms. A test that stops it
    starts it again."""
    server = homeserver(tmp_path_factory.mktemp("synapse"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


# Seats sharing incidents through Synapse (tests/integration/seats.py).
from .seats import make_seat, relay, team  # noqa: E402, F401
