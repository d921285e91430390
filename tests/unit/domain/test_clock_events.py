"""Updates sent, reports filed, the bridge link, impact start and corrections."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from mimdesk.domain import incident as model
from mimdesk.domain.errors import DomainError
from mimdesk.domain.lifecycle import Status
from mimdesk.domain.regulatory import PRESETS
from mimdesk.domain.times import parse_utc

from ..recording import Recorder

T0 = parse_utc("2026-12-03T14:00:00Z")


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def live(recorder: Recorder) -> Recorder:
    recorder.record(
        model.declare(title="Card payments failing", severity=1, services=[],
                      detected_at=at(0), declared_at=at(5), now=at(5), actor="dana"),
        at(5),
    )  # fmt: skip
    return recorder


def test_the_first_update_sent_is_kept_and_later_ones_counted(live: Recorder) -> None:
    live.record(
        model.record_update_sent(live.incident, "a", now=at(20), actor="c"), at(20)
    )
    incident = live.record(
        model.record_update_sent(live.incident, "b", now=at(50), actor="c"), at(50)
    )

    assert incident.first_update_at == at(20)
    assert incident.update_count == 2


def test_a_report_is_recorded_once(live: Recorder) -> None:
    incident = live.record(
        model.record_report_sent(
            live.incident, " DORA.Initial ", now=at(60), actor="c"
        ),
        at(60),
    )

    assert incident.reports_sent == {"dora.initial": at(60)}
    with pytest.raises(DomainError, match="already recorded"):
        model.record_report_sent(incident, "dora.initial", now=at(61), actor="c")


def test_the_bridge_link_and_dial_in_are_kept(live: Recorder) -> None:
    incident = live.record(
        model.set_bridge(live.incident, "https://meet.example.invalid/x",
                         dial_in="+44 20 7946 0000", now=at(6), actor="c"),
        at(6),
    )  # fmt: skip

    assert incident.bridge_url == "https://meet.example.invalid/x"
    assert incident.dial_in == "+44 20 7946 0000"
    with pytest.raises(DomainError, match="already set"):
        model.set_bridge(incident, incident.bridge_url, dial_in=incident.dial_in,
                         now=at(7), actor="c")  # fmt: skip


def test_impact_may_start_before_detection(live: Recorder) -> None:
    incident = live.record(
        model.set_impact_started(live.incident, at(-12), now=at(30), actor="c"), at(30)
    )

    assert incident.impact_started_at == at(-12)
    assert incident.detected_at == at(0)


def test_a_corrected_milestone_keeps_the_old_time_in_the_journal(
    live: Recorder,
) -> None:
    drafts = model.correct_milestone(
        live.incident, Status.DECLARED, at(3), reason="declared by phone first",
        now=at(30), actor="c",
    )  # fmt: skip
    incident = live.record(drafts, at(30))

    assert incident.reached(Status.DECLARED) == at(3)
    assert live.events[-1].payload["from"] == "2026-12-03T14:05:00.000000Z"
    assert model.describe(live.events[-1]).endswith("declared by phone first")


@pytest.mark.parametrize(
    ("status", "minutes", "message"),
    [
        (Status.DECLARED, -1, "earlier than the milestones before"),
        (Status.MOBILISED, 9, "was not reached"),
        (Status.DETECTED, 6, "later than the milestones after"),
    ],
)
def test_corrections_that_break_the_order_are_refused(
    live: Recorder, status: Status, minutes: int, message: str
) -> None:
    with pytest.raises(DomainError, match=message):
        model.correct_milestone(
            live.incident, status, at(minutes), reason="x", now=at(30), actor="c"
        )


def test_state_with_clock_events_survives_the_read_model(live: Recorder) -> None:
    live.record(
        model.record_update_sent(live.incident, "a", now=at(20), actor="c"), at(20)
    )
    live.record(
        model.record_report_sent(live.incident, "initial", now=at(21), actor="c"),
        at(21),
    )
    incident = live.incident

    assert model.Incident.from_dict(incident.to_dict()) == incident
    assert model.fold(live.events) == incident


@pytest.mark.parametrize("link", ["javascript:alert(1)", "file:///etc/passwd"])
def test_a_bridge_link_must_be_a_meeting_or_phone_link(
    live: Recorder, link: str
) -> None:
    with pytest.raises(DomainError, match="not a meeting link"):
        model.set_bridge(live.incident, link, dial_in=None, now=at(6), actor="c")


def test_a_report_cannot_be_sent_before_detection(live: Recorder) -> None:
    with pytest.raises(DomainError, match="before the incident was detected"):
        model.record_report_sent(
            live.incident, "dora.initial", now=at(30), actor="c", at=at(-60)
        )


REGIMES = (PRESETS["dora"], PRESETS["nis2"])


def _report(live: Recorder, key: str, minute: float) -> None:
    live.record(
        model.record_report_sent(
            live.incident, key, now=at(minute), actor="c", regimes=REGIMES
        ),
        at(minute),
    )


@pytest.mark.parametrize(
    ("key", "missing"),
    [
        ("dora.intermediate", "dora.initial"),
        ("dora.final", "dora.initial, dora.intermediate"),
        ("nis2.notification", "nis2.early_warning"),
    ],
)
def test_a_later_report_needs_the_earlier_ones_sent(
    live: Recorder, key: str, missing: str
) -> None:
    with pytest.raises(DomainError) as refused:
        model.record_report_sent(
            live.incident, key, now=at(60), actor="c", regimes=REGIMES
        )

    assert str(refused.value) == (
        f"{key} cannot be recorded before {missing}: a later "
        f"{key.split('.')[0].upper()} report needs the earlier ones sent first"
    )


def test_reports_in_order_are_accepted(live: Recorder) -> None:
    _report(live, "dora.initial", 60)
    _report(live, "dora.intermediate", 120)
    _report(live, "nis2.early_warning", 130)

    assert set(live.incident.reports_sent) == {
        "dora.initial",
        "dora.intermediate",
        "nis2.early_warning",
    }


def test_a_later_report_cannot_predate_the_earlier_one(live: Recorder) -> None:
    _report(live, "dora.initial", 60)

    with pytest.raises(
        DomainError, match=r"cannot have been sent before dora\.initial"
    ):
        model.record_report_sent(
            live.incident, "dora.intermediate", now=at(90), actor="c",
            at=at(50), regimes=REGIMES,
        )  # fmt: skip
