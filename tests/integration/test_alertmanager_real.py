"""Alerts through a real Alertmanager into the receiver, the poller and the real
store, and a real Prometheus alerting rule on a node_exporter metric through to
an incident suggestion."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from mimdesk.connectors.alertmanager import AlertmanagerClient, matcher
from mimdesk.connectors.errors import Permanent
from mimdesk.domain.alerts import FIRING, RESOLVED, AlertRecord
from mimdesk.domain.wall import Link
from mimdesk.store.store import Store
from mimdesk.sync.alert_poller import AlertPoller, AlertPollerThread
from mimdesk.sync.receiver import AlertReceiver

from .alertsink import Deliveries
from .servers import Server

pytestmark = pytest.mark.slow

# Alertmanager waits group_wait (0.2 s) before the first notification of a group,
# and group_interval (1 s) before each change; allow for a loaded CI machine.
ARRIVAL_S = 15.0
EVALUATION_INTERVAL_S = 1.0
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
GROUP = {"alertname": "DiskFull", "service": "svc-e"}
GROUP_KEY = '{}:{alertname="DiskFull", service="svc-e"}'


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(tmp_path / "data" / "mimdesk.sqlite")
    yield opened
    opened.close()


@pytest.fixture
def alert_sink(store: Store) -> Deliveries:
    """Every delivery goes into the real store (and is recorded on the way)."""
    return Deliveries(store)


def am_alert(instance: str, *, ends: datetime | None = None) -> dict[str, Any]:
    alert: dict[str, Any] = {
        "labels": GROUP | {"instance": instance},
        "annotations": {"summary": f"DiskFull on {instance}"},
        "startsAt": _wire(T0),
    }
    if ends is not None:
        alert["endsAt"] = _wire(ends)
    return alert


def _wire(instant: datetime) -> str:
    return instant.isoformat().replace("+00:00", "Z")


def post_alerts(manager: Server, alerts: list[dict[str, Any]]) -> None:
    answer = requests.post(f"{manager.url}/api/v2/alerts", json=alerts, timeout=5)
    answer.raise_for_status()


def by_instance(store: Store) -> dict[str, AlertRecord]:
    return {dict(r.labels)["instance"]: r for r in store.alert_records()}


def statuses(store: Store) -> dict[str, str]:
    return {name: r.status for name, r in by_instance(store).items()}


def test_alerts_arrive_deduplicate_and_resolve(
    start_alertmanager: Callable[..., Server],
    alert_receiver: tuple[AlertReceiver, Deliveries],
    store: Store,
) -> None:
    _, sink = alert_receiver
    manager = start_alertmanager()
    post_alerts(manager, [am_alert("node-1"), am_alert("node-2")])
    assert sink.wait_for(lambda s: len(statuses(store)) == 2, ARRIVAL_S)
    assert statuses(store) == {"node-1": FIRING, "node-2": FIRING}

    post_alerts(manager, [am_alert("node-1"), am_alert("node-2"), am_alert("node-3")])
    assert sink.wait_for(lambda s: len(statuses(store)) == 3, ARRIVAL_S)
    records = by_instance(store)
    assert len(store.alert_records()) == 3  # repeats of node-1, node-2: no new record
    assert [records[n].seen for n in ("node-1", "node-2", "node-3")] == [2, 2, 1]
    assert all(r.ends_at is None and r.starts_at == T0 for r in records.values())

    ended = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=10)
    post_alerts(manager, [am_alert("node-1", ends=ended)])
    assert sink.wait_for(lambda s: statuses(store)["node-1"] == RESOLVED, ARRIVAL_S)
    assert by_instance(store)["node-1"].ends_at == ended
    assert statuses(store) == {"node-1": RESOLVED, "node-2": FIRING, "node-3": FIRING}
    [group] = store.alert_groups()
    assert (group.key, group.recovered, group.open) == (GROUP_KEY, "1/3", True)
    assert group.detected_at == T0
    assert len(sink.received) == 3


def test_a_real_prometheus_rule_reaches_the_store_as_a_suggestion(
    alerting_chain: tuple[Server, Server, Server],
    alert_receiver: tuple[AlertReceiver, Deliveries],
    store: Store,
) -> None:
    _, sink = alert_receiver
    assert sink.wait_for(lambda s: bool(store.alert_groups()), 30)
    [group] = store.alert_groups()
    [alert] = group.alerts
    assert alert.name == "NodeLoadSeen"
    assert (alert.status, alert.ends_at) == (FIRING, None)
    labels = dict(alert.labels)
    assert (labels["service"], labels["job"]) == ("svc-node", "node")
    assert f":{alerting_chain[1].port}/graph?" in alert.generator_url
    assert group.suggestion == "declare"
    assert group.detected_at == alert.starts_at  # when the rule fired, not now
    # From the rule firing (Prometheus's activeAt) to the body being kept and
    # processed: Alertmanager's group_wait (0.2 s) plus transport and the store,
    # within one evaluation interval (1 s here).
    delay = sink.received[0].wall_time - alert.starts_at.timestamp()
    print(f"rule fired -> webhook kept and processed: {delay:.2f} s")
    assert 0 <= delay < EVALUATION_INTERVAL_S


def test_the_poller_alone_keeps_the_store_current(
    start_alertmanager: Callable[..., Server],
    alert_receiver: tuple[AlertReceiver, Deliveries],
    store: Store,
) -> None:
    receiver, sink = alert_receiver
    receiver.stop()  # a workstation Alertmanager cannot reach: only polling
    manager = start_alertmanager()
    other = am_alert("db-1") | {
        "labels": {"alertname": "Slow", "service": "svc-f", "instance": "db-1"}
    }
    post_alerts(manager, [am_alert("node-1"), am_alert("node-2"), other])
    poller = AlertPoller(AlertmanagerClient(manager.url), sink)

    assert poller.poll().link is Link.CONNECTED
    assert statuses(store) == {"node-1": FIRING, "node-2": FIRING, "db-1": FIRING}
    assert all(r.starts_at == T0 for r in store.alert_records())

    post_alerts(manager, [am_alert("node-1", ends=datetime.now(UTC))])
    polled_at = datetime.now(UTC)
    poller.reconcile_group(GROUP, GROUP_KEY)
    alerts, scope, _ = sink.reconciled[-1]
    assert scope == GROUP
    assert sorted(dict(a.labels)["instance"] for a in alerts) == ["node-2"]
    resolved = by_instance(store)["node-1"]
    assert resolved.status == RESOLVED
    assert resolved.ends_at is not None
    assert resolved.ends_at >= polled_at
    assert statuses(store)["db-1"] == FIRING  # outside the group: untouched

    manager.stop()
    state = poller.poll()
    assert state.link is Link.UNREACHABLE
    assert "cannot reach Alertmanager" in state.message
    assert statuses(store)["node-2"] == FIRING  # unreachable is not resolved
    poller.close()


def test_real_api_errors_are_typed(start_alertmanager: Callable[..., Server]) -> None:
    manager = start_alertmanager()
    client = AlertmanagerClient(manager.url, sleep=lambda s: None)
    with pytest.raises(Permanent, match="double quote"):
        client.alerts(['service="svc'])
    assert client.alerts([matcher("service", 'odd "name" \\ here')]) == []
    assert client.status().cluster == "disabled"
    client.close()


def test_a_truncated_webhook_is_completed_from_the_api(
    start_alertmanager: Callable[..., Server],
    alert_receiver: tuple[AlertReceiver, Deliveries],
    store: Store,
) -> None:
    receiver, sink = alert_receiver
    manager = start_alertmanager(max_alerts=2)
    poller = AlertPoller(AlertmanagerClient(manager.url), sink)
    runner = AlertPollerThread(poller, interval_s=3600)
    receiver.on_truncated = runner.reconcile_group  # as app.py wires them
    runner.start()
    try:
        assert sink.wait_for(lambda s: len(s.reconciled) == 1, ARRIVAL_S)  # start
        post_alerts(manager, [am_alert(f"node-{n}") for n in (1, 2, 3)])
        assert sink.wait_for(lambda s: len(s.reconciled) == 2, ARRIVAL_S)
    finally:
        assert runner.stop()
        poller.close()
    # Alertmanager may flush the group before all three alerts are in it; the
    # notification that matters is the first one that had to leave one out.
    cut = [n for n in sink.notes() if n.truncated]
    assert (len(cut[0].alerts), cut[0].truncated) == (2, 1)
    alerts, scope, key = sink.reconciled[1]
    assert (scope, key, len(alerts)) == (GROUP, GROUP_KEY, 3)
    [group] = store.alert_groups()
    assert (group.key, len(group.alerts), group.firing) == (GROUP_KEY, 3, 3)
