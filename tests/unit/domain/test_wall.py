"""The wall's read model: what each tile says, from the cache and the link."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from mimdesk.domain.alerts import AlertRecord
from mimdesk.domain.catalogue import Catalogue, Metric, Service, WallConfig
from mimdesk.domain.health import Health, Thresholds
from mimdesk.domain.series import Series
from mimdesk.domain.times import parse_utc
from mimdesk.domain.wall import (
    Cached,
    Link,
    SourceState,
    Tile,
    WallState,
    alert_health,
    build_tile,
    build_wall,
    raised,
    with_alerts,
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


# --- alerts on the tiles --------------------------------------------------------

T0 = parse_utc("2026-12-03T14:00:00Z")


def alert(
    name: str, *, service: str = "payments-api", severity: str = "", minutes: int = 0,
    status: str = "firing", label: str = "service",
) -> AlertRecord:  # fmt: skip
    labels = {"alertname": name, label: service}
    if severity:
        labels["severity"] = severity
    start = T0.replace(minute=minutes)
    return AlertRecord(
        f"id-{name}-{service}", tuple(sorted(labels.items())), status, start,
        None if status == "firing" else T0.replace(minute=59), start, start,
    )  # fmt: skip


def ok_wall() -> WallState:
    cached = {"errors": Cached(point(0.001)), "latency": Cached(point(0.2))}
    return WallState((tile(cached),), SourceState("prom", Link.CONNECTED), NOW)


def test_a_firing_alert_is_named_on_its_service_tile_in_words() -> None:
    shown = with_alerts(ok_wall(), [alert("HighErrorRate")]).tiles[0]

    assert shown.alerts == ("HighErrorRate",)
    assert shown.alert_line == "ALERT: HighErrorRate"


def test_several_alerts_are_listed_oldest_first_each_once() -> None:
    records = [
        alert("HighLatency", minutes=5),
        alert("HighErrorRate", minutes=1),
        alert("HighLatency", minutes=5, service="payments-api", label="job"),
    ]

    shown = with_alerts(ok_wall(), records).tiles[0]

    assert shown.alert_line == "ALERTS: HighErrorRate, HighLatency"


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        ("critical", Health.CRITICAL),
        ("CRITICAL", Health.CRITICAL),
        ("warning", Health.WARNING),
        ("info", Health.OK),
        ("", Health.OK),
    ],
)
def test_the_severity_label_alone_decides_how_the_tile_looks(
    severity: str, expected: Health
) -> None:
    shown = with_alerts(ok_wall(), [alert("X", severity=severity)]).tiles[0]

    assert shown.health is expected
    assert shown.alerts == ("X",)


def test_resolved_alerts_and_other_services_alerts_change_nothing() -> None:
    records = [
        alert("Gone", severity="critical", status="resolved"),
        alert("Elsewhere", service="hr", severity="critical"),
        alert("Unknown", service="not-in-catalogue", severity="critical"),
    ]
    wall = ok_wall()

    assert with_alerts(wall, records) == wall


def test_an_alert_never_makes_a_tile_look_better() -> None:
    assert raised(Health.CRITICAL, Health.WARNING) is Health.CRITICAL
    assert raised(Health.STALE, Health.WARNING) is Health.WARNING
    assert raised(Health.WARNING, None) is Health.WARNING


def test_an_alert_is_news_even_when_the_metric_source_is_unreachable() -> None:
    assert raised(Health.UNREACHABLE, Health.CRITICAL) is Health.CRITICAL
    assert raised(Health.UNREACHABLE, None) is Health.UNREACHABLE


def test_the_worst_severity_among_firing_alerts_counts() -> None:
    records = [
        alert("A", severity="warning"),
        alert("B", severity="critical"),
        alert("C", severity="critical", status="resolved"),
    ]

    assert alert_health(records) is Health.CRITICAL
    assert alert_health(records[:1] + records[2:]) is Health.WARNING
    assert alert_health([]) is None


def test_the_alert_labels_that_name_a_service_are_the_catalogues() -> None:
    from datetime import UTC, datetime

    from mimdesk.domain.alerts import FIRING, AlertRecord
    from mimdesk.domain.catalogue import Catalogue, Metric, Service
    from mimdesk.domain.wall import SourceState, build_wall, with_alerts

    at = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)
    alert = AlertRecord(
        "x1", (("alertname", "Down"), ("app", "pay")), FIRING, at, None, at, at
    )
    catalogue = Catalogue((Service("pay", "Pay", metrics=(Metric("m", "M", "up"),)),))
    state = build_wall(catalogue, {}, source=SourceState(), now=at.timestamp())

    default = with_alerts(state, [alert])
    configured = with_alerts(state, [alert], ("app",))

    assert default.tiles[0].alerts == ()
    assert configured.tiles[0].alerts == ("Down",)
