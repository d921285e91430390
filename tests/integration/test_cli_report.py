"""`mimdesk report`, `export` and `import` as a person runs them: the PDF opened
with poppler's tools, the archive handed on and checked."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from unit.incident_journal import build

from mimdesk.resources import resource

from .conftest import Run

STORE = "mimdesk.sqlite"


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def incident_id(data_dir: Path, config: Path) -> str:
    config.write_text('timezone = "Europe/London"\n', encoding="utf-8")
    return build(data_dir / STORE)


def poppler(tool: str) -> str:
    found = shutil.which(tool)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{tool} is missing (Debian package poppler-utils)")
        pytest.skip(f"{tool} is not installed (poppler-utils)")
    return found


def test_the_pdf_reads_as_a_report(
    mimdesk: Run, incident_id: str, tmp_path: Path
) -> None:
    pdf = tmp_path / "report.pdf"

    ok(mimdesk("report", incident_id, "--format", "pdf", "--output", str(pdf)))

    text = subprocess.run(
        [poppler("pdftotext"), "-layout", str(pdf), "-"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert f"POST-INCIDENT REPORT · {incident_id}" in text
    assert "Card payments failing at checkout" in text
    for heading in ("Severity history", "Bridge roster", "Stakeholder updates",
                    "Timeline", "Journal verification"):  # fmt: skip
        assert heading in text
    assert "2026-07-14 09:22:00 UTC" in text
    assert "2026-07-14 10:22:00 BST" in text
    assert "missed" in text
    assert "exec@example.com" in text
    assert "16 events, chain intact" in " ".join(text.split())
    subprocess.run(
        [poppler("pdftoppm"), "-r", "40", "-png", "-f", "1", "-l", "1", str(pdf),
         str(tmp_path / "page")],
        check=True,
    )  # fmt: skip
    assert (tmp_path / "page-1.png").stat().st_size > 10_000


def test_markdown_and_html_go_to_a_file_or_standard_output(
    mimdesk: Run, incident_id: str, tmp_path: Path
) -> None:
    html = tmp_path / "report.html"

    markdown = ok(mimdesk("report", incident_id))
    ok(mimdesk("report", incident_id, "--format", "html", "--output", str(html),
               "--zone", "Asia/Tokyo"))  # fmt: skip

    assert markdown.startswith(f"# Post-incident report: {incident_id}")
    assert "| detected | 2026-07-14 09:00:00 UTC | 2026-07-14 10:00:00 BST |" in (
        markdown
    )
    assert "2026-07-14 18:00:00 JST" in html.read_text(encoding="utf-8")


def test_the_archive_is_handed_on_checked_and_reported(
    mimdesk: Run, incident_id: str, tmp_path: Path
) -> None:
    path = tmp_path / "handover.json"

    said = ok(mimdesk("export", incident_id, "--output", str(path)))
    shown = ok(mimdesk("import", str(path)))
    as_json = json.loads(ok(mimdesk("import", str(path), "--json")))
    markdown = ok(mimdesk("report", "--archive", str(path)))

    assert said == f"{incident_id}: 16 events written to {path}\n"
    assert shown.splitlines()[-1] == (
        "archive verify: 16 events, chain intact (read-only)"
    )
    assert as_json["verified"] is True
    assert len(as_json["timeline"]) == 16
    assert "Hash chain verified (archive handover.json): 16 events" in markdown


def test_a_tampered_archive_fails_the_check(
    mimdesk: Run, incident_id: str, tmp_path: Path
) -> None:
    path = tmp_path / "handover.json"
    ok(mimdesk("export", incident_id, "--output", str(path)))
    data = json.loads(path.read_text(encoding="utf-8"))
    data["events"][9]["payload"]["summary"] = "all fine"
    path.write_text(json.dumps(data), encoding="utf-8")

    checked = mimdesk("import", str(path))
    reported = mimdesk("report", "--archive", str(path))

    assert checked.returncode == 1
    assert "event #10: was changed after it was recorded" in checked.stdout
    assert "HASH CHAIN PROBLEMS (archive handover.json)" in reported.stdout


def test_mistakes_are_exit_2_and_unknown_incidents_exit_4(
    mimdesk: Run, incident_id: str, tmp_path: Path
) -> None:
    both = mimdesk("report", incident_id, "--archive", "x.json")
    pdf_to_stdout = mimdesk("report", incident_id, "--format", "pdf")
    unknown = mimdesk("report", "INC-000000-XXXX")
    not_archive = tmp_path / "not.json"
    not_archive.write_text("[]", encoding="utf-8")

    assert both.returncode == 2
    assert pdf_to_stdout.returncode == 2
    assert "a PDF needs --output FILE" in pdf_to_stdout.stderr
    assert unknown.returncode == 4
    assert mimdesk("import", str(not_archive)).returncode == 2


def test_metrics_counts_the_incident_in_text_and_json(
    mimdesk: Run, incident_id: str
) -> None:
    text = ok(mimdesk("metrics"))
    data = json.loads(ok(mimdesk("metrics", "--json", "--since", "2026-07-01")))
    later = json.loads(ok(mimdesk("metrics", "--json", "--since", "2026-08-01")))

    assert text.splitlines()[0] == "1 incident(s) since the start"
    assert "  targets met: 2 of 3" in text
    assert data["incidents"] == 1
    assert data["durations"]["time_to_mobilise"]["median_seconds"] == 20 * 60
    assert data["since"] == "2026-06-30T23:00:00.000000Z"  # midnight in London
    assert later["incidents"] == 0


def test_only_the_pdf_loads_qt(
    data_dir: Path, config: Path, incident_id: str, tmp_path: Path
) -> None:
    archived = tmp_path / "a.json"
    script = f"""
import sys
from mimdesk import cli
common = ["--data-dir", {str(data_dir)!r}, "--config", {str(config)!r}]
for args in (["report", {incident_id!r}, "--output", {str(tmp_path / "r.md")!r}],
             ["export", {incident_id!r}, "--output", {str(archived)!r}],
             ["import", {str(archived)!r}], ["metrics", "--json"]):
    assert cli.main([*common, *args]) == 0, args
print(sorted(m for m in sys.modules if m.startswith(("PySide6", "pyqtgraph"))))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[]"


def test_without_monitoring_a_real_report_has_no_made_up_graphs(
    mimdesk: Run, incident_id: str
) -> None:
    report = ok(mimdesk("report", incident_id))

    assert "Graphs unavailable: no Prometheus is configured ([prometheus] url)" in (
        report
    )
    assert "DEMO" not in report


@pytest.mark.slow
def test_the_report_draws_the_real_prometheus_graphs(
    mimdesk: Run, config: Path, tmp_path: Path, node_and_prometheus: Any
) -> None:
    """A report on a real incident, its service scraped by a real Prometheus:
    the graphs are drawn from it, as files beside the Markdown and in the PDF."""
    _, prom = node_and_prometheus
    config.write_text(
        f'timezone = "UTC"\n[prometheus]\nurl = "{prom.url}"\n', encoding="utf-8"
    )
    catalogue = str(resource("catalogues", "node.toml"))
    incident_id = ok(mimdesk(
        "--catalogue", catalogue, "incident", "declare", "--title",
        "Node memory pressure", "--severity", "3", "--service", "node-memory",
    )).strip()  # fmt: skip
    time.sleep(3)  # a few scrapes inside the incident's window
    md = tmp_path / "report.md"
    pdf = tmp_path / "report.pdf"

    ok(mimdesk("--catalogue", catalogue, "report", incident_id, "--output", str(md)))
    ok(mimdesk("--catalogue", catalogue, "report", incident_id, "--format", "pdf",
               "--output", str(pdf)))  # fmt: skip

    text = md.read_text(encoding="utf-8")
    assert "Graphs unavailable" not in text
    drawn = sorted((tmp_path / "report-graphs").glob("*.png"))
    assert drawn, text
    assert drawn[0].read_bytes().startswith(b"\x89PNG")
    pages = subprocess.run(
        [poppler("pdftotext"), "-layout", str(pdf), "-"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "Health of impacted services" in pages
    assert "Graphs unavailable" not in pages
