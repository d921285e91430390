"""Declaring from alerts, attaching them, and what their later changes record."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mimdesk.domain import alert_links, incident
from mimdesk.domain import events as ev
from mimdesk.domain.alerts import AlertRecord, Change, Group
from mimdesk.domain.errors import DomainError
from mimdesk.domain.lifecycle import Status
from mimdesk.domain.times import parse_utc

from ..recording import Recorder

T0 = parse_utc("2026-12-03T14:00:00Z")
NOW = T0 + timedelta(minutes=20)


def record(pod: str, minutes: float = 0, **changes: object) -> AlertRecord:
    fields: dict[str, object] = {
        "identity": f"id-{pod}",
        "labels": (("alertname", "Crash"), ("pod", pod), ("service", "svc-e")),
        "status": "firing",
        "starts_at": T0 + timedelta(minutes=minutes),
        "ends_at": None,
        "first_seen": T0,
        "last_seen": T0,
        "group_key": "{}:{alertname=Crash}",
        "annotations": (("summary", f"Crash on {pod}"),),
    }
    fields.update(changes)
    return AlertRecord(**fields)  # type: ignore[arg-type]


PODS = [record("p-0", 3), record("p-1", 0), record("p-2", 7)]


def declared(recorder: Recorder) -> Recorder:
    drafts = alert_links.declare_from_alerts(
        PODS, title="Pods crashing", severity=2, now=NOW, actor="dana",
        known_services={"svc-e", "payments-api"},
    )  # fmt: skip
    recorder.record(drafts, NOW)
    return recorder


def test_detection_is_the_earliest_alert_start_not_now(recorder: Recorder) -> None:
    state = declared(recorder).incident

    assert state.detected_at == T0
    assert state.reached(Status.DECLARED) == NOW
    assert state.services == ("svc-e",)


def test_declaring_records_the_attachment_and_one_fired_entry_each(
    recorder: Recorder,
) -> None:
    events = declared(recorder).events
    kinds = [e.kind for e in events]

    assert kinds[:3] == [ev.INCIDENT_CREATED, ev.STATUS_CHANGED, ev.ALERTS_ATTACHED]
    assert kinds[3:] == [ev.ALERT_CHANGED] * 3
    attached = events[2].payload
    assert attached["identities"] == ["id-p-0", "id-p-1", "id-p-2"]
    assert attached["group_key"] == "{}:{alertname=Crash}"
    assert incident.describe(events[2]) == (
        "3 alerts attached (3 firing): Crash on p-0; Crash on p-1; Crash on p-2"
    )
    assert [incident.describe(e) for e in events[3:]] == [
        f"alert Crash on {pod} fired" for pod in ("p-0", "p-1", "p-2")
    ]
    assert [e.occurred_at for e in events[3:]] == [r.starts_at for r in PODS]


def test_alerts_of_several_groups_are_refused() -> None:
    mixed = [PODS[0], record("x", group_key="other")]

    with pytest.raises(DomainError, match="different groups"):
        alert_links.declare_from_alerts(
            mixed, title="T", severity=2, now=NOW, actor="dana", known_services=()
        )


def test_attaching_to_a_closed_incident_is_refused(recorder: Recorder) -> None:
    state = declared(recorder).incident
    closing = incident.change_status(state, Status.CLOSED, at=NOW, now=NOW, actor="d")
    closed = recorder.record(closing, NOW)

    with pytest.raises(DomainError, match="declare a new incident"):
        alert_links.attach_alerts(closed, PODS, now=NOW, actor="dana")


def resolved(pod: str, minutes: float) -> AlertRecord:
    return record(pod, status="resolved", ends_at=T0 + timedelta(minutes=minutes))


def test_partial_then_full_recovery_is_told_never_acted_on(
    recorder: Recorder,
) -> None:
    state = declared(recorder).incident
    first = Group("g", (resolved("p-0", 20), PODS[1], PODS[2]))
    every = Group("g", (resolved("p-0", 20), resolved("p-1", 30), resolved("p-2", 40)))

    partial = alert_links.alert_changed(state, first.alerts[0], Change.RESOLVED, first)
    full = alert_links.alert_changed(state, every.alerts[2], Change.RESOLVED, every)
    assert partial is not None
    assert full is not None
    after = recorder.record([partial, full], NOW)

    texts = [incident.describe(e) for e in recorder.events[-2:]]
    assert texts == [
        "alert Crash on p-0 resolved (1/3 recovered)",
        "alert Crash on p-2 resolved; all alerts resolved: consider marking mitigated",
    ]
    assert after.status is Status.DECLARED
    assert recorder.events[-1].occurred_at == T0 + timedelta(minutes=40)


@pytest.mark.parametrize("change", [Change.SEEN, Change.STALE])
def test_repeats_make_no_timeline_entry(recorder: Recorder, change: Change) -> None:
    state = declared(recorder).incident

    assert alert_links.alert_changed(state, PODS[0], change, Group("g", ())) is None


def test_no_mitigation_advice_once_mitigated(recorder: Recorder) -> None:
    state = declared(recorder).incident
    moving = incident.change_status(
        state, Status.MITIGATED, at=NOW, now=NOW, actor="dana"
    )
    state = recorder.record(moving, NOW)
    every = Group("g", (resolved("p-0", 20),))

    draft = alert_links.alert_changed(state, every.alerts[0], Change.RESOLVED, every)

    assert draft is not None
    assert draft.payload["advice"] == ""
    recorder.record([draft], NOW)
    assert incident.describe(recorder.events[-1]) == (
        "alert Crash on p-0 resolved; all alerts resolved"
    )


def test_suggestions_follow_the_group_and_its_incident() -> None:
    firing, done = Group("g", (PODS[0],)), Group("g", (resolved("p-0", 5),))

    assert alert_links.suggestion(firing, None) == "declare"
    assert alert_links.suggestion(done, None) == ""
    assert alert_links.suggestion(firing, "INC-1") == "keep open"
    assert alert_links.suggestion(done, "INC-1") == "mark mitigated"


def labelled(pod: str, severity: str) -> AlertRecord:
    base = record(pod)
    labels = (*base.labels, ("severity", severity)) if severity else base.labels
    return record(pod, labels=labels)


@pytest.mark.parametrize(
    ("severities", "expected"),
    [
        (["critical"], 2),  # never SEV1 by itself: that takes a person
        (["warning"], 3),
        (["warning", "critical"], 2),
        (["page"], 2),
        (["info", ""], 2),
        ([], 2),
    ],
)
def test_severity_is_suggested_from_the_severity_label_conservatively(
    severities: list[str], expected: int
) -> None:
    records = [labelled(f"p-{n}", s) for n, s in enumerate(severities)]

    assert alert_links.suggested_severity(records) == expected


def test_a_configured_mapping_may_suggest_sev1() -> None:
    records = [labelled("p-0", "page")]

    assert alert_links.suggested_severity(records, {"page": 1}) == 1


def test_the_title_is_the_first_firing_summary_and_counts_the_others() -> None:
    gone = record("p-0", status="resolved", ends_at=NOW)

    assert alert_links.suggested_title([gone, PODS[1]]) == "Crash on p-1 (+1 more)"
    assert alert_links.suggested_title([PODS[0]]) == "Crash on p-0"
    assert alert_links.suggested_title([]) == ""
