"""Alertmanager payloads: exact times, one record per alert, status per alert."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from mimdesk.domain import alerts as model
from mimdesk.domain.alerts import Change, Group, parse_time
from mimdesk.domain.errors import DomainError
from mimdesk.domain.times import parse_utc, utc_iso

Case = Callable[[str], dict[str, Any]]
T0 = parse_utc("2024-05-01T09:00:00Z")


def raw_alert(status: str = "firing", **changes: Any) -> dict[str, Any]:
    alert: dict[str, Any] = {
        "status": status,
        "labels": {"alertname": "LatencyHigh", "service": "svc-e", "pod": "p-0"},
        "annotations": {"summary": "LatencyHigh on svc-e"},
        "startsAt": "2024-05-01T09:00:00Z",
        "endsAt": "0001-01-01T00:00:00Z",
        "fingerprint": "f0",
    }
    alert.update(changes)
    return alert


def webhook(*alerts: dict[str, Any], key: str = "{}:{service}") -> model.Notification:
    body = {"version": "4", "groupKey": key, "status": "firing", "alerts": list(alerts)}
    return model.parse_webhook(body)


def fold(*notes: model.Notification, gap: float = 30) -> model.Applied:
    """Apply deliveries `gap` seconds apart; the last Applied."""
    records: dict[str, model.AlertRecord] = {}
    applied = model.Applied(records, ())
    for number, note in enumerate(notes):
        applied = model.apply(records, note, T0 + timedelta(seconds=gap * number))
        records = applied.records
    return applied


# --- times --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2024-05-01T10:00:00.123456789+02:00", "2024-05-01T08:00:00.123456Z"),
        ("2024-05-01T08:00:00Z", "2024-05-01T08:00:00.000000Z"),
        ("2024-05-01T02:30:00.5-05:30", "2024-05-01T08:00:00.500000Z"),
        ("2024-12-31T23:59:59.999999999-01:00", "2025-01-01T00:59:59.999999Z"),
    ],
)
def test_times_keep_their_offset_and_microseconds(text: str, utc: str) -> None:
    parsed = parse_time(text)

    assert parsed is not None
    assert utc_iso(parsed) == utc


@pytest.mark.parametrize(
    "text", ["0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000000000Z"]
)
def test_go_zero_time_means_no_end(text: str) -> None:
    assert parse_time(text) is None


@pytest.mark.parametrize(
    "text", [None, 5, "", "yesterday", "2024-05-01 08:00", "2024-02-30T00:00:00Z"]
)
def test_unreadable_times_are_refused(text: object) -> None:
    with pytest.raises(DomainError):
        parse_time(text)


# --- field cases --------------------------------------------------------------


def test_c10_firing_alert_with_zero_end(load_case: Case) -> None:
    case = load_case("C10")
    expected = case["expected"]["alert"]
    note = model.parse_webhook(case["request"]["body"])
    (record,) = model.apply({}, note, parse_utc(case["now"])).records.values()

    assert record.fingerprints == (expected["fingerprint"],)
    assert record.status == expected["state"]
    assert utc_iso(record.starts_at) == expected["starts_at_utc"]
    assert record.ends_at is expected["ends_at"]
    assert int(record.duration(parse_utc(case["now"]))) == expected["duration_s"]
    assert "0001" not in str(model.as_json(record))


def test_a_start_in_the_future_never_gives_a_negative_duration(
    load_case: Case,
) -> None:
    note = model.parse_webhook(load_case("C10")["request"]["body"])
    (record,) = model.apply({}, note, T0).records.values()

    assert record.duration(record.starts_at - timedelta(minutes=5)) == 0


def test_c11_status_is_per_alert_and_truncation_is_told(load_case: Case) -> None:
    case = load_case("C11")
    expected = case["expected"]
    note = model.parse_webhook(case["request"]["body"])
    records = model.apply({}, note, T0).records.values()
    by_print = {r.fingerprints[0]: r for r in records}

    assert by_print["1111111111111111"].status == expected["alerts"]["1111111111111111"]
    resolved = by_print["2222222222222222"]
    assert resolved.status == expected["alerts"]["2222222222222222"]["state"]
    assert resolved.ends_at is not None
    ended = expected["alerts"]["2222222222222222"]["ended_at_utc"]
    assert utc_iso(resolved.ends_at) == utc_iso(parse_utc(ended))
    assert Group(note.group_key, tuple(records)).open is expected["group_open"]
    assert note.truncated_notice == expected["truncated_notice"]


def test_c12_duplicates_are_one_record_seen_four_times(load_case: Case) -> None:
    case = load_case("C12")
    records: dict[str, model.AlertRecord] = {}
    changes = []
    for delivery in case["deliveries"]:
        note = model.parse_webhook(delivery["body"])
        applied = model.apply(records, note, parse_utc(delivery["at"]))
        records = applied.records
        changes += [change for _, change in applied.changes]

    (record,) = records.values()
    assert record.seen == case["expected"]["seen_count"]
    assert changes == [Change.FIRED, Change.SEEN, Change.SEEN, Change.SEEN]
    assert record.last_seen == parse_utc(case["deliveries"][-1]["at"])
    assert record.fingerprints == ("3333333333333333",)


def test_c36_a_stale_repeat_does_not_reopen(load_case: Case) -> None:
    case = load_case("C36")
    records: dict[str, model.AlertRecord] = {}
    for delivery in case["deliveries"]:
        applied = model.apply(
            records, model.parse_webhook(delivery["body"]), parse_utc(delivery["at"])
        )
        records = applied.records

    assert [c for _, c in applied.changes] == [Change.STALE] * 3
    (group,) = model.groups(records.values())
    assert not group.open
    assert group.recovered == "3/3"
    assert group.suggestion == "mark mitigated"


# --- transitions --------------------------------------------------------------


def test_a_resolved_alert_ends_when_alertmanager_says() -> None:
    ended = raw_alert("resolved", endsAt="2024-05-01T09:10:00Z")
    applied = fold(webhook(raw_alert()), webhook(ended))

    (record,) = applied.records.values()
    assert applied.changes == ((record.identity, Change.RESOLVED),)
    assert record.ends_at == parse_utc("2024-05-01T09:10:00Z")
    assert record.duration(T0 + timedelta(hours=5)) == 600


def test_firing_again_with_a_newer_start_is_a_new_episode() -> None:
    ended = raw_alert("resolved", endsAt="2024-05-01T09:10:00Z")
    again = raw_alert(startsAt="2024-05-01T09:20:00Z")
    applied = fold(webhook(raw_alert()), webhook(ended), webhook(again))

    (record,) = applied.records.values()
    assert applied.changes == ((record.identity, Change.REFIRED),)
    assert (record.status, record.ends_at) == ("firing", None)
    assert record.starts_at == parse_utc("2024-05-01T09:20:00Z")


def test_a_copy_without_fingerprint_and_one_with_another_label_order_match() -> None:
    plain = raw_alert(fingerprint="")
    plain["labels"] = dict(reversed(list(plain["labels"].items())))
    applied = fold(webhook(raw_alert()), webhook(plain))

    (record,) = applied.records.values()
    assert record.seen == 2
    assert applied.changes == ((record.identity, Change.SEEN),)


def test_a_late_resolution_copy_does_not_move_the_last_seen_back() -> None:
    records = fold(webhook(raw_alert())).records
    applied = model.apply(records, webhook(raw_alert()), T0 - timedelta(minutes=1))

    (record,) = applied.records.values()
    assert record.last_seen == T0


# --- groups -------------------------------------------------------------------


def test_groups_put_firing_ones_first_and_count_recoveries() -> None:
    old = raw_alert("resolved", startsAt="2024-05-01T08:00:00Z")
    old["endsAt"] = "2024-05-01T08:30:00Z"
    pods = [
        raw_alert(labels={"alertname": "Crash", "pod": f"p-{n}"}, fingerprint=f"c{n}")
        for n in range(3)
    ]
    pods[0].update(status="resolved", endsAt="2024-05-01T09:05:00Z")
    records = fold(webhook(old, key="old"), webhook(*pods, key="pods")).records

    first, second = model.groups(records.values())
    assert (first.key, first.open, first.recovered) == ("pods", True, "1/3")
    assert first.suggestion == "keep open"
    assert (second.key, second.open, second.recovered) == ("old", False, "1/1")
    assert first.detected_at == T0


def test_services_come_from_the_first_matching_label_names() -> None:
    labels = {"job": "node", "service": "svc-e", "team": "core"}

    assert model.services_of(labels, {"svc-e", "node"}) == ("svc-e", "node")
    assert model.services_of(labels, {"node"}) == ("node",)
    assert model.services_of(labels, {"core"}, ("team",)) == ("core",)
    assert model.services_of(labels, set()) == ()


# --- stored forms -------------------------------------------------------------


def test_a_record_survives_its_stored_form(load_case: Case) -> None:
    note = model.parse_webhook(load_case("C11")["request"]["body"])
    for record in model.apply({}, note, T0).records.values():
        assert model.from_json(model.as_json(record)) == record


def test_an_alert_survives_the_wire_form() -> None:
    for raw in (raw_alert(), raw_alert("resolved", endsAt="2024-05-01T09:10:00Z")):
        alert = model.parse_alert(raw)
        assert model.parse_alert(model.alert_json(alert)) == alert


def test_alerts_a_complete_answer_lacks_have_resolved() -> None:
    other = raw_alert(labels={"alertname": "Disk", "service": "svc-f"}, fingerprint="")
    records = fold(webhook(raw_alert(), other)).records
    later = T0 + timedelta(minutes=10)

    gone = model.resolve_absent(records, [], {"service": "svc-e"}, later)

    (identity, change), = gone.changes  # fmt: skip
    assert change is Change.RESOLVED
    assert gone.records[identity].ends_at == later
    assert sum(r.firing for r in gone.records.values()) == 1


def test_a_resolved_alert_without_an_end_ends_when_seen_resolved() -> None:
    from datetime import UTC, datetime

    from mimdesk.domain.alerts import RESOLVED, merge, parse_alert

    alert = parse_alert(
        {
            "status": "resolved",
            "labels": {"alertname": "Gone"},
            "startsAt": "2026-12-03T10:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
        }
    )
    seen = datetime(2026, 12, 3, 10, 30, tzinfo=UTC)

    record, _ = merge(None, alert, "g", seen)

    assert record.status == RESOLVED
    assert record.ends_at == seen
    assert record.duration(datetime(2026, 12, 4, tzinfo=UTC)) == 1800
