"""Real monitoring servers on loopback for integration tests: node_exporter, a
Prometheus scraping it every second, and Alertmanager. Under CI a missing binary
fails the test."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

SCRAPE_INTERVAL_S = 1


def binary(*names: str) -> str:
    """The first of `names` on PATH; missing is a failure under CI, else a skip."""
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    text = f"{names[0]} is not installed (apt-get install {names[0]})"
    if os.environ.get("CI"):
        pytest.fail(text)
    pytest.skip(text)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited: {log.read_text()[-2000:]}")
        try:
            if requests.get(url, timeout=1).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not become ready: {log.read_text()[-2000:]}")


@dataclass
class Server:
    """A started server process that can be stopped and started again."""

    command: list[str]
    ready_path: str
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = field(default=None)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        handle = self.log.open("ab")
        self.process = subprocess.Popen(
            self.command, stdout=handle, stderr=subprocess.STDOUT
        )
        handle.close()
        wait_ready(self.url + self.ready_path, self.process, self.log)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


def node_exporter(folder: Path) -> Server:
    port = free_port()
    command = [
        binary("prometheus-node-exporter", "node_exporter"),
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    return Server(command, "/metrics", port, folder / "node_exporter.log")


def prometheus(
    folder: Path,
    targets: list[str],
    *,
    rules: str = "",
    alertmanagers: Sequence[str] = (),
) -> Server:
    """Prometheus scraping `targets`; with `rules` (YAML of rule groups) evaluated
    every second, and alerts sent to `alertmanagers` ("127.0.0.1:PORT")."""
    port = free_port()
    config = folder / "prometheus.yml"
    listed = ", ".join(f"'{t}'" for t in targets)
    text = (
        f"global:\n  scrape_interval: {SCRAPE_INTERVAL_S}s\n"
        f"  evaluation_interval: {SCRAPE_INTERVAL_S}s\n"
        "scrape_configs:\n  - job_name: node\n"
        f"    static_configs:\n      - targets: [{listed}]\n"
    )
    if rules:
        (folder / "rules.yml").write_text(rules)
        text += f"rule_files: ['{folder / 'rules.yml'}']\n"
    if alertmanagers:
        managers = ", ".join(f"'{a}'" for a in alertmanagers)
        text += (
            "alerting:\n  alertmanagers:\n"
            f"    - static_configs:\n        - targets: [{managers}]\n"
        )
    config.write_text(text)
    command = [
        binary("prometheus"),
        f"--config.file={config}",
        f"--web.listen-address=127.0.0.1:{port}",
        f"--storage.tsdb.path={folder / 'tsdb'}",
    ]
    return Server(command, "/-/ready", port, folder / "prometheus.log")


def alertmanager(
    folder: Path, webhook_url: str, token: str, *, max_alerts: int = 0
) -> Server:
    """Alertmanager on loopback (no cluster port) sending every group to
    `webhook_url` with `token`, 0.2 s after a group starts and a second after
    each change."""
    port = free_port()
    config = folder / "alertmanager.yml"
    config.write_text(
        "route:\n  receiver: mimdesk\n  group_by: [alertname, service]\n"
        "  group_wait: 200ms\n  group_interval: 1s\n  repeat_interval: 4h\n"
        "receivers:\n  - name: mimdesk\n    webhook_configs:\n"
        f"      - url: '{webhook_url}'\n        send_resolved: true\n"
        f"        max_alerts: {max_alerts}\n"
        "        http_config:\n          authorization:\n"
        f"            type: Bearer\n            credentials: '{token}'\n"
    )
    command = [
        binary("prometheus-alertmanager", "alertmanager"),
        f"--config.file={config}",
        f"--storage.path={folder / 'alertmanager'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",
    ]
    return Server(command, "/-/ready", port, folder / "alertmanager.log")


def wait_for_samples(url: str, query: str = "up", timeout: float = 20) -> None:
    """Block until Prometheus has scraped at least once."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = requests.get(url + "/api/v1/query", params={"query": query}, timeout=2)
        if answer.json()["data"]["result"]:
            return
        time.sleep(0.2)
    raise RuntimeError(f"no samples for {query} after {timeout} s")


def self_signed(folder: Path, name: str = "server") -> tuple[Path, Path]:
    """A certificate and key for 127.0.0.1, valid two days (openssl)."""
    cert, key = folder / f"{name}-cert.pem", folder / f"{name}-key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key
