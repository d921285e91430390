"""The webhook receiver, served for real on loopback: every valid delivery is kept
and answered 200, hostile input gets a clear refusal, and others are still served."""

from __future__ import annotations

import json
import logging
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from mimdesk.domain.alerts import Alert
from mimdesk.store.alerts import IntakeResult
from mimdesk.sync.receiver import MAX_BYTES, AlertReceiver, ReceiverError

TOKEN = "test-token-0123456789"
READ_TIMEOUT_S = 0.5
NOW = datetime(2024, 5, 1, 8, 10, tzinfo=UTC)
Case = Callable[[str], dict[str, Any]]


class RecordingSink:
    """Keeps what it is given; can be told to fail as a full disk would."""

    def __init__(self) -> None:
        self.bodies: list[str] = []
        self.sources: list[str] = []
        self.failing = False
        self.errors: tuple[str, ...] = ()

    def receive_alerts(
        self, body: str, *, source: str, received_at: datetime
    ) -> IntakeResult:
        if self.failing:
            raise sqlite3.OperationalError("database or disk is full")
        self.bodies.append(body)
        self.sources.append(source)
        return IntakeResult(len(self.bodies), errors=self.errors)

    def reconcile_alerts(
        self,
        alerts: Sequence[Alert],
        *,
        at: datetime,
        group_key: str = "",
        scope: Mapping[str, str] | None = None,
    ) -> IntakeResult:
        raise AssertionError("the receiver never reconciles")


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
def truncated() -> list[tuple[str, dict[str, str]]]:
    return []


@pytest.fixture
def receiver(
    sink: RecordingSink, truncated: list[tuple[str, dict[str, str]]]
) -> Iterator[AlertReceiver]:
    served = AlertReceiver(
        sink,
        TOKEN,
        port=0,
        read_timeout=READ_TIMEOUT_S,
        on_truncated=lambda key, labels: truncated.append((key, dict(labels))),
        clock=lambda: NOW,
    )
    served.start()
    yield served
    assert served.stop()


def post(
    url: str,
    body: bytes | str,
    *,
    token: str | None = TOKEN,
    kind: str = "application/json",
) -> requests.Response:
    headers = {"Content-Type": kind}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = body.encode() if isinstance(body, str) else body
    return requests.post(url, data=data, headers=headers, timeout=5)


def webhook(load_case: Case, case_id: str = "C11") -> str:
    return json.dumps(load_case(case_id)["request"]["body"])


def test_valid_and_duplicate_deliveries_are_kept_and_answered_200(
    receiver: AlertReceiver, sink: RecordingSink, load_case: Case
) -> None:
    body = webhook(load_case)
    first = post(receiver.url, body)
    again = post(receiver.url, body)
    assert (first.status_code, again.status_code) == (200, 200)
    assert sink.bodies == [body, body]
    assert sink.sources[0] == "webhook 127.0.0.1"


def test_every_c12_delivery_is_answered_200(
    receiver: AlertReceiver, sink: RecordingSink, load_case: Case
) -> None:
    fixture = load_case("C12")
    codes = [
        post(receiver.url, json.dumps(d["body"])).status_code
        for d in fixture["deliveries"]
    ]
    assert codes == fixture["expected"]["http_status_returned"]
    assert len(sink.bodies) == len(codes)


def test_a_truncated_webhook_asks_for_its_group(
    receiver: AlertReceiver,
    truncated: list[tuple[str, dict[str, str]]],
    load_case: Case,
) -> None:
    assert post(receiver.url, webhook(load_case)).status_code == 200
    assert truncated == [('{}:{service="svc-e"}', {"service": "svc-e"})]


def test_kept_but_unprocessed_is_still_200(
    receiver: AlertReceiver, sink: RecordingSink, load_case: Case
) -> None:
    sink.errors = ("processing failed (OperationalError: locked); kept for a retry",)
    assert post(receiver.url, webhook(load_case)).status_code == 200
    assert len(sink.bodies) == 1


@pytest.mark.parametrize(
    "token",
    [None, "wrong-token", TOKEN + "x", ""],
    ids=["none", "wrong", "longer", "empty"],
)
def test_missing_or_wrong_token_is_401(
    receiver: AlertReceiver, sink: RecordingSink, load_case: Case, token: str | None
) -> None:
    answer = post(receiver.url, webhook(load_case), token=token)
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert sink.bodies == []


def test_basic_auth_is_not_a_bearer_token(
    receiver: AlertReceiver, sink: RecordingSink
) -> None:
    answer = requests.post(
        receiver.url,
        data=b"{}",
        headers={"Content-Type": "application/json"},
        auth=("user", TOKEN),
        timeout=5,
    )
    assert answer.status_code == 401
    assert sink.bodies == []


def test_wrong_content_type_is_415(
    receiver: AlertReceiver, sink: RecordingSink, load_case: Case
) -> None:
    answer = post(receiver.url, webhook(load_case), kind="text/plain")
    assert answer.status_code == 415
    assert "application/json" in answer.text
    assert sink.bodies == []


def test_json_with_a_charset_is_accepted(
    receiver: AlertReceiver, load_case: Case
) -> None:
    answer = post(
        receiver.url, webhook(load_case), kind="application/json; charset=utf-8"
    )
    assert answer.status_code == 200


def test_oversized_body_is_413_and_the_next_delivery_is_served(
    receiver: AlertReceiver, sink: RecordingSink, load_case: Case
) -> None:
    answer = post(receiver.url, b"[" + b" " * MAX_BYTES + b"]")
    assert answer.status_code == 413
    assert sink.bodies == []
    assert post(receiver.url, webhook(load_case)).status_code == 200


def test_oversized_body_is_refused_before_any_of_it_is_read(
    receiver: AlertReceiver,
) -> None:
    head = _head(receiver, length=50 * MAX_BYTES)
    with socket.create_connection(_address(receiver), timeout=5) as client:
        started = time.monotonic()
        client.sendall(head)  # the body never comes
        answer = client.recv(4096).decode()
        waited = time.monotonic() - started
    assert answer.startswith("HTTP/1.0 413")
    assert waited < READ_TIMEOUT_S


def test_invalid_json_is_400_with_the_reason(
    receiver: AlertReceiver, sink: RecordingSink
) -> None:
    answer = post(receiver.url, '{"version": "4", "alerts": [')
    assert answer.status_code == 400
    assert answer.text.startswith("invalid JSON: ")
    assert sink.bodies == []


def test_a_body_that_is_not_utf8_is_400(
    receiver: AlertReceiver, sink: RecordingSink
) -> None:
    assert post(receiver.url, b'{"x": "\xff"}').status_code == 400
    assert sink.bodies == []


def test_absurd_nesting_is_400_not_a_crash(receiver: AlertReceiver) -> None:
    answer = post(receiver.url, "[" * 100_000 + "]" * 100_000)
    assert answer.status_code == 400


def test_wrong_version_is_422_and_still_kept(
    receiver: AlertReceiver, sink: RecordingSink, load_case: Case
) -> None:
    payload = load_case("C11")["request"]["body"] | {"version": "3"}
    body = json.dumps(payload)
    answer = post(receiver.url, body)
    assert answer.status_code == 422
    assert "version '3'" in answer.text
    assert sink.bodies == [body]


def test_json_that_is_no_webhook_is_422_and_still_kept(
    receiver: AlertReceiver, sink: RecordingSink
) -> None:
    answer = post(receiver.url, "[1, 2]")
    assert answer.status_code == 422
    assert sink.bodies == ["[1, 2]"]


def test_a_failed_spool_is_503_so_alertmanager_retries(
    receiver: AlertReceiver, sink: RecordingSink, load_case: Case
) -> None:
    sink.failing = True
    assert post(receiver.url, webhook(load_case)).status_code == 503
    sink.failing = False
    assert post(receiver.url, webhook(load_case)).status_code == 200


def test_a_slow_client_does_not_block_another_delivery(
    receiver: AlertReceiver, sink: RecordingSink, load_case: Case
) -> None:
    body = webhook(load_case).encode()
    with socket.create_connection(_address(receiver), timeout=5) as slow:
        slow.sendall(_head(receiver, length=len(body)) + body[: len(body) // 2])
        answered: list[float] = []
        other = threading.Thread(target=_timed_post, args=(receiver, body, answered))
        started = time.monotonic()
        other.start()
        other.join(5)
        assert answered, "the second delivery was not answered"
        assert answered[0] - started < READ_TIMEOUT_S
        late = slow.recv(4096).decode()
        held = time.monotonic() - started
    assert late.startswith("HTTP/1.0 408")
    assert READ_TIMEOUT_S * 0.8 <= held < READ_TIMEOUT_S + 2
    assert len(sink.bodies) == 1


def test_a_half_sent_header_is_dropped_after_the_read_timeout(
    receiver: AlertReceiver, load_case: Case
) -> None:
    with socket.create_connection(_address(receiver), timeout=5) as slow:
        slow.sendall(b"POST /hooks/alertmanager HTTP/1.1\r\nHost: x\r\n")
        assert post(receiver.url, webhook(load_case)).status_code == 200
        started = time.monotonic()
        leftover = slow.recv(4096)
        assert time.monotonic() - started < READ_TIMEOUT_S + 2
    assert leftover == b""


def test_stop_is_prompt_with_a_client_mid_request(sink: RecordingSink) -> None:
    served = AlertReceiver(sink, TOKEN, port=0, read_timeout=30)
    served.start()
    with socket.create_connection(_address(served), timeout=5) as slow:
        slow.sendall(_head(served, length=100) + b"{")
        time.sleep(0.1)  # let a worker start reading it
        started = time.monotonic()
        assert served.stop()
        assert time.monotonic() - started < 2


def test_wrong_path_is_404_and_get_is_405(receiver: AlertReceiver) -> None:
    elsewhere = receiver.url.replace("/hooks/alertmanager", "/hooks/other")
    assert post(elsewhere, "{}").status_code == 404
    answer = requests.get(receiver.url, timeout=5)
    assert answer.status_code == 405
    assert answer.headers["Allow"] == "POST"


def test_missing_length_is_411(receiver: AlertReceiver) -> None:
    chunks = iter([b"{}"])
    answer = requests.post(
        receiver.url,
        data=chunks,  # a generator is sent chunked, without a Content-Length
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {TOKEN}",
        },
        timeout=5,
    )
    assert answer.status_code == 411


def test_without_a_token_it_refuses_to_start_and_says_how(
    sink: RecordingSink,
) -> None:
    with pytest.raises(ReceiverError, match="MIMDESK_SECRET_RECEIVER"):
        AlertReceiver(sink, None, port=0).start()


def test_a_taken_port_is_a_clear_error(
    receiver: AlertReceiver, sink: RecordingSink
) -> None:
    port = _address(receiver)[1]
    with pytest.raises(ReceiverError, match=f"cannot listen on 127.0.0.1:{port}"):
        AlertReceiver(sink, TOKEN, port=port).start()


def test_each_delivery_is_logged_without_the_token(
    receiver: AlertReceiver, load_case: Case, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mimdesk.sync.receiver")
    body = webhook(load_case)
    post(receiver.url, body)
    post(receiver.url, body, token="wrong-" + TOKEN)

    def lines() -> list[str]:
        return [r.getMessage() for r in caplog.records]

    # The server logs a request just after answering it: wait for the line.
    deadline = time.monotonic() + 5
    while not any("HTTP 401" in line for line in lines()):
        assert time.monotonic() < deadline, lines()
        time.sleep(0.02)
    assert f"webhook from 127.0.0.1: {len(body)} bytes, HTTP 200, 2 alert(s)" in lines()
    assert not any(TOKEN in line for line in lines())


def _address(receiver: AlertReceiver) -> tuple[str, int]:
    host, _, rest = receiver.url.removeprefix("http://").partition(":")
    return host, int(rest.split("/")[0])


def _head(receiver: AlertReceiver, *, length: int) -> bytes:
    return (
        "POST /hooks/alertmanager HTTP/1.1\r\n"
        "Host: 127.0.0.1\r\n"
        f"Authorization: Bearer {TOKEN}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


def _timed_post(receiver: AlertReceiver, body: bytes, answered: list[float]) -> None:
    if post(receiver.url, body).status_code == 200:
        answered.append(time.monotonic())
