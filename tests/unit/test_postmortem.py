"""The post-incident report, built from a journal written through the store."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from mimdesk import postmortem
from mimdesk.domain.catalogue import Catalogue
from mimdesk.domain.directory import Directory
from mimdesk.domain.severity import SeverityScale
from mimdesk.domain.targets import DEFAULT_POLICY
from mimdesk.resources import resource
from mimdesk.settings import load_catalogue
from mimdesk.store.store import Store

from .incident_journal import T0, build

LONDON = ZoneInfo("Europe/London")
NOW = T0 + timedelta(days=2)


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "mimdesk.sqlite"


@pytest.fixture
def catalogue() -> Catalogue:
    loaded, problem = load_catalogue(resource("catalogues", "sample.toml"))
    assert not problem
    return loaded


def data_of(path: Path, incident_id: str, catalogue: Catalogue) -> dict[str, Any]:
    store = Store(path, read_only=True)
    try:
        incident, events = store.incident(incident_id), store.timeline(incident_id)
        problems = tuple(p.message for p in store.verify(incident_id))
    finally:
        store.close()
    check = postmortem.Verification(len(events), problems, events[-1].hash, "store")
    return postmortem.report_data(
        incident, events, scale=SeverityScale(), catalogue=catalogue,
        directory=Directory(), targets=DEFAULT_POLICY, verification=check,
        zone=LONDON, now=NOW,
    )  # fmt: skip


def test_the_report_holds_what_the_journal_says(
    store_path: Path, catalogue: Catalogue
) -> None:
    incident_id = build(store_path)

    data = data_of(store_path, incident_id, catalogue)

    assert data["summary"]["duration"] == "1 h 37 min"
    assert [r["severity"] for r in data["severity_history"]] == [
        "SEV2 Major",
        "SEV1 Critical",
    ]
    mobilised = data["milestones"][2]
    assert mobilised == {
        "milestone": "mobilised", "utc": "2026-07-14 09:22:00 UTC",
        "local": "2026-07-14 10:22:00 BST", "skipped": False,
    }  # fmt: skip
    results = {t["target"]: (t["result"], t["margin"]) for t in data["targets"]}
    assert results["mobilised within 15 min of declared"] == ("missed", "5 min late")
    assert results["first update within 30 min of declared"] == ("met", "5 min early")


def test_the_roster_counts_time_until_the_incident_ended(
    store_path: Path, catalogue: Catalogue
) -> None:
    data = data_of(store_path, build(store_path), catalogue)

    people = {p["id"]: p for p in data["roster"]}

    assert people["sam"]["roles"] == ["commander"]
    assert people["sam"]["on_bridge"] == "35 min"
    assert people["lee"]["roles"] == ["comms", "commander"]
    assert people["lee"]["intervals"][0]["to"] is None
    assert people["lee"]["on_bridge"] == "1 h 27 min"  # 09:10 to resolution


def test_updates_impact_and_figures_are_as_recorded(
    store_path: Path, catalogue: Catalogue
) -> None:
    data = data_of(store_path, build(store_path), catalogue)

    (update,) = data["updates"]
    executives = update["copies"][0]
    impact = data["impact"]

    assert executives["to"] == ["email: exec@example.com"]
    assert executives["body"].startswith("Card payments fail at checkout")
    assert update["utc"] == "2026-07-14 09:27:00 UTC"
    assert [b["name"] for b in impact["business_services"]] == ["Card payments"]
    assert impact["business_services"][0]["overridden"] is True
    assert impact["revenue_per_hour_text"] == "EUR 60.5 k/h"
    assert impact["running_cost_text"] == "EUR 97.8 k"  # 1 h 37 min of it


def test_markdown_has_every_section_and_both_zones(
    store_path: Path, catalogue: Catalogue
) -> None:
    text = postmortem.render_markdown(data_of(store_path, build(store_path), catalogue))

    for heading in (
        "Severity history", "Business impact", "Milestones", "Targets",
        "Bridge roster", "Stakeholder updates", "Alerts attached", "Timeline",
        "Journal verification",
    ):  # fmt: skip
        assert f"\n## {heading}\n" in text
    assert (
        "| 2026-07-14 09:43:00 UTC | 2026-07-14 10:43:00 BST | kim "
        "| rolled back \\| gateway config |"
    ) in text
    assert "| mobilised within 15 min of declared | missed |" in text
    assert "Hash chain verified (store): 16 events, chain intact." in text


def test_html_escapes_what_people_typed(store_path: Path, catalogue: Catalogue) -> None:
    incident_id = build(store_path)
    store = Store.open(store_path)
    store.add_note(incident_id, "<script>alert(1)</script>", actor="kim").result()
    store.close()

    html = postmortem.render_html(data_of(store_path, incident_id, catalogue))

    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "hash chain intact" in html


def test_a_tampered_journal_is_named_in_the_report(
    store_path: Path, catalogue: Catalogue
) -> None:
    incident_id = build(store_path)
    raw = sqlite3.connect(store_path, isolation_level=None)
    raw.execute("DROP TRIGGER journal_no_update")
    raw.execute("UPDATE journal SET actor = 'mallory' WHERE seq = 5")
    raw.close()

    data = data_of(store_path, incident_id, catalogue)
    text = postmortem.render_markdown(data)

    assert data["verification"]["intact"] is False
    assert "HASH CHAIN PROBLEMS (store)" in text
    assert "- event #5: was changed after it was recorded (hash mismatch)" in text
