"""Fixtures for running the real `mimdesk` command against a temporary data folder."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .servers import Server, node_exporter, prometheus, wait_for_samples

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
