"""The Connections dialog driven by keys against a real Prometheus, and an
Alertmanager address where nothing listens."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from mimdesk import doctor
from mimdesk.settings import Settings
from mimdesk.ui.first_run import ConnectionsDialog

from .servers import Server, free_port

pytestmark = pytest.mark.gui


def test_testing_each_section_shows_what_the_servers_said(
    qtbot, tmp_path: Path, node_and_prometheus: tuple[Server, Server]
) -> None:
    _exporter, prom = node_and_prometheus
    dead = f"http://127.0.0.1:{free_port()}"
    dialog = ConnectionsDialog(
        tmp_path / "settings.toml", Settings(), first_run=True,
        lookup=lambda _key: (None, ""), keyring="", environ={},
    )  # fmt: skip
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    dialog.windowHandle().requestActivate()
    qtbot.waitUntil(dialog.isActiveWindow)
    prometheus = dialog.sections["prometheus"].result
    alertmanager = dialog.sections["alertmanager"].result

    qtbot.keyClicks(dialog.prometheus_url, prom.url)
    qtbot.keyClick(dialog.prometheus_url, Qt.Key.Key_Return)
    qtbot.keyClick(dialog.prometheus_url, Qt.Key.Key_Tab)
    qtbot.keyClick(dialog.focusWidget(), Qt.Key.Key_Tab)
    qtbot.keyClicks(dialog.alertmanager_url, dead)
    qtbot.keyClick(dialog.alertmanager_url, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not dialog.testing(), timeout=int(doctor.DEADLINE_S * 1000))

    assert prometheus.text() == f"OK: {prom.url} answers queries; 1 of 1 targets up"
    assert alertmanager.text() == (
        f"FAILED: cannot reach Alertmanager at {dead}: connection refused; is it "
        "running there, and are the host and port right?"
    )
    workers = [t for t in threading.enumerate() if t.name.startswith("connection-")]
    for worker in workers:
        worker.join(5)  # it ends right after handing its answer over
    assert not [t.name for t in workers if t.is_alive()]
