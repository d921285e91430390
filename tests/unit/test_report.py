"""The clock view keeps each regulation's reports apart."""

from __future__ import annotations

from datetime import UTC, timedelta

from mimdesk import report
from mimdesk.domain import incident as model
from mimdesk.domain.regulatory import PRESETS
from mimdesk.domain.targets import DEFAULT_POLICY
from mimdesk.domain.times import parse_utc

from .recording import Recorder

T0 = parse_utc("2026-12-03T14:00:00Z")


def test_a_report_sent_under_one_regulation_leaves_the_others_running(
    recorder: Recorder,
) -> None:
    later = T0 + timedelta(hours=1)
    recorder.record(
        model.declare(title="Payments down", severity=1, services=[],
                      detected_at=T0, now=T0, actor="dana"),
        T0,
    )  # fmt: skip
    recorder.record(
        model.record_report_sent(recorder.incident, "dora.final", now=later, actor="d"),
        later,
    )

    data = report.clock_json(
        recorder.incident, recorder.events, DEFAULT_POLICY,
        [PRESETS["dora"], PRESETS["nis2"]], later,
    )  # fmt: skip

    states = {r["key"]: r["state"] for r in data["reports"]}
    assert states["dora.final"].startswith("sent")
    assert not states["nis2.final"].startswith("sent")


def test_the_clock_says_due_soon_and_keeps_a_downgraded_dora_clock(
    recorder: Recorder,
) -> None:
    recorder.record(
        model.declare(title="Payments down", severity=1, services=[],
                      detected_at=T0, now=T0, actor="dana"),
        T0,
    )  # fmt: skip
    lowered = T0 + timedelta(minutes=10)
    recorder.record(
        model.change_severity(recorder.incident, 3, now=lowered, actor="d"), lowered
    )
    now = T0 + timedelta(minutes=115)  # SEV3: an update every 2 h, amber for 24 min

    data = report.clock_json(
        recorder.incident, recorder.events, DEFAULT_POLICY, [PRESETS["dora"]], now
    )
    lines = report.clock_lines(data, UTC, now)

    assert data["next_update"]["level"] == "amber"
    assert data["classified_major_at"] == "2026-12-03T14:00:00.000000Z"
    assert data["downgraded"] is True
    assert data["reports"][0]["state"] == "running"
    assert "  next stakeholder update due 16:00 UTC, DUE SOON" in lines
    assert lines[-1] == f"  {report.DOWNGRADED} (classified 14:00 UTC)"
