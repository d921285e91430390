"""Which source the wall reads, and what the operator is told when the configured
server cannot be used: never DEMO data in its place."""

from __future__ import annotations

from pathlib import Path

import pytest

from mimdesk.connectors.errors import Permanent
from mimdesk.connectors.prometheus import PrometheusClient
from mimdesk.domain.catalogue import Catalogue, Metric, Service
from mimdesk.domain.health import Health
from mimdesk.domain.wall import Link
from mimdesk.settings import PrometheusSettings, Settings, load_settings
from mimdesk.store.metrics import CACHE_FILE, MetricCache
from mimdesk.sync import sources
from mimdesk.sync.demo import DemoSource
from mimdesk.sync.health import HealthPoller
from mimdesk.sync.sources import UnusableSource, open_source, source_name

RULE = "must be an http:// or https:// URL with a host, e.g. http://127.0.0.1:9090"


def prometheus(**values: object) -> Settings:
    return Settings(prometheus=PrometheusSettings(**values))  # type: ignore[arg-type]


def test_no_server_configured_is_the_demo_source() -> None:
    chosen = open_source(Settings(), demo=False, environ={})

    assert isinstance(chosen.source, DemoSource)
    assert chosen.problems == ()


@pytest.mark.parametrize("url", ["127.0.0.1:29090", "ftp://prom:9090", "http://"])
def test_an_unusable_url_in_the_environment_fails_every_query(url: str) -> None:
    chosen = open_source(
        Settings(), demo=False, environ={"MIMDESK_PROMETHEUS_URL": url}
    )

    assert chosen.unusable == f"MIMDESK_PROMETHEUS_URL {RULE}, not {url!r}"
    assert not isinstance(chosen.source, DemoSource)
    with pytest.raises(Permanent, match="MIMDESK_PROMETHEUS_URL must be"):
        chosen.source.query_range("up", 0, 60, 15)


def test_an_unusable_url_in_the_settings_is_not_replaced_by_demo(
    tmp_path: Path,
) -> None:
    config = tmp_path / "settings.toml"
    config.write_text('[prometheus]\nurl = "not a url"\n', encoding="utf-8")
    loaded = load_settings(config)

    chosen = open_source(loaded.settings, demo=False, environ={})

    assert loaded.problems == (f"{config}: [prometheus] url {RULE}, not 'not a url'",)
    assert chosen.unusable == f"[prometheus] url {RULE}, not 'not a url'"
    assert source_name(chosen.source) == "not a url"


def test_credentials_in_an_unusable_url_are_not_shown() -> None:
    environ = {"MIMDESK_PROMETHEUS_URL": "ftp://ops:hunter2@prom:9090"}

    chosen = open_source(Settings(), demo=False, environ=environ)

    assert "hunter2" not in chosen.unusable
    assert "hunter2" not in source_name(chosen.source)


def test_a_missing_ca_file_makes_an_https_server_unusable() -> None:
    settings = prometheus(url="https://prom:9090", ca_file=Path("/nope/ca.pem"))

    chosen = open_source(settings, demo=False, environ={})

    assert chosen.unusable.startswith(
        "[prometheus] ca_file: /nope/ca.pem does not exist"
    )


def test_demo_is_chosen_only_when_asked_for_with_a_bad_url() -> None:
    environ = {"MIMDESK_PROMETHEUS_URL": "nope"}

    assert isinstance(open_source(Settings(), demo=True, environ=environ).source,
                      DemoSource)  # fmt: skip


@pytest.mark.parametrize("auth", ["bearer", "basic"])
def test_auth_without_a_secret_is_a_problem_to_show(
    auth: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sources, "get_secret", lambda key: (None, ""))
    settings = prometheus(url="http://prom:9090", auth=auth, username="ops")

    chosen = open_source(settings, demo=False, environ={})

    assert isinstance(chosen.source, PrometheusClient)
    (warning,) = chosen.warnings
    assert warning.startswith(f"[prometheus] auth is {auth!r} but no secret")
    assert "MIMDESK_SECRET_PROMETHEUS" in warning
    chosen.source.close()


def test_a_stored_secret_is_no_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "get_secret", lambda key: ("s3cret", ""))
    settings = prometheus(url="http://prom:9090", auth="bearer")

    chosen = open_source(settings, demo=False, environ={})

    assert chosen.problems == ()
    chosen.source.close()


def test_the_wall_of_an_unusable_server_says_why(tmp_path: Path) -> None:
    catalogue = Catalogue((Service("s", "S", metrics=(Metric("m", "M", "up"),)),))
    problem = f"MIMDESK_PROMETHEUS_URL {RULE}, not 'nope'"
    cache = MetricCache.open(tmp_path / CACHE_FILE)
    poller = HealthPoller(UnusableSource("nope", problem), catalogue, cache)

    state = poller.refresh()
    poller.close()

    assert state.source.link is Link.FAILING
    assert problem in state.source.message
    assert not state.source.demo
    assert state.tiles[0].health is not Health.OK
