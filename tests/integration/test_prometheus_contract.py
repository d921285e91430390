"""The Prometheus client against a loopback server replaying the field cases:
every answer the API (or a proxy in front of it) gives becomes data or a clear error."""

from __future__ import annotations

import json
import math
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mimdesk.connectors.errors import (
    AuthFailed,
    Permanent,
    TimedOut,
    Transient,
    Unreachable,
)
from mimdesk.connectors.prometheus import Auth, PrometheusClient

from .fakehttp import Answer, Seen, serving
from .servers import self_signed

CASES = Path(__file__).resolve().parents[1] / "fixtures" / "cases"


def case(case_id: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CASES / f"{case_id}.json").read_text())
    return data


def always(answer: Answer) -> Callable[[Seen], Answer]:
    return lambda seen: answer


class Sleeps:
    """Records the waits a client asks for instead of waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def client(url: str, sleeps: Sleeps | None = None, **kw: Any) -> PrometheusClient:
    return PrometheusClient(url, sleep=sleeps or Sleeps(), timeout=(2, 5), **kw)


def test_c01_special_floats_are_values_not_failures() -> None:
    fixture = case("C01")
    answer = Answer(200, fixture["response"]["body"])
    params = fixture["request"]["params"]
    with serving(always(answer)) as server:
        result = client(server.url).query_range(
            params["query"], params["start"], params["end"], params["step"]
        )
    values = result.series[0].values
    assert values[0] == 1.5
    assert math.isnan(values[1])
    assert values[2:4] == (math.inf, -math.inf)
    assert values[4] == 0.0
    assert result.series[0].times[0] == 1700000000


def test_c03_step_is_raised_before_the_server_can_refuse() -> None:
    fixture = case("C03")
    params = fixture["request"]["params"]
    ok = Answer(
        200, {"status": "success", "data": {"resultType": "matrix", "result": []}}
    )
    with serving(always(ok)) as server:
        result = client(server.url).query_range(
            params["query"], params["start"], params["end"], params["step"]
        )
    sent = server.seen[0].params
    assert int(sent["step"]) == fixture["expected"]["chosen_step_seconds"]
    assert len(server.seen) == 1
    assert result.notes == (fixture["expected"]["ui_note"],)


def test_c03_refusal_doubles_the_step_once_and_never_loops() -> None:
    fixture = case("C03")
    refused = Answer(400, fixture["response"]["body"])
    with (
        serving(always(refused)) as server,
        pytest.raises(Permanent, match="maximum resolution"),
    ):
        client(server.url).query_range("up", 0, 3600, 15)
    assert [int(s.params["step"]) for s in server.seen] == [15, 30]


def test_c04_empty_result_is_no_data_not_zero() -> None:
    answer = Answer(200, case("C04")["response"]["body"])
    with serving(always(answer)) as server:
        result = client(server.url).query("up")
    assert result.empty
    assert result.series == ()


def test_c07_warnings_keep_the_data_and_are_passed_on() -> None:
    body = case("C07")["response"]["body"]
    with serving(always(Answer(200, body))) as server:
        result = client(server.url).query("x")
    assert result.series[0].values == (0.97,)
    assert result.warnings == tuple(case("C07")["expected"]["badge_detail"])
    assert result.infos == ("PromQL info: metric might not be a counter",)


def _c09(response_id: str) -> dict[str, Any]:
    fixture: dict[str, Any] = next(
        r for r in case("C09")["responses"] if r["id"] == response_id
    )
    return fixture


def test_c09a_expensive_query_is_not_retried() -> None:
    fixture = _c09("a")
    sleeps = Sleeps()
    with (
        serving(always(Answer(fixture["http_status"], fixture["body"]))) as server,
        pytest.raises(Permanent, match="query too expensive") as raised,
    ):
        client(server.url, sleeps).query("count(x)")
    assert len(server.seen) == 1
    assert sleeps.waits == []
    assert not raised.value.transient


def test_c09b_timeout_is_retried_after_2_then_4_seconds() -> None:
    fixture = _c09("b")
    expected = case("C09")["expected"]["b"]
    sleeps = Sleeps()
    with (
        serving(always(Answer(fixture["http_status"], fixture["body"]))) as server,
        pytest.raises(Transient, match="Prometheus timeout"),
    ):
        client(server.url, sleeps).query("x")
    assert sleeps.waits == expected["backoff_s"]
    assert len(server.seen) == 1 + expected["max_retries"]


def test_c09b_timeout_then_success_returns_the_data() -> None:
    fixture = _c09("b")
    answers = iter(
        [
            Answer(503, fixture["body"]),
            Answer(200, case("C07")["response"]["body"]),
        ]
    )
    with serving(lambda seen: next(answers)) as server:
        result = client(server.url).query("x")
    assert result.series[0].values == (0.97,)


def test_c09c_thousands_of_series_keep_the_top_200() -> None:
    fixture = _c09("c")
    count = fixture["series_count"]
    result_rows = [
        {"metric": {"pod": f"pod-{i:04d}"}, "value": [1700000000, str(i)]}
        for i in range(count)
    ]
    body = {
        "status": "success",
        "data": {"resultType": "vector", "result": result_rows},
    }
    with serving(always(Answer(200, body))) as server:
        result = client(server.url).query("http_requests_total")
    expected = case("C09")["expected"]["c"]
    assert len(result.series) == expected["series_kept"]
    assert result.notes == (expected["hidden_notice"],)
    assert max(s.values[0] for s in result.series) == count - 1
    assert min(s.values[0] for s in result.series) == count - 200


def test_c09d_html_from_a_proxy_is_an_upstream_error() -> None:
    fixture = _c09("d")
    page = Answer(502, fixture["body_text"], {"Content-Type": "text/html"})
    sleeps = Sleeps()
    with (
        serving(always(page)) as server,
        pytest.raises(Transient, match="upstream error 502"),
    ):
        client(server.url, sleeps).query("up")
    assert len(sleeps.waits) == 2  # a proxy error may pass: retried, then given up


def test_a_login_page_is_an_auth_failure_that_names_the_fix() -> None:
    page = Answer(401, "<html>Sign in</html>", {"Content-Type": "text/html"})
    with (
        serving(always(page)) as server,
        pytest.raises(AuthFailed, match="keyring"),
    ):
        client(server.url).query("up")
    assert len(server.seen) == 1


def test_bearer_token_and_basic_auth_are_sent() -> None:
    ok = Answer(200, case("C04")["response"]["body"])
    with serving(always(ok)) as server:
        client(server.url, auth=Auth(token="s3cret")).query("up")
        client(server.url, auth=Auth(username="wall", password="pw")).query("up")
    assert server.seen[0].headers["Authorization"] == "Bearer s3cret"
    assert server.seen[1].headers["Authorization"].startswith("Basic ")


def test_a_dead_port_is_unreachable_not_a_crash() -> None:
    with serving(always(Answer())) as server:
        url = server.url
    with pytest.raises(Unreachable, match="cannot reach Prometheus"):
        client(url).query("up")


def test_malformed_success_is_a_clear_error() -> None:
    body = {"status": "success", "data": {"resultType": "matrix", "result": [{}, 3]}}
    bad_value = {
        "status": "success",
        "data": {"resultType": "vector", "result": [{"metric": {}, "value": [1, "x"]}]},
    }
    with (
        serving(always(Answer(200, bad_value))) as server,
        pytest.raises(Permanent, match="malformed"),
    ):
        client(server.url).query("up")
    with serving(always(Answer(200, body))) as server:
        result = client(server.url).query_range("up", 0, 60, 15)
    assert len(result.series) == 1  # the non-object entry is skipped
    assert result.series[0].times == ()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed(tmp_path_factory.mktemp("tls"))


def test_tls_is_verified_and_a_private_ca_can_be_given(
    certificate: tuple[Path, Path],
) -> None:
    cert, key = certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    ok = Answer(200, case("C07")["response"]["body"])
    with serving(always(ok), tls=context) as server:
        with pytest.raises(Permanent, match=r"TLS check failed.*CA file"):
            client(server.url).query("x")
        result = client(server.url, ca_file=str(cert)).query("x")
    assert result.series[0].values == (0.97,)


def test_a_slow_answer_is_timed_out_not_unreachable_and_not_retried() -> None:
    def slow(seen: Seen) -> Answer:
        time.sleep(1.0)
        return Answer(200, case("C04")["response"]["body"])

    sleeps = Sleeps()
    with serving(slow) as server, pytest.raises(TimedOut, match="did not answer"):
        PrometheusClient(server.url, sleep=sleeps, timeout=(2, 0.3)).query("heavy")
    assert len(server.seen) == 1
    assert sleeps.waits == []


def test_no_api_at_the_url_is_a_server_wide_problem() -> None:
    page = Answer(404, "<html>Not found</html>", {"Content-Type": "text/html"})
    with serving(always(page)) as server, pytest.raises(Permanent) as raised:
        client(server.url).query("up")
    assert raised.value.source_level
    assert "check the URL" in raised.value.message
