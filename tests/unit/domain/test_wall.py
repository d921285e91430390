"""The wall's read model: what each tile says, from the cache and the link."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mimdesk.domain.catalogue import Catalogue, Metric, Service, WallConfig
from mimdesk.domain.health import Health, Thresholds
from mimdesk.domain.series import Series
from mimdesk.domain.wall import (
    Cached,
    Link,
    SourceState,
    Tile,
    build_tile,
    build_wall,
)

from ..cases import vector

Case = Callable[[str], dict[str, Any]]
NOW = 1_700_000_000.0
ERRORS = Metric("errors", "5xx errors", "errors_expr", "%", Thresholds(0.01, 0.05),
                scale=100)  # fmt: skip
LATENCY = Metric("latency", "p95 latency", "latency_expr", "s", Thresholds(0.5, 1.0))
PAYMENTS = Service("payments-api", "Payments API", metrics=(ERRORS, LATENCY))
CATALOGUE = Catalogue((PAYMENTS, Service("hr", "HR portal")), WallConfig())


def point(value: float, t: float = NOW) -> tuple[Series, ...]:
    return (Series((), (t,), (value,)),)


def tile(
    cached: dict[str, Cached], link: Link = Link.CONNECTED, now: float = NOW
) -> Tile:
    return build_tile(PAYMENTS, cached, catalogue=CATALOGUE, now=now, link=link)


def test_c04_empty_answer_shows_no_data_with_the_last_value(load_case: Case) -> None:
    case = load_case("C04")
    last = case["context"]["last_known"]
    assert vector(case["response"]["body"]) == ()
    errors = Service("svc-a", "A", metrics=(Metric("errors", "errors", "expr"),))
    cached = {"errors": Cached(point(last["value"], last["ts"]), empty_now=True)}

    shown = build_tile(errors, cached, catalogue=Catalogue((errors,)),
                       now=case["now"], link=Link.CONNECTED)  # fmt: skip

    assert shown.health.value == case["expected"]["tile_state"]
    assert (shown.headline, shown.detail) == ("no data", case["expected"]["tile_text"])


def test_c07_partial_data_is_drawn_with_a_badge(load_case: Case) -> None:
    case = load_case("C07")
    body = case["response"]["body"]
    (series,) = vector(body)
    cached = {"errors": Cached((series,), warnings=tuple(body["warnings"]))}

    shown = build_tile(PAYMENTS, cached, catalogue=CATALOGUE, now=series.times[0],
                       link=Link.CONNECTED)  # fmt: skip

    view = shown.metrics[0]
    assert view.health.value == case["expected"]["rendered_value"]
    assert view.error == ""
    assert shown.partial
    assert list(view.warnings) == case["expected"]["badge_detail"]


def test_headline_is_the_first_metric_scaled_with_its_unit() -> None:
    shown = tile({"errors": Cached(point(0.0012)), "latency": Cached(point(0.2))})

    assert (shown.health, shown.headline, shown.detail) == (Health.OK, "0.12%", "")


def test_a_breach_in_another_metric_is_named_in_the_detail() -> None:
    shown = tile({"errors": Cached(point(0.0012)), "latency": Cached(point(1.4))})

    assert shown.health is Health.CRITICAL
    assert shown.detail == "p95 latency 1.4s"


def test_unreachable_monitoring_never_reads_as_the_service_down() -> None:
    cached = {"errors": Cached(point(0.2)), "latency": Cached(point(0.2))}

    for link in (Link.UNREACHABLE, Link.FAILING):
        shown = tile(cached, link)
        assert shown.health is Health.UNREACHABLE
        # The last data stays on the tile.
        assert shown.metrics[0].series == cached["errors"].series
        assert shown.metrics[0].health.health is Health.CRITICAL


def test_old_data_after_a_restart_is_stale_with_its_age() -> None:
    cached = {"errors": Cached(point(0.001)), "latency": Cached(point(0.2))}

    shown = tile(cached, Link.UNKNOWN, now=NOW + 600)

    assert shown.health is Health.STALE
    assert shown.detail == "Stale: last sample 10 min ago"


def test_a_query_error_shows_on_its_metric_only() -> None:
    cached = {
        "errors": Cached(point(0.001)),
        "latency": Cached(error="bad query: parse error"),
    }

    shown = tile(cached)

    assert [m.error for m in shown.metrics] == ["", "bad query: parse error"]
    assert shown.metrics[0].health.health is Health.OK


def test_the_wall_has_a_tile_per_monitored_service_in_order() -> None:
    source = SourceState("DEMO", Link.CONNECTED, demo=True, last_success=NOW)

    wall = build_wall(CATALOGUE, {}, source=source, now=NOW)

    assert [t.service.id for t in wall.tiles] == ["payments-api"]
    assert wall.tiles[0].health is Health.NO_DATA
    assert (wall.source, wall.now) == (source, NOW)
