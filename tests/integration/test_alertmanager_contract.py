"""The Alertmanager client against a loopback server replaying field case C11's
reconcile call and the error answers an API (or a proxy in front of it) gives."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mimdesk.connectors.alertmanager import AlertmanagerClient, Auth, matcher
from mimdesk.connectors.errors import AuthFailed, Permanent, Transient, Unreachable
from mimdesk.domain.alerts import FIRING, Alert, parse_webhook
from mimdesk.domain.wall import Link
from mimdesk.store.alerts import IntakeResult
from mimdesk.sync.alert_poller import AlertPoller

from .fakehttp import Answer, Seen, serving
from .servers import free_port

CASES = Path(__file__).resolve().parents[1] / "fixtures" / "cases"
AT = datetime(2024, 5, 1, 8, 6, tzinfo=UTC)


def case(case_id: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CASES / f"{case_id}.json").read_text())
    return data


def always(answer: Answer) -> Callable[[Seen], Answer]:
    return lambda seen: answer


class Sleeps:
    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


class Reconciled:
    """A sink that records reconcile calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[Alert], Mapping[str, str] | None]] = []
        self.keys: list[str] = []

    def receive_alerts(
        self, body: str, *, source: str, received_at: datetime
    ) -> IntakeResult:
        raise AssertionError("the poller never receives webhooks")

    def reconcile_alerts(
        self,
        alerts: Sequence[Alert],
        *,
        at: datetime,
        group_key: str = "",
        scope: Mapping[str, str] | None = None,
    ) -> IntakeResult:
        self.calls.append((list(alerts), scope))
        self.keys.append(group_key)
        return IntakeResult(len(self.calls))


def client(url: str, sleeps: Sleeps | None = None, **kw: Any) -> AlertmanagerClient:
    return AlertmanagerClient(url, sleep=sleeps or Sleeps(), timeout=(2, 5), **kw)


def api_alert(instance: str, fingerprint: str, state: str = "active") -> dict[str, Any]:
    """An alert as GET /api/v2/alerts lists it, in C11's group."""
    return {
        "annotations": {"summary": "DiskFull on svc-e"},
        "endsAt": "2024-05-01T08:11:00.000Z",
        "fingerprint": fingerprint,
        "receivers": [{"name": "command-centre"}],
        "startsAt": "2024-05-01T08:00:00.000Z",
        "status": {"inhibitedBy": [], "silencedBy": [], "state": state},
        "updatedAt": "2024-05-01T08:06:00.000Z",
        "labels": {
            "alertname": "DiskFull",
            "service": "svc-e",
            "severity": "critical",
            "instance": instance,
        },
    }


GROUP = [
    api_alert("node-1", "1111111111111111"),
    api_alert("node-3", "3333333333333333", "suppressed"),
    api_alert("node-4", "4444444444444444"),
]


def test_c11_truncated_group_is_reconciled_with_its_group_labels() -> None:
    fixture = case("C11")
    note = parse_webhook(fixture["request"]["body"])
    sink = Reconciled()
    with serving(always(Answer(200, GROUP))) as server:
        poller = AlertPoller(client(server.url), sink, clock=lambda: AT)
        state = poller.reconcile_group(dict(note.group_labels), note.group_key)
        poller.close()
    seen = server.seen[0]
    method, url = fixture["expected"]["reconcile_call"].split(" ")
    assert f"{seen.method} {seen.path}?{seen.query}" == f"{method} {url}"
    alerts, scope = sink.calls[0]
    assert scope == {"service": "svc-e"}
    assert sink.keys == [note.group_key]
    assert all(a.status == FIRING and a.ends_at is None for a in alerts)
    known = {a.identity for a in note.alerts} | {a.identity for a in alerts}
    assert len(known) >= fixture["expected"]["known_alert_count_min"]
    assert state.link is Link.CONNECTED
    assert state.last_success == AT.timestamp()


def test_a_full_poll_asks_for_every_active_alert() -> None:
    sink = Reconciled()
    with serving(always(Answer(200, GROUP))) as server:
        AlertPoller(client(server.url), sink, clock=lambda: AT).poll()
    assert server.seen[0].query == "active=true"
    assert sink.calls[0][1] == {}  # a complete answer: every record is in scope
    assert len(sink.calls[0][0]) == 3


def test_matcher_values_are_escaped() -> None:
    value = 'say "hi" \\ bye'
    with serving(always(Answer(200, []))) as server:
        client(server.url).alerts([matcher("note", value), 'env="prod"'])
    assert server.seen[0].query.count("filter=") == 2
    assert matcher("note", value) == 'note="say \\"hi\\" \\\\ bye"'


def test_silenced_and_inhibited_can_be_left_out() -> None:
    with serving(always(Answer(200, []))) as server:
        client(server.url).alerts(silenced=False, inhibited=False)
    assert server.seen[0].query == "active=true&silenced=false&inhibited=false"


def test_an_unreadable_alert_is_skipped_not_fatal() -> None:
    broken = {"labels": {}, "startsAt": "yesterday", "status": {"state": "active"}}
    with serving(always(Answer(200, [broken, *GROUP]))) as server:
        alerts = client(server.url).alerts()
    assert len(alerts) == 3


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_are_auth_failures(status: int) -> None:
    page = Answer(status, "<html>Sign in</html>", {"Content-Type": "text/html"})
    sink = Reconciled()
    with serving(always(page)) as server:
        state = AlertPoller(client(server.url), sink).poll()
    assert len(server.seen) == 1  # never retried
    assert state.link is Link.FAILING
    assert "re-authenticate" in state.message
    assert sink.calls == []
    with serving(always(page)) as server, pytest.raises(AuthFailed, match="keyring"):
        client(server.url).alerts()


def test_a_proxys_html_502_is_retried_then_an_upstream_error() -> None:
    page = Answer(
        502, "<html><h1>502 Bad Gateway</h1></html>", {"Content-Type": "text/html"}
    )
    sleeps = Sleeps()
    with (
        serving(always(page)) as server,
        pytest.raises(Transient, match="upstream error 502"),
    ):
        client(server.url, sleeps).alerts()
    assert sleeps.waits == [2.0, 4.0]
    assert len(server.seen) == 3


def test_a_503_then_an_answer_returns_the_alerts() -> None:
    answers = iter([Answer(503, "busy"), Answer(200, GROUP)])
    with serving(lambda seen: next(answers)) as server:
        alerts = client(server.url).alerts()
    assert len(alerts) == 3


def test_a_bad_matcher_is_permanent_with_the_servers_words() -> None:
    words = 'matcher value contains unescaped double quote: "svc'
    refused = Answer(400, json.dumps(words), {"Content-Type": "application/json"})
    sleeps = Sleeps()
    with (
        serving(lambda seen: refused) as server,
        pytest.raises(Permanent, match="unescaped double quote") as raised,
    ):
        client(server.url, sleeps).alerts(['service="svc'])
    assert not isinstance(raised.value, Transient)
    assert sleeps.waits == []
    assert len(server.seen) == 1


def test_a_wrong_url_says_so() -> None:
    missing = Answer(404, {"code": 404, "message": "path /api/v2/alerts was not found"})
    with (
        serving(always(missing)) as server,
        pytest.raises(Permanent, match="check the URL"),
    ):
        client(server.url).alerts()


def test_a_login_page_answered_200_is_not_json_trouble() -> None:
    page = Answer(200, "<html>Sign in</html>", {"Content-Type": "text/html"})
    with serving(always(page)) as server, pytest.raises(Permanent, match="text/html"):
        client(server.url).alerts()


def test_an_object_where_a_list_belongs_is_permanent() -> None:
    with (
        serving(always(Answer(200, {"alerts": []}))) as server,
        pytest.raises(Permanent, match="not the expected shape"),
    ):
        client(server.url).alerts()


def test_a_closed_port_is_unreachable_and_shown() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(Unreachable, match="connection refused"):
        client(url).alerts()
    state = AlertPoller(client(url), Reconciled()).poll()
    assert state.link is Link.UNREACHABLE
    assert state.name == url


def test_status_for_a_connection_test_keeps_no_config() -> None:
    body = {
        "cluster": {"peers": [{"name": "a"}], "status": "ready"},
        "config": {"original": "receivers: [credentials: s3cret]"},
        "uptime": "2024-05-01T07:00:00.000Z",
        "versionInfo": {"version": "0.25.0"},
    }
    with serving(always(Answer(200, body))) as server:
        status = client(server.url).status()
    assert (status.version, status.cluster, status.peers) == ("0.25.0", "ready", 1)
    assert "s3cret" not in repr(status)
    assert server.seen[0].path == "/api/v2/status"


def test_bearer_token_and_basic_auth_are_sent() -> None:
    with serving(always(Answer(200, []))) as server:
        client(server.url, auth=Auth(token="s3cret")).alerts()
        client(server.url, auth=Auth(username="am", password="pw")).alerts()
    assert server.seen[0].headers["Authorization"] == "Bearer s3cret"
    assert server.seen[1].headers["Authorization"].startswith("Basic ")
