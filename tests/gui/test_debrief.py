"""The debrief of an exercise run, from a run folder whose store the test fills."""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from mimdesk import debrief
from mimdesk.domain import roster as roster_model
from mimdesk.domain.catalogue import Catalogue
from mimdesk.domain.directory import Directory
from mimdesk.domain.lifecycle import Status
from mimdesk.domain.severity import SeverityScale
from mimdesk.domain.targets import DEFAULT_POLICY
from mimdesk.domain.times import parse_utc
from mimdesk.exercise import Run, find_scenario, load_scenario, new_run
from mimdesk.resources import resource
from mimdesk.settings import load_catalogue
from mimdesk.store.store import Store

T0 = parse_utc("2026-11-20T09:00:00Z")
LONDON = ZoneInfo("Europe/London")


class Clock:
    """Scenario time, moved by the test to each move's minute."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def at(self, minutes: float) -> datetime:
        self.now = T0 + timedelta(minutes=minutes)
        return self.now


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is missing (Debian package poppler-utils)")
        pytest.skip(f"{name} is not installed (poppler-utils)")
    return found


@pytest.fixture(autouse=True)
def _app(qapp: object) -> None:
    """Graphs and PDFs are drawn by Qt: the test application stands for the
    one the command line would make."""


@pytest.fixture
def catalogue() -> Catalogue:
    loaded, problem = load_catalogue(resource("catalogues", "sample.toml"))
    assert not problem
    return loaded


def make_run(tmp_path: Path, *, autopilot: bool = False) -> Run:
    path = find_scenario("ledger-payments")
    return new_run(tmp_path / "exercises", path, load_scenario(path),
                   started_at=T0, speed=10, autopilot=autopilot)  # fmt: skip


def play(run: Run) -> None:
    """A team a little slow to mobilise, whose updates lapse after mitigation:
    tech lead at T+24 (limit 20), mobilised at T+25, updates at 16 and 45 then
    none until resolved at T+80 (35 min gap, limit 30)."""
    clock = Clock()
    store = Store.open(run.folder / "mimdesk.sqlite", clock=clock)
    try:
        clock.at(8)
        incident_id = store.declare(
            title="Card payments declined: ledger database", severity=1,
            services=["ledger-db", "payments-api", "card-gateway"],
            detected_at=T0 + timedelta(minutes=5), actor="alice",
        ).result()  # fmt: skip

        def roster(action: str, person: str, role: str, minute: float) -> None:
            moment = clock.at(minute)
            decide = roster_model.decision(action, person, role, at=moment,
                                           actor="alice")  # fmt: skip
            store.roster_command(incident_id, decide).result()

        roster("join", "alice", "commander", 9)
        roster("join", "chen", "comms", 13)
        for minute in (16, 45):
            clock.at(minute)
            store.send_update(
                incident_id, update_type="update",
                copies=[{"audience": "executives", "name": "Executives",
                         "subject": f"Card payments at T+{minute}", "body": "."}],
                deliveries=[], actor="chen",
            ).result()  # fmt: skip
        roster("join", "bob", "tech-lead", 24)
        for minute, status in ((25, Status.MOBILISED), (53, Status.MITIGATED),
                               (80, Status.RESOLVED)):  # fmt: skip
            clock.at(minute)
            store.change_status(incident_id, status, actor="alice").result()
    finally:
        store.close()


def data_of(run: Run, catalogue: Catalogue, minutes: float = 90) -> dict[str, Any]:
    store = Store(run.folder / "mimdesk.sqlite", read_only=True)
    try:
        return debrief.debrief_data(
            run, store, catalogue=catalogue, directory=Directory(),
            scale=SeverityScale(), targets=DEFAULT_POLICY, zone=LONDON,
            now=T0 + timedelta(minutes=minutes),
        )  # fmt: skip
    finally:
        store.close()


def pdf_text(path: Path, page: int | None = None) -> str:
    pages = ["-f", str(page), "-l", str(page)] if page else []
    return subprocess.run(
        [tool("pdftotext"), "-layout", *pages, str(path), "-"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


def test_the_debrief_scores_what_the_team_did(
    tmp_path: Path, catalogue: Catalogue
) -> None:
    run = make_run(tmp_path)
    play(run)

    x = data_of(run, catalogue)["debrief"]

    results = {r["key"]: r["result"] for r in x["items"]}
    assert results == {
        "declare": "met", "severity": "met", "services": "met",
        "role:commander": "met", "role:tech-lead": "missed", "role:comms": "met",
        "mobilise": "missed", "first_update": "met", "cadence": "missed",
        "mitigate": "met", "resolve": "met",
    }  # fmt: skip
    assert x["score"] == "8 of 11 met (73%)"
    assert x["played_by"] == "the team"
    assert x["speed"] == "10\u00d7"
    assert x["at"] == "T+90:00"


def test_the_markdown_debrief_has_the_score_table_then_the_report(
    tmp_path: Path, catalogue: Catalogue
) -> None:
    run = make_run(tmp_path)
    play(run)

    path = debrief.write_debrief(data_of(run, catalogue), "md", None)

    assert path == run.folder / "debrief.md"
    text = path.read_text(encoding="utf-8")
    assert text.startswith("**EXERCISE: this is an exercise, not a real incident.**")
    assert "## Score: 8 of 11 met (73%)" in text
    assert (
        "| Tech-lead on the bridge | by T+20:00 (20 min) | T+24:00 | 24 min "
        "| MISSED | 4 min late |" in text
    )
    assert "| Update cadence kept | an update at least every 30 min" in text
    assert "longest gap 35 min" in text
    assert "# EXERCISE post-incident report: INC-" in text
    assert "## Bridge roster" in text
    graphs = sorted((run.folder / "debrief-graphs").glob("*.png"))
    assert graphs
    assert f"](debrief-graphs/{graphs[0].name})" in text


def test_the_pdf_debrief_says_exercise_on_every_page(
    tmp_path: Path, catalogue: Catalogue
) -> None:
    run = make_run(tmp_path, autopilot=True)
    play(run)

    path = debrief.write_debrief(data_of(run, catalogue), "pdf", None)

    assert path == run.folder / "debrief.pdf"
    text = pdf_text(path)
    assert "Score: 8 of 11 met (73%)" in text
    assert "autopilot (the scenario's reference response)" in text
    row = next(line for line in text.splitlines() if "Tech-lead on the" in line)
    assert row.split()[-7:] == ["T+24:00", "24", "min", "MISSED", "4", "min", "late"]
    assert "Hash chain verified" in text
    pages = text.count("\f")
    assert pages >= 3
    for page in range(1, pages + 1):
        assert pdf_text(path, page).count("EXERCISE") >= 2, f"page {page}"
    listed = subprocess.run(
        [tool("pdfimages"), "-list", str(path)], capture_output=True, text=True,
        check=True,
    ).stdout.splitlines()[2:]  # fmt: skip
    assert len({line.split()[10] for line in listed}) >= 4  # distinct images


def test_a_run_with_no_incident_misses_everything(
    tmp_path: Path, catalogue: Catalogue
) -> None:
    run = make_run(tmp_path)
    Store.open(run.folder / "mimdesk.sqlite").close()

    data = data_of(run, catalogue)
    md = debrief.write_debrief(data, "md", tmp_path / "out" / "none.md")
    pdf = debrief.write_debrief(data, "pdf", tmp_path / "out" / "none.pdf")

    assert {r["result"] for r in data["debrief"]["items"]} == {"missed"}
    text = md.read_text(encoding="utf-8")
    assert "## Score: 0 of 11 met (0%)" in text
    assert "never declared an incident" in text
    assert "| Declared | by T+10:00 (10 min) | - | - | MISSED | - | not done |" in text
    assert "never declared an incident" in " ".join(pdf_text(pdf).split())


def test_without_a_graph_source_the_debrief_says_so(
    tmp_path: Path, catalogue: Catalogue
) -> None:
    run = make_run(tmp_path)
    play(run)
    store = Store(run.folder / "mimdesk.sqlite", read_only=True)
    try:
        data = debrief.debrief_data(
            run, store, catalogue=catalogue, directory=Directory(),
            scale=SeverityScale(), targets=DEFAULT_POLICY, zone=LONDON,
            now=T0 + timedelta(minutes=90), source=None,
        )  # fmt: skip
    finally:
        store.close()

    html = debrief.render(data, "html")

    assert "Graphs unavailable: not drawn for this debrief." in html
    assert "<title>EXERCISE debrief:" in html
