"""Running automated checks: a PromQL condition through the health source, or an
HTTP probe. Each run gives passed, failed or could not check, with the reason.

A check that cannot reach its target, times out or gets an answer it cannot
read says "could not check", never "passed". Callers run these off the GUI
thread; every request has a timeout.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

import requests
from urllib3.exceptions import InsecureRequestWarning

from mimdesk.connectors.errors import ConnectorError
from mimdesk.connectors.errors import reason as connector_reason
from mimdesk.connectors.prometheus import QueryResult
from mimdesk.domain.actions import FAILED, PASSED, UNKNOWN, CheckResult
from mimdesk.domain.runbooks import Check

# FIXME(checks): only the verification checks run on a schedule (the recovery
# watch, mimdesk.automation); a step's own check runs on demand. An `every` key
# on [step.check] in the runbook format, picked up by the same watch loop, would
# let any check repeat while the incident is open.
log = logging.getLogger(__name__)
MAX_BODY = 1_000_000  # bytes of a probed answer searched for the body match
STEP = 15  # at most, seconds between the samples a held condition is judged on


class RangeSource(Protocol):
    def query_range(
        self, expr: str, start: float, end: float, step: int
    ) -> QueryResult: ...


def run_check(
    check: Check,
    *,
    target: str,
    now: datetime,
    source: RangeSource | None = None,
    session: requests.Session | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> CheckResult:
    """Run one check now; `target` is the action id or "verify"."""
    if check.promql:
        if source is None:
            outcome, why = (
                UNKNOWN,
                ("no monitoring to ask: set [prometheus] url in the settings"),
            )
        else:
            outcome, why = promql_outcome(check, source, now.timestamp())
    else:
        outcome, why = http_outcome(check, session, clock)
    log.info("check %r on %s: %s (%s)", check.name, target, outcome, why)
    return CheckResult(check.name, outcome, why, now, target)


def promql_outcome(check: Check, source: RangeSource, end: float) -> tuple[str, str]:
    """Every sample over the last `hold` meets the bound (an instant if no hold)."""
    hold = check.hold.total_seconds()
    try:
        step = max(1, min(STEP, int(hold // 10)))
        result = source.query_range(check.promql, end - hold, end, step)
    except ConnectorError as exc:
        return UNKNOWN, connector_reason(exc)
    values = [
        v for s in result.series for v in s.values if not math.isnan(v)
    ]  # a gap says nothing either way
    if not values:
        return UNKNOWN, "the query returned no data"
    worst = max(values) if check.below is not None else min(values)
    bound = check.below if check.below is not None else check.above
    assert bound is not None
    over = f" over {_span(hold)}" if hold else ""
    if check.below is not None:
        ok, word = worst < bound, "below"
    else:
        ok, word = worst > bound, "above"
    text = f"worst {_number(worst)}{over}; needs {word} {_number(bound)}"
    return (PASSED if ok else FAILED), text


def http_outcome(
    check: Check,
    session: requests.Session | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[str, str]:
    """GET the URL: status, body match, latency and certificate decide."""
    owned = session is None
    http = session or requests.Session()
    started = clock()
    try:
        with warnings.catch_warnings():
            # tls = false is the runbook author's choice, already shown with the
            # check; urllib3's warning about it would only fill the log.
            warnings.simplefilter("ignore", InsecureRequestWarning)
            response = http.get(
                check.url, timeout=(min(check.timeout, 5.0), check.timeout),
                verify=check.tls, allow_redirects=False,
            )  # fmt: skip
        body, elapsed = response.content[:MAX_BODY], clock() - started
        status = response.status_code
    except requests.exceptions.SSLError as exc:
        return FAILED, f"TLS certificate not valid: {_short(exc)}"
    except requests.Timeout:
        return UNKNOWN, f"no answer within {_number(check.timeout)} s"
    except requests.RequestException as exc:
        return UNKNOWN, f"could not reach {check.url}: {_short(exc)}"
    finally:
        if owned:
            http.close()
    return _judge(check, status, body, elapsed)


def _judge(check: Check, status: int, body: bytes, elapsed: float) -> tuple[str, str]:
    took = f"{elapsed * 1000:.0f} ms"
    if status != check.status:
        return FAILED, f"HTTP {status}, expected {check.status} ({took})"
    if check.body and check.body not in body.decode("utf-8", "replace"):
        return FAILED, f"HTTP {status} but the body lacks {check.body!r}"
    if check.max_latency is not None and elapsed > check.max_latency:
        return FAILED, f"HTTP {status} in {took}; limit {_number(check.max_latency)} s"
    return PASSED, f"HTTP {status} in {took}"


def _short(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) <= 200 else text[:197] + "..."


def _number(value: float) -> str:
    return f"{value:.6g}"


def _span(seconds: float) -> str:
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"
