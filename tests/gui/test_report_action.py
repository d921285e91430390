"""Incident → Write post-incident report (PDF)… for the incident on screen."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pyqtgraph as pg
import pytest


def test_the_menu_writes_the_selected_incidents_report(
    make_console, tmp_path: Path
) -> None:
    window = make_console()
    incident = window.header.incident
    target = tmp_path / "out" / "report.pdf"
    asked: list[str] = []
    window.report_action.ask_path = lambda _parent, name: asked.append(name) or target

    window.report_action.action.trigger()

    assert asked == [f"{incident.id}-report.pdf"]
    assert target.read_bytes().startswith(b"%PDF")
    assert str(target) in window.statusBar().currentMessage()
    pdftotext = shutil.which("pdftotext")
    if pdftotext is None:
        if os.environ.get("CI"):
            pytest.fail("pdftotext is missing (Debian package poppler-utils)")
        pytest.skip("pdftotext is not installed (poppler-utils)")
    text = subprocess.run(
        [pdftotext, str(target), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert incident.title in " ".join(text.split())
    assert "Hash chain verified" in text


def test_cancelling_the_file_question_writes_nothing(
    make_console, tmp_path: Path
) -> None:
    window = make_console()
    window.report_action.ask_path = lambda _parent, _name: None

    assert window.report_action.write() is None
    assert list(tmp_path.glob("*.pdf")) == []


def test_the_metrics_view_shows_the_figures_and_charts(
    make_console, tmp_path: Path
) -> None:
    window = make_console()  # DEMO incidents: counted in --demo

    window.metrics_action.action.trigger()

    dialog = window.metrics_action.dialog
    assert dialog is not None
    assert dialog.isVisible()
    assert dialog.summary.text().startswith(f"{len(window.ctx.store.incidents())} ")
    assert "DEMO ones included" in dialog.summary.text()
    assert "time to acknowledge: median" in dialog.summary.text()
    dialog.grab().save(str(tmp_path / "metrics.png"))
    assert dialog.findChild(pg.PlotWidget, "metrics-severity") is not None
    dialog.close()
