"""Which monitoring source the wall reads: a Prometheus server, or the DEMO one.

`MIMDESK_PROMETHEUS_URL` wins (kiosks and scripts), then `[prometheus] url` in the
settings; with neither, or with --demo, the built-in DEMO source.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

from mimdesk.connectors.prometheus import Auth, PrometheusClient, QueryResult
from mimdesk.secrets import env_name, get_secret
from mimdesk.settings import PrometheusSettings, Settings
from mimdesk.sync.demo import DemoSource

log = logging.getLogger(__name__)

URL_VARIABLE = "MIMDESK_PROMETHEUS_URL"
SECRET_KEY = "prometheus"


class Source(Protocol):
    """What the poller and `mimdesk query` need from a monitoring source."""

    def query(self, expr: str, at: float | None = None) -> QueryResult: ...

    def query_range(
        self, expr: str, start: float, end: float, step: int
    ) -> QueryResult: ...

    def close(self) -> None: ...


def source_name(source: object) -> str:
    """How the wall names a source: DEMO, or the server's URL without credentials."""
    if isinstance(source, DemoSource):
        return source.name
    url = getattr(source, "base_url", "")
    return source_name_of_url(url) if url else type(source).__name__


def is_demo(source: object) -> bool:
    return bool(getattr(source, "demo", False))


def choose_source(
    settings: Settings, *, demo: bool, environ: Mapping[str, str] | None = None
) -> Source:
    """The configured Prometheus, or the DEMO source (always with `demo`)."""
    env = os.environ if environ is None else environ
    url = env.get(URL_VARIABLE, "").strip() or settings.prometheus.url
    if demo or not url:
        log.info("health source: the built-in DEMO source")
        return DemoSource()
    log.info("health source: Prometheus at %s", source_name_of_url(url))
    return PrometheusClient(
        url,
        auth=_auth(settings.prometheus),
        ca_file=str(settings.prometheus.ca_file)
        if settings.prometheus.ca_file
        else None,
    )


def source_name_of_url(url: str) -> str:
    """The URL without any user name or password in it (safe to show and log)."""
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=netloc))


def _auth(config: PrometheusSettings) -> Auth | None:
    if config.auth == "none":
        return None
    secret, problem = get_secret(SECRET_KEY)
    if problem:
        log.warning("Prometheus credentials: %s", problem)
    elif not secret:
        log.warning(
            "Prometheus auth is %s but no secret is stored under %r; store one in "
            "the keyring or set %s",
            config.auth,
            SECRET_KEY,
            env_name(SECRET_KEY),
        )
    if config.auth == "bearer":
        return Auth(token=secret)
    return Auth(username=config.username or None, password=secret)
