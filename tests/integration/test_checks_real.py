"""Automated checks against real servers on loopback: PromQL conditions through
a real Prometheus scraping node_exporter, and HTTP probes of a local server
that passes, fails, stalls, or shows a certificate nobody trusts."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mimdesk.checks import run_check
from mimdesk.connectors.prometheus import PrometheusClient
from mimdesk.domain.actions import FAILED, PASSED, UNKNOWN
from mimdesk.domain.runbooks import Check

from .fakehttp import Answer, Seen, serving
from .servers import Server, free_port, self_signed


def client(url: str) -> PrometheusClient:
    return PrometheusClient(
        url, timeout=(2.0, 5.0), sleep=lambda _: None, backoff=(0.0,)
    )


def promql(expr: str, **kw: object) -> Check:
    return Check(name=expr, promql=expr, **kw)  # type: ignore[arg-type]


@pytest.fixture
def prom(node_and_prometheus: tuple[Server, Server]) -> Iterator[PrometheusClient]:
    opened = client(node_and_prometheus[1].url)
    yield opened
    opened.close()


def test_promql_conditions_pass_fail_and_say_when_there_is_no_data(
    prom: PrometheusClient,
) -> None:
    now = datetime.now(UTC)

    up = run_check(promql("up", above=0.5), target="A1", now=now, source=prom)
    down = run_check(promql("up", below=0.5), target="A1", now=now, source=prom)
    held = run_check(
        promql("node_load1", below=1e9, hold=timedelta(seconds=3)),
        target="verify", now=now, source=prom,
    )  # fmt: skip
    none = run_check(
        promql('up{job="no-such-job"}', below=1), target="A1", now=now, source=prom
    )

    assert (up.outcome, up.reason) == (PASSED, "worst 1; needs above 0.5")
    assert (down.outcome, down.reason) == (FAILED, "worst 1; needs below 0.5")
    assert held.outcome == PASSED, held.reason
    assert held.reason.endswith("over 3 s; needs below 1e+09")
    assert (none.outcome, none.reason) == (UNKNOWN, "the query returned no data")


def test_a_prometheus_that_cannot_be_reached_could_not_check() -> None:
    gone = client(f"http://127.0.0.1:{free_port()}")

    result = run_check(
        promql("up", above=0.5), target="verify", now=datetime.now(UTC), source=gone
    )
    gone.close()

    assert result.outcome == UNKNOWN
    assert result.reason


def test_a_bad_query_could_not_check(prom: PrometheusClient) -> None:
    result = run_check(
        promql("sum(", below=1), target="A1", now=datetime.now(UTC), source=prom
    )

    assert result.outcome == UNKNOWN
    assert "parse" in result.reason.lower()


def answers(seen: Seen) -> Answer:
    if seen.path == "/health":
        return Answer(200, "status: ok")
    if seen.path == "/sick":
        return Answer(503, "status: failing")
    return Answer(200, "status: degraded")


def http(url: str, **kw: object) -> Check:
    return Check(name=url, url=url, **kw)  # type: ignore[arg-type]


def probe(check: Check) -> tuple[str, str]:
    result = run_check(check, target="A2", now=datetime.now(UTC))
    return result.outcome, result.reason


def test_http_probes_pass_and_fail_on_status_body_and_latency() -> None:
    with serving(answers) as server:
        ok = probe(http(f"{server.url}/health", body="status: ok", max_latency=5.0))
        sick = probe(http(f"{server.url}/sick"))
        wrong = probe(http(f"{server.url}/other", body="status: ok"))
        slow = probe(http(f"{server.url}/health", max_latency=0.0))

    assert ok[0] == PASSED
    assert ok[1].startswith("HTTP 200 in ")
    assert sick[0] == FAILED
    assert sick[1].startswith("HTTP 503, expected 200")
    assert wrong == (FAILED, "HTTP 200 but the body lacks 'status: ok'")
    assert slow[0] == FAILED
    assert "limit 0 s" in slow[1]


def test_a_server_that_does_not_answer_in_time_could_not_check() -> None:
    release = threading.Event()

    def stall(seen: Seen) -> Answer:
        release.wait(10)
        return Answer(200, "late")

    with serving(stall) as server:
        try:
            outcome, reason = probe(http(f"{server.url}/health", timeout=0.5))
        finally:
            release.set()

    assert (outcome, reason) == (UNKNOWN, "no answer within 0.5 s")


def test_nothing_listening_could_not_check() -> None:
    outcome, reason = probe(http(f"http://127.0.0.1:{free_port()}/health"))

    assert outcome == UNKNOWN
    assert reason.startswith("could not reach http://127.0.0.1:")


def test_a_certificate_nobody_trusts_fails_unless_tls_is_off(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)

    with serving(answers, tls) as server:
        checked = probe(http(f"{server.url}/health"))
        unchecked = probe(http(f"{server.url}/health", tls=False))

    assert checked[0] == FAILED
    assert checked[1].startswith("TLS certificate not valid: ")
    assert unchecked[0] == PASSED
