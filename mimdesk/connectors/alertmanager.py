"""An Alertmanager API v2 client (`/api/v2/alerts`, `/api/v2/status`).

Same rules as the Prometheus client: one session, a timeout on every request,
failures turned into connector errors, and only what may pass later retried.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import requests
import tenacity

from mimdesk.connectors.errors import (
    AuthFailed,
    ConnectorError,
    Permanent,
    Transient,
    Unreachable,
    reason,
)
from mimdesk.connectors.http import Auth, json_session
from mimdesk.domain.alerts import Alert, parse_alert
from mimdesk.domain.errors import DomainError

log = logging.getLogger(__name__)

# (connect, read) seconds: the API answers from memory, so a slow answer is trouble.
TIMEOUT = (3.05, 15.0)
BACKOFF = (2.0, 4.0)

__all__ = ["AlertmanagerClient", "AlertmanagerStatus", "Auth", "matcher"]


@dataclass(frozen=True)
class AlertmanagerStatus:
    """What a connection test shows: the server's version and cluster state."""

    version: str
    cluster: str
    peers: int
    uptime: str


def matcher(name: str, value: str) -> str:
    """An equality matcher for the `filter` parameter: `service="svc-e"`."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'{name}="{escaped}"'


class AlertmanagerClient:
    """One Alertmanager server. Thread-safe for sequential use by one worker."""

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

    def alerts(
        self,
        filters: Sequence[str] = (),
        *,
        active: bool = True,
        silenced: bool | None = None,
        inhibited: bool | None = None,
    ) -> list[Alert]:
        """Alerts matching every matcher in `filters`. Silenced and inhibited
        alerts are still firing; None leaves them to the server (included)."""
        params: list[tuple[str, str]] = [("filter", f) for f in filters]
        params.append(("active", _flag(active)))
        if silenced is not None:
            params.append(("silenced", _flag(silenced)))
        if inhibited is not None:
            params.append(("inhibited", _flag(inhibited)))
        body = self._get("/api/v2/alerts", params)
        if not isinstance(body, list):
            raise Permanent(f"{self.base_url} answered alerts with {_kind(body)}")
        return _alerts(body, self.base_url)

    def status(self) -> AlertmanagerStatus:
        """The server's status, for a connection test. Its config (which may hold
        credentials) is neither kept nor logged."""
        body = self._get("/api/v2/status", [])
        if not isinstance(body, dict):
            raise Permanent(f"{self.base_url} answered status with {_kind(body)}")
        cluster = _object(body.get("cluster"))
        peers = cluster.get("peers")
        return AlertmanagerStatus(
            version=str(_object(body.get("versionInfo")).get("version", "")),
            cluster=str(cluster.get("status", "")),
            peers=len(peers) if isinstance(peers, list) else 0,
            uptime=str(body.get("uptime", "")),
        )

    def _get(self, path: str, params: Sequence[tuple[str, str]]) -> object:
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(Transient),
            wait=tenacity.wait_chain(*(tenacity.wait_fixed(s) for s in self._backoff)),
            stop=tenacity.stop_after_attempt(len(self._backoff) + 1),
            sleep=self._sleep,
            reraise=True,
            before_sleep=_log_retry,
        )
        return retrying(self._get_once, path, params)

    def _get_once(self, path: str, params: Sequence[tuple[str, str]]) -> object:
        try:
            response = self._session.get(
                self.base_url + path,
                params=list(params),
                timeout=self.timeout,
                verify=self._verify,
            )
        except requests.exceptions.SSLError as exc:
            raise Permanent(
                f"TLS check failed for {self.base_url}: {reason(exc)} (set the CA "
                "file in settings if the server uses a private CA)"
            ) from None
        except requests.exceptions.ConnectionError as exc:
            raise Unreachable(
                f"cannot reach Alertmanager at {self.base_url}: {reason(exc)}"
            ) from None
        except requests.exceptions.Timeout:
            raise Unreachable(
                f"Alertmanager at {self.base_url} did not answer within "
                f"{self.timeout[1]:g} s"
            ) from None
        except requests.exceptions.RequestException as exc:
            raise Permanent(f"bad request to {self.base_url}{path}: {exc}") from None
        return _body(response, self.base_url)


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _object(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _kind(body: object) -> str:
    return f"JSON {type(body).__name__}, not the expected shape"


def _log_retry(state: tenacity.RetryCallState) -> None:
    failure = state.outcome.exception() if state.outcome else None
    log.info("Alertmanager: %s; retrying", failure)


def _alerts(raw: list[Any], server: str) -> list[Alert]:
    """The readable alerts of an answer; unreadable ones are logged and skipped,
    so one odd alert cannot hide the others."""
    alerts = []
    for number, entry in enumerate(raw, start=1):
        try:
            alerts.append(parse_alert(entry, number))
        except DomainError as exc:
            log.warning("Alertmanager at %s: alert skipped: %s", server, exc)
    return alerts


def _body(response: requests.Response, server: str) -> object:
    """The JSON of a 200 answer, or the error an answer stands for."""
    status = response.status_code
    kind = response.headers.get("Content-Type", "")
    text = ""
    if "json" in kind:
        try:
            body: object = response.json()
        except ValueError:
            body, text = None, "unreadable JSON"
        else:
            if status == 200:
                return body
            text = _error_text(body)
    else:
        text = f"{kind or 'no content type'} answer"
    raise _error(status, server, text)


def _error_text(body: object) -> str:
    """The API's own words: a JSON string, or {"code":..., "message":...}."""
    if isinstance(body, Mapping):
        return str(body.get("message") or body.get("error") or body)[:500]
    return str(body)[:500]


def _error(status: int, server: str, text: str) -> ConnectorError:
    if status in (401, 403):
        return AuthFailed(
            f"Alertmanager at {server} refused the credentials (HTTP {status}); "
            "check the token or password in the keyring",
            status=status,
        )
    if status == 429 or status >= 500:
        return Transient(
            f"upstream error {status} from {server} ({text})", status=status
        )
    if status == 404:
        return Permanent(
            f"{server} has no Alertmanager API v2 here (HTTP 404); check the URL",
            status=status,
        )
    if status == 400:
        return Permanent(f"Alertmanager refused the request: {text}", status=status)
    if status == 200:
        return Permanent(f"Alertmanager at {server} answered with {text}")
    return Permanent(f"upstream error {status} from {server} ({text})", status=status)
