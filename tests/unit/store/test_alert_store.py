"""The alert spool and records: nothing lost, rebuildable, incidents kept informed."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from mimdesk.domain import events as ev
from mimdesk.domain.alerts import Change, group_ref, parse_alert
from mimdesk.domain.errors import DomainError
from mimdesk.domain.incident import describe
from mimdesk.domain.lifecycle import Status
from mimdesk.domain.times import parse_utc
from mimdesk.store import alerts as alert_store
from mimdesk.store import schema
from mimdesk.store.alerts import IntakeResult
from mimdesk.store.store import Store

from .legacy import legacy_store

Case = Callable[[str], dict[str, Any]]
C12_KEY = '{}:{service="svc-e"}'
C36_KEY = '{}:{alertname="PodCrashLoop"}'


class Clock:
    """The store's "now", moved by the test."""

    def __init__(self, start: str) -> None:
        self.now = parse_utc(start)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock("2024-05-01T08:00:00Z")


@pytest.fixture
def store(store_path: Path, clock: Clock) -> Iterator[Store]:
    opened = Store.open(store_path, clock=clock)
    yield opened
    opened.close()


def deliver(store: Store, clock: Clock, delivery: dict[str, Any]) -> IntakeResult:
    clock.now = parse_utc(delivery["at"])
    return store.receive_alerts(
        json.dumps(delivery["body"]), source="test", received_at=clock.now
    )


def rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def declare(store: Store, key: str) -> str:
    return store.declare_from_alerts(
        key, title="Alerts firing", severity=2, actor="dana", known_services={"svc-e"}
    ).result()


def alert_texts(store: Store, incident_id: str) -> list[str]:
    events = store.timeline(incident_id)
    return [describe(e) for e in events if e.kind == ev.ALERT_CHANGED]


# --- the spool ----------------------------------------------------------------


def test_the_body_is_kept_when_processing_fails_and_retried_after(
    store: Store, store_path: Path, clock: Clock, load_case: Case,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    delivery = load_case("C12")["deliveries"][0]

    def broken(*args: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(alert_store, "_fold", broken)
    failed = deliver(store, clock, delivery)
    monkeypatch.undo()

    assert failed.errors == (
        "processing failed (RuntimeError: disk on fire); the delivery is kept for "
        "a retry",
    )
    assert store.alert_records() == []
    ((body, processed, error),) = rows(
        store_path, "SELECT body, processed, error FROM alert_deliveries"
    )
    assert json.loads(body) == delivery["body"]
    assert (processed, error) == (0, "RuntimeError: disk on fire")
    (retried,) = store.reprocess_pending()
    assert retried.ok
    assert [c for _, c in retried.changes] == [Change.FIRED]
    assert store.alert_spool() == {"done": 1, "pending": 0, "rejected": 0}


def test_a_delivery_left_pending_by_a_crash_is_processed_after_a_restart(
    store_path: Path, clock: Clock, load_case: Case
) -> None:
    body = json.dumps(load_case("C12")["deliveries"][0]["body"])
    first = Store.open(store_path, clock=clock)
    first.spool_alerts(body, source="test", received_at=clock.now).result()
    first.close()  # as if it stopped between spooling and processing

    second = Store.open(store_path, clock=clock)
    try:
        (result,) = second.reprocess_pending()
        assert result.ok
        assert len(second.alert_records()) == 1
    finally:
        second.close()


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("{not json", "the payload is not valid JSON"),
        ('{"version": "3"}', "unsupported payload version '3' (expected 4)"),
        ('{"version": "4", "groupKey": "g", "alerts": [{}]}', "alert #1 has no labels"),
    ],
)
def test_an_unreadable_payload_is_rejected_but_kept_exactly(
    store: Store, store_path: Path, clock: Clock, body: str, error: str
) -> None:
    result = store.receive_alerts(
        body, source="webhook 127.0.0.1", received_at=clock.now
    )

    assert result.errors[0].startswith(error)
    stored = rows(store_path, "SELECT source, body, processed FROM alert_deliveries")
    assert stored == [("webhook 127.0.0.1", body, alert_store.REJECTED)]
    assert store.reprocess_pending() == []


# --- the schema ---------------------------------------------------------------


def test_a_version_1_store_is_upgraded_keeping_its_incidents(
    store_path: Path, clock: Clock, load_case: Case
) -> None:
    legacy_store(
        store_path, version=1, seat="seat-old", now=clock(),
        incidents={"INC-260101-AB12": 1},
    )  # fmt: skip
    assert rows(store_path, "PRAGMA user_version") == [(1,)]

    upgraded = Store.open(store_path, clock=clock)
    try:
        assert rows(store_path, "PRAGMA user_version") == [(schema.LATEST,)]
        assert upgraded.incident("INC-260101-AB12").title == (
            "Older incident INC-260101-AB12"
        )
        assert upgraded.verify() == []
        assert upgraded.alert_records() == []
        assert deliver(upgraded, clock, load_case("C12")["deliveries"][0]).ok
    finally:
        upgraded.close()


def test_a_version_1_store_read_only_shows_no_alerts(
    store_path: Path, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:1])
    monkeypatch.setattr(schema, "LATEST", 1)
    Store.open(store_path, clock=clock).close()
    monkeypatch.undo()

    reader = Store(store_path, read_only=True)
    try:
        assert reader.alert_groups() == []
        assert reader.alert_spool() == {"done": 0, "pending": 0, "rejected": 0}
    finally:
        reader.close()


# --- rebuilding ---------------------------------------------------------------


def test_the_records_rebuilt_from_the_spool_equal_the_live_ones(
    store: Store, clock: Clock, load_case: Case
) -> None:
    for case in ("C12", "C36"):
        for number, delivery in enumerate(load_case(case)["deliveries"]):
            deliver(store, clock, delivery)
            if case == "C36" and number == 0:
                declare(store, C36_KEY)
    c11 = load_case("C11")["request"]["body"]
    store.receive_alerts(json.dumps(c11), source="file", received_at=clock.now)
    store.receive_alerts("[]", source="file", received_at=clock.now)
    live, links = store.alert_records(), store.alert_links()

    assert store.rebuild_alerts().result() == 10
    assert store.alert_records() == live
    assert store.alert_links() == links
    assert len(live) == 6


# --- incidents from alerts: field cases end to end ----------------------------


def test_c12_duplicates_give_one_incident_and_one_fired_entry(
    store: Store, clock: Clock, load_case: Case
) -> None:
    case = load_case("C12")
    deliveries = case["deliveries"]
    deliver(store, clock, deliveries[0])
    (group,) = store.alert_groups()
    assert group.suggestion == "declare"
    incident_id = declare(store, group_ref(group.key))

    results = [deliver(store, clock, d) for d in deliveries[1:]]

    assert all(r.ok and not r.events for r in results)
    assert len(store.incidents()) == case["expected"]["incidents"]
    (record,) = store.alert_records()
    assert record.seen == case["expected"]["seen_count"]
    fired = [t for t in alert_texts(store, incident_id) if t.endswith("fired")]
    assert fired == ["alert LatencyHigh on svc-e fired"]
    assert len(fired) == case["expected"]["timeline_fired_entries"]
    state = store.incident(incident_id)
    assert state.detected_at == parse_utc("2024-05-01T09:00:00Z")
    assert state.services == ("svc-e",)
    assert store.verify() == []


def test_c36_partial_then_full_recovery_and_no_reopening(
    store: Store, clock: Clock, load_case: Case
) -> None:
    first, repeat, partial, resolved, stale = load_case("C36")["deliveries"]
    deliver(store, clock, first)
    incident_id = declare(store, C36_KEY)

    assert not deliver(store, clock, repeat).events
    (event,) = deliver(store, clock, partial).events
    assert describe(event) == "alert PodCrashLoop on svc-l-0 resolved (1/3 recovered)"
    (group,) = store.alert_groups()
    assert (group.open, group.recovered) == (True, "1/3")
    texts = [describe(e) for e in deliver(store, clock, resolved).events]
    assert texts == [
        "alert PodCrashLoop on svc-l-1 resolved (2/3 recovered)",
        "alert PodCrashLoop on svc-l-2 resolved; all alerts resolved: consider "
        "marking mitigated",
    ]
    late = deliver(store, clock, stale)

    assert [c for _, c in late.changes] == [Change.STALE] * 3
    assert late.events == ()
    state = store.incident(incident_id)
    assert (state.status, state.reopen_count) == (Status.DECLARED, 0)
    assert len(store.incidents()) == 1
    assert len(store.alert_groups()) == 1
    assert store.verify() == []


def test_a_group_follows_only_one_open_incident(
    store: Store, clock: Clock, load_case: Case
) -> None:
    deliver(store, clock, load_case("C36")["deliveries"][0])
    incident_id = declare(store, C36_KEY)

    with pytest.raises(DomainError, match=f"already attached to {incident_id}"):
        declare(store, C36_KEY)
    with pytest.raises(DomainError, match="already attached"):
        store.attach_alerts(incident_id, C36_KEY, actor="dana").result()


def test_attaching_a_group_to_an_incident_records_its_later_changes(
    store: Store, clock: Clock, load_case: Case
) -> None:
    first, _, partial, *_ = load_case("C36")["deliveries"]
    deliver(store, clock, first)
    clock.now = parse_utc("2024-05-01T11:10:00Z")
    incident_id = store.declare(
        title="Checkout slow", severity=1, services=[], detected_at=None, actor="d"
    ).result()

    attached = store.attach_alerts(incident_id, C36_KEY, actor="dana").result()

    assert attached[0].kind == ev.ALERTS_ATTACHED
    assert store.alert_links() == {C36_KEY: incident_id}
    (event,) = deliver(store, clock, partial).events
    assert event.incident_id == incident_id


def test_a_closed_incident_is_not_written_to_by_alerts(
    store: Store, clock: Clock, load_case: Case
) -> None:
    first, _, partial, *_ = load_case("C36")["deliveries"]
    deliver(store, clock, first)
    incident_id = declare(store, C36_KEY)
    store.change_status(incident_id, Status.CLOSED, actor="dana").result()

    result = deliver(store, clock, partial)

    assert result.events == ()
    assert result.notices == (
        f"{incident_id} is closed; not recorded: alert PodCrashLoop on svc-l-0 "
        "resolved",
    )
    assert declare(store, C36_KEY) != incident_id  # a new one may be declared


def test_a_group_whose_incident_closed_follows_nothing(
    store: Store, clock: Clock, load_case: Case
) -> None:
    from mimdesk.domain.alert_links import suggestion

    first = load_case("C36")["deliveries"][0]
    deliver(store, clock, first)
    incident_id = declare(store, C36_KEY)
    following = store.alert_links()
    store.change_status(incident_id, Status.CLOSED, actor="dana").result()

    [group] = store.alert_groups()
    assert following == {C36_KEY: incident_id}
    assert store.alert_links() == {}
    assert suggestion(group, store.alert_links().get(group.key)) == "declare"


def test_an_unknown_group_or_alert_says_where_to_look(store: Store) -> None:
    with pytest.raises(DomainError, match="`mimdesk alerts list` shows"):
        declare(store, "nope")


# --- reconciling through the API ----------------------------------------------


def test_c11_truncation_is_told_and_reconciled(
    store: Store, clock: Clock, load_case: Case
) -> None:
    case = load_case("C11")
    body = case["request"]["body"]
    told = store.receive_alerts(json.dumps(body), source="test", received_at=clock.now)
    assert told.notices == (case["expected"]["truncated_notice"],)
    extra = [
        {**body["alerts"][0], "labels": {**body["alerts"][0]["labels"], "instance": i}}
        for i in ("node-3", "node-4")
    ]
    fetched = [parse_alert({**a, "fingerprint": ""}) for a in extra]

    result = store.reconcile_alerts(fetched, at=clock.now, group_key=body["groupKey"])

    assert [c for _, c in result.changes] == [Change.FIRED, Change.FIRED]
    known = store.alert_records()
    assert len(known) >= case["expected"]["known_alert_count_min"]
    assert {r.group_key for r in known} == {body["groupKey"]}
    assert rows(store.path, "SELECT source FROM alert_deliveries")[-1] == ("api",)


def test_a_complete_answer_resolves_what_it_no_longer_lists(
    store: Store, clock: Clock, load_case: Case
) -> None:
    deliver(store, clock, load_case("C12")["deliveries"][0])
    clock.now = parse_utc("2024-05-01T09:30:00Z")

    result = store.reconcile_alerts([], at=clock.now, scope={"service": "svc-e"})

    ((record, change),) = result.changes
    assert (change, record.status, record.ends_at) == (
        Change.RESOLVED,
        "resolved",
        clock.now,
    )
    assert store.rebuild_alerts().result() == 2
    assert store.alert_records() == [record]
