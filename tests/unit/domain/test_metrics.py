"""Response metrics across incidents, with values worked out by hand."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest

from mimdesk.domain.events import JournalEvent
from mimdesk.domain.incident import Incident, change_status, declare
from mimdesk.domain.incident import record_update_sent as update
from mimdesk.domain.lifecycle import Status
from mimdesk.domain.metrics import Spread, chosen, metrics, metrics_json, spread
from mimdesk.domain.targets import DEFAULT_POLICY
from mimdesk.domain.times import parse_utc

from ..recording import Recorder

T0 = parse_utc("2026-11-02T08:00:00Z")
NOW = T0 + timedelta(days=3)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def incident(
    name: str, severity: int, services: list[str], *, declared: int,
    steps: Sequence[tuple[Status, int]], updates: Sequence[int] = (),
    demo: bool = False,
) -> tuple[Incident, list[JournalEvent]]:  # fmt: skip
    """One incident: detected at T0, the given milestones and updates (minutes)."""
    rec = Recorder(f"INC-261102-{name}")
    rec.record(
        declare(title=name, severity=severity, services=services, detected_at=T0,
                declared_at=at(declared), now=at(declared), actor="dana", demo=demo),
        at(declared),
    )  # fmt: skip
    moves = [(m, "status", s) for s, m in steps] + [
        (m, "update", None) for m in updates
    ]
    for minute, what, status in sorted(moves, key=lambda m: m[0]):
        if what == "update" or status is None:
            drafts = update(rec.incident, "news", now=at(minute), actor="lee")
        else:
            drafts = change_status(rec.incident, status, at=at(minute),
                                   now=at(minute), actor="lee")  # fmt: skip
        rec.record(drafts, at(minute))
    return rec.incident, rec.events


@pytest.fixture
def journals() -> list[tuple[Incident, list[JournalEvent]]]:
    m, r = Status.MITIGATED, Status.RESOLVED
    return [
        # SEV1: mobilised in 8 min (target 15: met), first update at 20 (met),
        # then every 25 min: cadence kept.
        incident("AAAA", 1, ["payments-api"], declared=2,
                 steps=[(Status.MOBILISED, 10), (m, 30), (r, 60)],
                 updates=[20, 45]),
        # SEV2: mobilised in 16 (met), no update for 60 min after the first:
        # cadence missed; first update at 70 > 4 + 60: missed.
        incident("BBBB", 2, ["payments-api", "identity"], declared=4,
                 steps=[(Status.MOBILISED, 20), (m, 50), (r, 140)],
                 updates=[70]),
        # SEV3, still open: its time to acknowledge counts, no other duration.
        incident("CCCC", 3, ["identity"], declared=6, steps=[]),
    ]  # fmt: skip


def test_spread_uses_the_median_and_the_inclusive_90th_percentile() -> None:
    values = [timedelta(minutes=m) for m in (2, 4, 6)]

    assert spread(values) == Spread(
        3, timedelta(minutes=4), timedelta(minutes=5, seconds=36)
    )
    assert spread([timedelta(minutes=7)]) == Spread(
        1, timedelta(minutes=7), timedelta(minutes=7)
    )
    assert spread([]) == Spread()


def test_metrics_over_three_incidents(
    journals: list[tuple[Incident, list[JournalEvent]]],
) -> None:
    found = metrics(journals, DEFAULT_POLICY, NOW)

    assert found.incidents == 3
    assert found.by_severity == {1: 1, 2: 1, 3: 1}
    assert found.by_service == {"payments-api": 2, "identity": 2}
    assert found.spreads["time_to_acknowledge"] == Spread(
        3, timedelta(minutes=4), timedelta(minutes=5, seconds=36)
    )
    assert found.spreads["time_to_mobilise"] == Spread(
        2, timedelta(minutes=12), timedelta(minutes=15, seconds=12)
    )
    assert found.spreads["time_to_resolve"].median == timedelta(minutes=100)
    assert found.spreads["time_to_mitigate"].count == 2
    # AAAA: 3 met; BBBB: declare and mobilise met, first update missed;
    # CCCC: declare met (6 min of 60), mobilise still running.
    assert (found.targets_met, found.targets_judged) == (6, 7)
    # Only AAAA kept it: CCCC has been open for days without an update.
    assert (found.cadence_kept, found.cadence_judged) == (1, 3)


def test_the_json_gives_seconds(
    journals: list[tuple[Incident, list[JournalEvent]]],
) -> None:
    data = metrics_json(metrics(journals, DEFAULT_POLICY, NOW))

    assert data["format"] == "mimdesk.metrics/1"
    assert data["durations"]["time_to_mobilise"] == {
        "count": 2, "median_seconds": 720, "p90_seconds": 912,
    }  # fmt: skip
    assert data["by_severity"] == {"1": 1, "2": 1, "3": 1}
    assert data["targets"] == {"met": 6, "judged": 7}


def test_demo_incidents_and_older_ones_are_left_out_unless_asked_for() -> None:
    real, _ = incident("REAL", 1, [], declared=2, steps=[])
    demo, _ = incident("DEMO", 1, [], declared=2, steps=[], demo=True)

    assert chosen([real, demo], since=None, include_demo=False) == [real]
    assert chosen([real, demo], since=None, include_demo=True) == [real, demo]
    assert chosen([real, demo], since=at(1), include_demo=True) == []
