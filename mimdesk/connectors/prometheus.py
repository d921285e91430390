"""A Prometheus HTTP API client (`/api/v1/query`, `/api/v1/query_range`).

Every request has a timeout; one session per server; answers become `QueryResult`s
of domain `Series`, and failures become connector errors with words an operator
can act on. Only what can succeed later is retried.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
import tenacity

from mimdesk.connectors.errors import (
    AuthFailed,
    ConnectorError,
    Permanent,
    TimedOut,
    Transient,
    Unreachable,
    reason,
)
from mimdesk.connectors.http import Auth, json_session
from mimdesk.domain.errors import DomainError
from mimdesk.domain.series import Series, Step, choose_step, labels_key, parse_value

log = logging.getLogger(__name__)

# (connect, read) seconds. Prometheus's own query timeout is 2 min; a wall that
# waits that long looks frozen, so give up sooner and say so.
TIMEOUT = (3.05, 30.0)
# Beyond these the answer is cut before it is turned into floats, so one heavy
# panel cannot freeze the wall (C09).
MAX_SERIES = 200
MAX_SAMPLES = 2_000_000
# Retry waits for answers that may succeed later (503 timeout, 502, 429...).
BACKOFF = (2.0, 4.0)

_TOO_MANY_POINTS = "exceeded maximum resolution"


@dataclass(frozen=True)
class QueryResult:
    """What one query returned."""

    result_type: str
    series: tuple[Series, ...] = ()
    warnings: tuple[str, ...] = ()
    infos: tuple[str, ...] = ()
    # Series dropped to stay within MAX_SERIES.
    hidden: int = 0
    # For resultType "string".
    text: str | None = None
    step: Step | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def empty(self) -> bool:
        return not self.series and self.text is None


class PrometheusClient:
    """One Prometheus server. Thread-safe for sequential use by one worker."""

    def __init__(
        self,
        base_url: str,
        *,
        auth: Auth | None = None,
        ca_file: str | None = None,
        timeout: tuple[float, float] = TIMEOUT,
        sleep: Callable[[float], None] = time.sleep,
        backoff: tuple[float, ...] = BACKOFF,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._sleep = sleep
        self._backoff = backoff
        self._session = json_session(auth)
        # Passed with every request (see json_session).
        self._verify: str | bool = ca_file or True

    def close(self) -> None:
        self._session.close()

    def query(self, expr: str, at: float | None = None) -> QueryResult:
        """An instant query, at `at` (Unix seconds) or the server's now."""
        params: dict[str, Any] = {"query": expr}
        if at is not None:
            params["time"] = _number(at)
        return self._parse(self._get("/api/v1/query", params))

    def query_range(
        self, expr: str, start: float, end: float, step: int
    ) -> QueryResult:
        """A range query; the step is raised first if it would exceed the points
        limit, and doubled once if the server still refuses (C03)."""
        chosen = choose_step(start, end, step)
        try:
            body = self._get_range(expr, start, end, chosen.seconds)
        except Permanent as exc:
            if _TOO_MANY_POINTS not in exc.message:
                raise
            chosen = Step(chosen.seconds * 2, coarsened=True)
            log.warning(
                "server refused the points; retrying at step %ss", chosen.seconds
            )
            body = self._get_range(expr, start, end, chosen.seconds)
        result = self._parse(body)
        notes = result.notes + ((chosen.note,) if chosen.note else ())
        return QueryResult(
            result.result_type, result.series, result.warnings, result.infos,
            result.hidden, result.text, chosen, notes,
        )  # fmt: skip

    def _get_range(
        self, expr: str, start: float, end: float, step: int
    ) -> Mapping[str, Any]:
        params = {
            "query": expr,
            "start": _number(start),
            "end": _number(end),
            "step": str(step),
        }
        return self._get("/api/v1/query_range", params)

    def _get(self, path: str, params: Mapping[str, Any]) -> Mapping[str, Any]:
        """GET with retries for what may pass later; the parsed JSON body."""
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(Transient)
            & tenacity.retry_if_not_exception_type(TimedOut),
            wait=tenacity.wait_chain(*(tenacity.wait_fixed(s) for s in self._backoff)),
            stop=tenacity.stop_after_attempt(len(self._backoff) + 1),
            sleep=self._sleep,
            reraise=True,
            before_sleep=_log_retry,
        )
        result: Mapping[str, Any] = retrying(self._get_once, path, params)
        return result

    def _get_once(self, path: str, params: Mapping[str, Any]) -> Mapping[str, Any]:
        url = self.base_url + path
        # FIXME(prometheus): the read timeout applies to each read, so a server
        # that drips its answer a byte at a time is never timed out; a deadline
        # for the whole request is missing (`query` and `impact` then wait).
        try:
            response = self._session.get(
                url, params=params, timeout=self.timeout, verify=self._verify
            )
        except requests.exceptions.SSLError as exc:
            raise Permanent(
                f"TLS check failed for {self.base_url}: {reason(exc)} (set the CA "
                "file in settings if the server uses a private CA)",
                source_level=True,
            ) from None
        except requests.exceptions.ConnectionError as exc:
            raise Unreachable(
                f"cannot reach Prometheus at {self.base_url}: {reason(exc)}"
            ) from None
        except requests.exceptions.Timeout:
            # Connected, then no answer: the query is heavy or the server hangs.
            raise TimedOut(
                f"Prometheus at {self.base_url} did not answer within "
                f"{self.timeout[1]:g} s (a heavy query, or the server hangs)"
            ) from None
        except requests.exceptions.RequestException as exc:  # bad URL, say
            raise Permanent(
                f"cannot ask {self.base_url}: {exc}", source_level=True
            ) from None
        except OSError as exc:  # e.g. the configured CA file cannot be read
            raise Permanent(
                f"cannot send to {self.base_url}: {exc}", source_level=True
            ) from None
        return _body(response, self.base_url)

    def _parse(self, body: Mapping[str, Any]) -> QueryResult:
        data = body.get("data")
        if not isinstance(data, dict):
            raise Permanent("Prometheus answered without a 'data' object")
        kind = data.get("resultType")
        raw = data.get("result")
        warnings = _strings(body.get("warnings"))
        infos = _strings(body.get("infos"))
        try:
            if kind == "matrix":
                series, hidden = _matrix(raw)
            elif kind == "vector":
                series, hidden = _vector(raw)
            elif kind == "scalar":
                series, hidden = (_point((), raw),), 0
            elif kind == "string":
                if not isinstance(raw, list) or len(raw) != 2:
                    raise DomainError("a string result must be [time, text]")
                return QueryResult(kind, (), warnings, infos, text=str(raw[1]))
            else:
                raise Permanent(f"Prometheus answered with unknown resultType {kind!r}")
        except (DomainError, TypeError, ValueError, KeyError, IndexError) as exc:
            raise Permanent(f"Prometheus answered with malformed data: {exc}") from None
        notes = (f"+{hidden} series hidden",) if hidden else ()
        return QueryResult(kind, series, warnings, infos, hidden, notes=notes)


def _log_retry(state: tenacity.RetryCallState) -> None:
    failure = state.outcome.exception() if state.outcome else None
    log.info("Prometheus: %s; retrying", failure)


def _number(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _strings(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(str(v) for v in value)


def _body(response: requests.Response, server: str) -> Mapping[str, Any]:
    """The JSON body of an answer, or the error it stands for (C09)."""
    status = response.status_code
    kind = response.headers.get("Content-Type", "")
    if "json" not in kind:
        raise _http_error(status, server, f"{kind or 'no content type'} answer")
    try:
        body = response.json()
    except ValueError:
        raise _http_error(status, server, "unreadable JSON") from None
    if not isinstance(body, dict):
        raise _http_error(status, server, "JSON that is not an object")
    if status == 200 and body.get("status") == "success":
        return body
    raise _api_error(status, body, server)


def _http_error(status: int, server: str, what: str) -> ConnectorError:
    """A non-API answer: a proxy's HTML page, a login page, an empty body."""
    if status in (401, 403):
        return AuthFailed(
            f"Prometheus at {server} refused the credentials (HTTP {status}); "
            "check the token or password in the keyring",
            status=status,
        )
    if status in (429, 502, 503, 504):
        return Transient(f"upstream error {status} from {server}", status=status)
    if status == 404:
        return Permanent(
            f"{server} has no Prometheus API here (HTTP 404); check the URL",
            status=status,
            source_level=True,
        )
    return Permanent(f"upstream error {status} from {server} ({what})", status=status)


def _api_error(status: int, body: Mapping[str, Any], server: str) -> ConnectorError:
    """An error in the API's own format: errorType and error."""
    kind = str(body.get("errorType", ""))
    text = str(body.get("error", "no error text"))[:500]
    if status in (401, 403):
        return _http_error(status, server, text)
    if kind == "execution" or status == 422:
        return Permanent(
            f"query too expensive - narrow range/labels or use a recording rule "
            f"({text})",
            status=status,
        )
    if kind == "timeout" or status == 503:
        return Transient(f"Prometheus timeout ({text})", status=status)
    if kind == "bad_data" or status == 400:
        return Permanent(f"bad query: {text}", status=status)
    if status >= 500 or status == 429:
        return Transient(f"Prometheus error {status}: {text}", status=status)
    return Permanent(f"Prometheus error {status} ({kind}): {text}", status=status)


def _labels(entry: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    metric = entry.get("metric", {})
    if not isinstance(metric, dict):
        raise DomainError("series labels must be an object")
    return labels_key({str(k): str(v) for k, v in metric.items()})


def _point(labels: tuple[tuple[str, str], ...], pair: object) -> Series:
    if not isinstance(pair, list) or len(pair) != 2:
        raise DomainError(f"a sample must be [time, value], not {pair!r}")
    return Series(labels, (float(pair[0]),), (parse_value(pair[1]),))


def _vector(raw: object) -> tuple[tuple[Series, ...], int]:
    if not isinstance(raw, list):
        raise DomainError("a vector result must be a list")
    kept, hidden = _top(raw, lambda e: e.get("value", [0, "NaN"])[1])
    series = []
    for entry in kept:
        if "value" not in entry:  # a native histogram sample: nothing to draw
            continue
        series.append(_point(_labels(entry), entry["value"]))
    return tuple(series), hidden


def _matrix(raw: object) -> tuple[tuple[Series, ...], int]:
    if not isinstance(raw, list):
        raise DomainError("a matrix result must be a list")
    kept, hidden = _top(raw, lambda e: (e.get("values") or [[0, "NaN"]])[-1][1])
    total = sum(len(e.get("values") or ()) for e in kept)
    if total > MAX_SAMPLES:
        raise Permanent(
            f"query too expensive - {total:,} samples is more than the wall can "
            "draw; narrow the range or labels"
        )
    series = []
    for entry in kept:
        pairs = entry.get("values") or []
        if not isinstance(pairs, list):
            raise DomainError("series values must be a list")
        times, values = _columns(pairs)
        series.append(Series(_labels(entry), times, values))
    return tuple(series), hidden


def _columns(pairs: list[Any]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Times and values of a matrix series. Python's float() reads 'NaN', '+Inf'
    and '-Inf' itself, so the common case needs no per-sample call of ours; any
    unreadable sample sends the whole series through the strict parser."""
    try:
        stamps, texts = zip(*pairs, strict=True) if pairs else ((), ())
        times = tuple(map(float, stamps))
        if all(isinstance(t, str) for t in texts):
            return times, tuple(map(float, texts))
    except (TypeError, ValueError):
        pass
    if any(not isinstance(p, list) or len(p) != 2 for p in pairs):
        raise DomainError("each sample must be [time, value]")
    return tuple(float(p[0]) for p in pairs), tuple(parse_value(p[1]) for p in pairs)


def _top(
    raw: list[Any], latest: Callable[[dict[str, Any]], object]
) -> tuple[list[dict[str, Any]], int]:
    """At most MAX_SERIES entries: the ones with the highest latest value."""
    entries = [e for e in raw if isinstance(e, dict)]
    if len(entries) <= MAX_SERIES:
        return entries, 0

    def rank(entry: dict[str, Any]) -> float:
        try:
            value = parse_value(latest(entry))
        except (DomainError, IndexError, TypeError):
            return -math.inf
        return value if math.isfinite(value) else -math.inf

    entries.sort(key=rank, reverse=True)
    return entries[:MAX_SERIES], len(entries) - MAX_SERIES
