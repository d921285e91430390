"""The alert poller: what it hands the sink, the connection state it shows, and
its thread, which fetches a truncated group at once."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import pytest

from mimdesk.connectors.errors import AuthFailed, ConnectorError, Unreachable
from mimdesk.domain.alerts import FIRING, Alert
from mimdesk.domain.wall import Link
from mimdesk.settings import AlertmanagerSettings, Settings
from mimdesk.store.alerts import IntakeResult
from mimdesk.sync.alert_poller import (
    AlertPoller,
    AlertPollerThread,
    group_filters,
    open_alertmanager,
)

AT = datetime(2024, 5, 1, 8, 6, tzinfo=UTC)
ALERT = Alert((("alertname", "DiskFull"), ("service", "svc-e")), FIRING, AT, None)
WAIT_S = 5.0


class FakeClient:
    """Answers with ALERT, or raises what it is told to."""

    base_url = "http://user:pw@am.example.internal:9093"

    def __init__(self) -> None:
        self.failure: ConnectorError | None = None
        self.asked: list[list[str]] = []

    def alerts(
        self,
        filters: Sequence[str] = (),
        *,
        active: bool = True,
        silenced: bool | None = None,
        inhibited: bool | None = None,
    ) -> list[Alert]:
        self.asked.append(list(filters))
        if self.failure is not None:
            raise self.failure
        return [ALERT]

    def close(self) -> None:
        pass


class Sink:
    """Records reconcile calls and signals each one."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, Mapping[str, str] | None, str]] = []
        self.called = threading.Event()
        self.failing = False

    def receive_alerts(
        self, body: str, *, source: str, received_at: datetime
    ) -> IntakeResult:
        raise AssertionError("not for the poller")

    def reconcile_alerts(
        self,
        alerts: Sequence[Alert],
        *,
        at: datetime,
        group_key: str = "",
        scope: Mapping[str, str] | None = None,
    ) -> IntakeResult:
        if self.failing:
            raise OSError("disk full")
        self.calls.append((len(alerts), scope, group_key))
        self.called.set()
        return IntakeResult(len(self.calls))


@pytest.fixture
def client() -> FakeClient:
    return FakeClient()


@pytest.fixture
def sink() -> Sink:
    return Sink()


@pytest.fixture
def poller(client: FakeClient, sink: Sink) -> AlertPoller:
    return AlertPoller(client, sink, clock=lambda: AT)


def test_a_full_poll_is_a_complete_answer(poller: AlertPoller, sink: Sink) -> None:
    state = poller.poll()
    assert sink.calls == [(1, {}, "")]
    assert state.link is Link.CONNECTED
    assert state.last_success == AT.timestamp()
    assert state.name == "http://am.example.internal:9093"  # no credentials shown


def test_a_group_is_fetched_by_its_labels(
    poller: AlertPoller, client: FakeClient, sink: Sink
) -> None:
    labels = {"service": "svc-e", "alertname": "DiskFull"}
    poller.reconcile_group(labels, '{}:{alertname="DiskFull", service="svc-e"}')
    assert client.asked == [['alertname="DiskFull"', 'service="svc-e"']]
    assert sink.calls[0][1:] == (labels, '{}:{alertname="DiskFull", service="svc-e"}')
    assert group_filters({}) == []


def test_unreachable_then_refused_then_back(
    poller: AlertPoller, client: FakeClient, sink: Sink
) -> None:
    client.failure = Unreachable("cannot reach Alertmanager: connection refused")
    assert poller.poll().link is Link.UNREACHABLE
    client.failure = AuthFailed("refused the credentials (HTTP 401)", status=401)
    state = poller.poll()
    assert state.link is Link.FAILING
    assert state.message.endswith("re-authenticate")
    client.failure = None
    assert poller.poll() == poller.state()
    assert poller.state().link is Link.CONNECTED
    assert poller.state().message == ""
    assert len(sink.calls) == 1


def test_a_store_failure_is_not_a_connection_failure(
    poller: AlertPoller, sink: Sink
) -> None:
    sink.failing = True
    state = poller.poll()
    assert state.link is Link.CONNECTED
    assert state.message == "polled alerts could not be stored"


def test_the_thread_polls_at_start_and_fetches_a_group_at_once(
    poller: AlertPoller, sink: Sink
) -> None:
    states = []
    runner = AlertPollerThread(poller, states.append, interval_s=3600)
    runner.start()
    try:
        assert sink.called.wait(WAIT_S)
        sink.called.clear()
        runner.reconcile_group('{}:{service="svc-e"}', {"service": "svc-e"})
        assert sink.called.wait(WAIT_S)
    finally:
        assert runner.stop()
    assert sink.calls == [
        (1, {}, ""),
        (1, {"service": "svc-e"}, '{}:{service="svc-e"}'),
    ]
    assert [s.link for s in states] == [Link.CONNECTED, Link.CONNECTED]
    assert not runner.running


def test_a_failing_subscriber_does_not_stop_polling(
    poller: AlertPoller, sink: Sink
) -> None:
    def broken(state: object) -> None:
        raise RuntimeError("subscriber bug")

    runner = AlertPollerThread(poller, broken, interval_s=3600)
    runner.start()
    try:
        assert sink.called.wait(WAIT_S)
        sink.called.clear()
        runner.poll_now()
        assert sink.called.wait(WAIT_S)
    finally:
        assert runner.stop()


def test_the_environment_names_the_server_and_none_means_no_poller() -> None:
    settings = Settings(alertmanager=AlertmanagerSettings(url="http://am:9093"))
    assert open_alertmanager(Settings(), environ={}) is None
    chosen = open_alertmanager(
        settings, environ={"MIMDESK_ALERTMANAGER_URL": "http://other:9093/"}
    )
    assert chosen is not None
    assert chosen.base_url == "http://other:9093"
    chosen.close()


def test_a_bearer_token_comes_from_the_secret_store(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MIMDESK_SECRET_ALERTMANAGER", "s3cret")
    settings = Settings(
        alertmanager=AlertmanagerSettings(url="http://am:9093", auth="bearer")
    )
    chosen = open_alertmanager(settings, environ={})
    assert chosen is not None
    assert chosen._session.headers["Authorization"] == "Bearer s3cret"
    chosen.close()
