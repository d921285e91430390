"""Which monitoring source the wall reads: a Prometheus server, or the DEMO one.

`MIMDESK_PROMETHEUS_URL` wins (kiosks and scripts), then `[prometheus] url` in the
settings; with neither, or with --demo, the built-in DEMO source. A configured
server that cannot be used is never replaced by DEMO data: its source fails every
query with the reason.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from mimdesk.connectors.errors import Permanent
from mimdesk.connectors.http import Auth
from mimdesk.connectors.prometheus import PrometheusClient, QueryResult
from mimdesk.secrets import env_name, get_secret
from mimdesk.settings import (
    URL_RULE,
    PrometheusSettings,
    Settings,
    ca_file_problem,
    url_problem,
    without_credentials,
)
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


@dataclass(frozen=True)
class Chosen:
    """The source to read, and what the operator must be told about it.

    `unusable` is set when the configured server cannot be asked at all (the
    source then fails every query with it); `warnings` when it runs, but likely
    not as meant (no credentials)."""

    source: Source
    unusable: str = ""
    warnings: tuple[str, ...] = ()

    @property
    def problems(self) -> tuple[str, ...]:
        return ((self.unusable,) if self.unusable else ()) + self.warnings


class UnusableSource:
    """Stands for a configured server that cannot be asked (a malformed URL, an
    unreadable CA file): every query fails with the reason, so the wall shows
    FAILING and why, never DEMO data in its place."""

    demo = False

    def __init__(self, base_url: str, problem: str) -> None:
        self.base_url = base_url
        self.problem = problem

    def query(self, expr: str, at: float | None = None) -> QueryResult:
        raise Permanent(self.problem, source_level=True)

    def query_range(
        self, expr: str, start: float, end: float, step: int
    ) -> QueryResult:
        raise Permanent(self.problem, source_level=True)

    def close(self) -> None:
        """Nothing to release."""


def open_source(
    settings: Settings, *, demo: bool, environ: Mapping[str, str] | None = None
) -> Chosen:
    """The configured Prometheus (or DEMO, with `demo` or with none configured),
    with the problems to show the operator."""
    env = os.environ if environ is None else environ
    from_env = env.get(URL_VARIABLE, "").strip()
    url = from_env or settings.prometheus.url
    if demo or not url:
        log.info("health source: the built-in DEMO source")
        return Chosen(DemoSource())
    where = URL_VARIABLE if from_env else "[prometheus] url"
    problem = _unusable(url, where, settings.prometheus)
    if problem:
        log.error("health source: %s", problem)
        return Chosen(UnusableSource(source_name_of_url(url), problem), problem)
    log.info("health source: Prometheus at %s", source_name_of_url(url))
    auth, warnings = _auth(settings.prometheus)
    ca_file = settings.prometheus.ca_file
    client = PrometheusClient(url, auth=auth, ca_file=str(ca_file) if ca_file else None)
    return Chosen(client, warnings=warnings)


def source_for_checks(
    settings: Settings, *, demo: bool, environ: Mapping[str, str] | None = None
) -> Chosen | None:
    """What automated checks ask: the configured Prometheus, DEMO only in the
    demo. None when no monitoring is configured, so a check on a real incident
    says "could not check" instead of passing or failing on made-up series."""
    chosen = open_source(settings, demo=demo, environ=environ)
    if is_demo(chosen.source) and not demo:
        chosen.source.close()
        return None
    return chosen


def choose_source(
    settings: Settings, *, demo: bool, environ: Mapping[str, str] | None = None
) -> Source:
    """The source alone (see `open_source`; its problems are logged)."""
    return open_source(settings, demo=demo, environ=environ).source


def source_name_of_url(url: str) -> str:
    """The URL without any user name or password in it (safe to show and log)."""
    return without_credentials(url)


def _unusable(url: str, where: str, config: PrometheusSettings) -> str:
    """Why the configured server cannot be asked at all; empty when it can."""
    if url_problem(url):
        return f"{where} {URL_RULE}, not {without_credentials(url)!r}"
    ca_file = config.ca_file
    if ca_file is not None and url.lower().startswith("https:"):
        problem = ca_file_problem(ca_file)
        if problem:
            return (
                f"[prometheus] ca_file: {problem}; fix the path in the settings, "
                "or remove the line to use the system's CAs"
            )
    return ""


def _auth(config: PrometheusSettings) -> tuple[Auth | None, tuple[str, ...]]:
    """The credentials to send, and what is wrong with them."""
    if config.auth == "none":
        return None, ()
    secret, problem = get_secret(SECRET_KEY)
    warnings: tuple[str, ...] = ()
    if problem or not secret:
        warnings = (
            f"[prometheus] auth is {config.auth!r} but no secret could be read "
            f"({problem or f'none is stored under {SECRET_KEY!r}'}): Prometheus is "
            f"asked without credentials. Store one in the keyring under "
            f"{SECRET_KEY!r}, or set {env_name(SECRET_KEY)}",
        )
        log.warning("%s", warnings[0])
    if config.auth == "bearer":
        return Auth(token=secret), warnings
    return Auth(username=config.username or None, password=secret), warnings
