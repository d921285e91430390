"""Business impact from the dependency graph: hard and soft edges, diamonds, chains,
unknown health, overrides, segments counted once, and the cost of it all."""

from __future__ import annotations

import tomllib
from datetime import datetime, timedelta

import pytest

from mimdesk.domain import incident as model
from mimdesk.domain.catalogue import (
    Catalogue,
    CatalogueError,
    Service,
    catalogue_from_mapping,
)
from mimdesk.domain.health import Health
from mimdesk.domain.impact import (
    Level,
    Override,
    Sightings,
    incident_impact,
    live_impact,
    service_impacts,
    sighted,
)
from mimdesk.domain.impact_view import impact_json, impact_summary
from mimdesk.domain.lifecycle import Status
from mimdesk.domain.times import parse_utc

from ..recording import Recorder

T0 = parse_utc("2026-12-03T14:00:00Z")
OK, WARN, CRIT = Health.OK, Health.WARNING, Health.CRITICAL

# db <- ledger <- {cards, accounts} <- app: a diamond; search is soft under app.
GRAPH = """
[[service]]
id = "db"

[[service]]
id = "ledger"
depends_on = ["db"]

[[service]]
id = "cards"
depends_on = ["ledger"]

[[service]]
id = "accounts"
depends_on = ["ledger"]

[[service]]
id = "search"

[[service]]
id = "app"
depends_on = ["cards", "accounts"]
soft_depends_on = ["search"]

[[business_service]]
id = "payments"
name = "Payments"
services = ["cards"]
segments = ["retail", "merchants"]

[[business_service]]
id = "banking"
name = "Online banking"
services = ["app"]
segments = ["retail"]

[[business_service]]
id = "intranet"
name = "Intranet"
services = ["search"]
segments = ["staff"]

[[segment]]
id = "retail"
customers = 1_200_000
revenue_per_hour = 42_000

[[segment]]
id = "merchants"
customers = 40_000
revenue_per_hour = 18_000
currency = "GBP"

[[segment]]
id = "staff"
customers = 6_000

[impact]
currency = "EUR"
"""


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture(scope="module")
def graph() -> Catalogue:
    return catalogue_from_mapping(tomllib.loads(GRAPH))


def healthy(catalogue: Catalogue, **changed: Health) -> dict[str, Health]:
    return {s.id: changed.get(s.id, OK) for s in catalogue.services}


def levels(report) -> dict[str, str]:
    return {b.business.id: b.level.value for b in report.business}


# --- propagation ------------------------------------------------------------------


def test_a_hard_edge_carries_down_all_the_way_up(graph: Catalogue) -> None:
    report = live_impact(graph, healthy(graph, db=CRIT), at(0))

    services = {s.service.id: s.level for s in report.services}
    assert services == {
        "db": Level.DOWN, "ledger": Level.DOWN, "cards": Level.DOWN,
        "accounts": Level.DOWN, "search": Level.NONE, "app": Level.DOWN,
    }  # fmt: skip
    assert levels(report) == {"payments": "down", "banking": "down", "intranet": "none"}


def test_the_reason_names_each_edge_down_to_the_measured_service(
    graph: Catalogue,
) -> None:
    report = live_impact(graph, healthy(graph, db=CRIT), at(0))

    payments = report.business[0]
    assert (
        payments.why == "cards (hard) \u2190 ledger (hard) \u2190 db (hard): CRITICAL"
    )
    assert payments.cause is not None
    assert payments.cause.origin == "db"
    assert report.services[0].why == "own health CRITICAL"


def test_a_soft_edge_turns_down_into_degraded(graph: Catalogue) -> None:
    report = live_impact(graph, healthy(graph, search=CRIT), at(0))

    app = next(s for s in report.services if s.service.id == "app")
    assert app.level is Level.DEGRADED
    assert app.why == "search (soft): CRITICAL"
    assert levels(report) == {
        "payments": "none", "banking": "degraded", "intranet": "down",
    }  # fmt: skip


def test_a_soft_edge_passes_degraded_on_as_degraded(graph: Catalogue) -> None:
    report = live_impact(graph, healthy(graph, search=WARN), at(0))

    assert levels(report)["banking"] == "degraded"


def test_a_measured_ok_does_not_hide_a_dependency_down(graph: Catalogue) -> None:
    """`cards` says OK itself, but what it cannot work without is down."""
    report = live_impact(graph, healthy(graph, ledger=CRIT), at(0))

    cards = next(s for s in report.services if s.service.id == "cards")
    assert (cards.health, cards.level) == (OK, Level.DOWN)


def test_the_worse_of_own_health_and_dependencies_wins(graph: Catalogue) -> None:
    report = live_impact(graph, healthy(graph, db=WARN, cards=CRIT), at(0))

    cards = next(s for s in report.services if s.service.id == "cards")
    assert cards.level is Level.DOWN
    assert cards.why == "own health CRITICAL"


def test_a_diamond_counts_the_bottom_once_and_gives_one_reason(
    graph: Catalogue,
) -> None:
    report = live_impact(graph, healthy(graph, db=WARN), at(0))

    app = next(s for s in report.services if s.service.id == "app")
    assert app.level is Level.DEGRADED
    # Both arms are as bad and as long: the first in the file is the reason.
    assert app.why == "cards (hard) \u2190 ledger (hard) \u2190 db (hard): WARNING"
    assert app.via == {"cards", "accounts", "ledger", "db"}
    # Retail is reached by payments and by banking, and counted once.
    assert report.customers_affected == 1_240_000
    assert report.revenue_per_hour == {"EUR": 42_000.0, "GBP": 18_000.0}


def test_of_equally_bad_reasons_the_shortest_is_given() -> None:
    text = GRAPH.replace('["cards", "accounts"]', '["cards", "ledger"]')
    catalogue = catalogue_from_mapping(tomllib.loads(text))

    report = live_impact(catalogue, healthy(catalogue, db=WARN), at(0))

    app = next(s for s in report.services if s.service.id == "app")
    assert app.why == "ledger (hard) \u2190 db (hard): WARNING"


def test_a_long_chain_stays_in_order() -> None:
    entries = [{"id": "s0"}] + [
        {"id": f"s{n}", "depends_on": [f"s{n - 1}"]} for n in range(1, 40)
    ]
    catalogue = catalogue_from_mapping({"service": list(reversed(entries))})

    impacts = service_impacts(catalogue, {"s0": WARN})

    assert impacts["s39"].level is Level.DEGRADED
    assert impacts["s39"].cause is not None
    assert len(impacts["s39"].cause.path) == 39
    assert list(impacts) == [f"s{n}" for n in reversed(range(40))]  # file order


def test_a_cycle_is_refused_even_in_a_catalogue_built_in_code() -> None:
    circle = Catalogue(
        (Service("a", "A", depends_on=("b",)), Service("b", "B", depends_on=("a",)))
    )

    with pytest.raises(CatalogueError, match="dependency cycle a \u2192 b \u2192 a"):
        live_impact(circle, {"a": CRIT}, at(0))


# --- unknown --------------------------------------------------------------------


@pytest.mark.parametrize("health", [Health.STALE, Health.NO_DATA, Health.UNREACHABLE])
def test_unknown_health_is_shown_not_counted(graph: Catalogue, health: Health) -> None:
    report = live_impact(graph, healthy(graph, search=health), at(0))

    assert levels(report)["intranet"] == "unknown"
    assert report.customers_affected == 0
    assert report.customers_unknown == 6_000
    assert report.revenue_per_hour == {}


def test_unknown_never_overrides_a_measured_ok(graph: Catalogue) -> None:
    report = live_impact(graph, healthy(graph, db=Health.STALE), at(0))

    ledger = next(s for s in report.services if s.service.id == "ledger")
    assert ledger.level is Level.NONE  # its own metrics say it works
    assert levels(report)["payments"] == "none"


def test_unknown_reaches_what_is_not_monitored(graph: Catalogue) -> None:
    health = {"db": Health.STALE}  # nothing above it has metrics

    report = live_impact(graph, health, at(0))

    assert levels(report)["payments"] == "unknown"
    assert report.business[0].why == (
        "cards (hard) \u2190 ledger (hard) \u2190 db (hard): STALE"
    )
    assert report.services[1].health is None  # ledger: not monitored


def test_something_known_bad_beats_unknown(graph: Catalogue) -> None:
    report = live_impact(graph, healthy(graph, search=Health.STALE, cards=WARN), at(0))

    assert levels(report)["banking"] == "degraded"


def test_nothing_monitored_is_nothing_impacted(graph: Catalogue) -> None:
    report = live_impact(graph, {}, at(0))

    assert set(levels(report).values()) == {"none"}
    assert all(s.why == "not monitored" for s in report.services)


# --- incidents, overrides and time -----------------------------------------------


@pytest.fixture
def incident(recorder: Recorder):
    return recorder.record(
        model.declare(title="Cards failing", severity=1, services=["cards"],
                      detected_at=at(-47), declared_at=at(-42), now=at(-42),
                      actor="dana"),
        at(-42),
    )  # fmt: skip


def test_an_incident_covers_what_is_hurt_through_its_services(
    graph: Catalogue, incident
) -> None:
    health = healthy(graph, db=WARN, search=CRIT)

    report = incident_impact(graph, health, incident, {}, at(0))

    # Banking is hurt through cards too; intranet only by search, not named.
    assert levels(report) == {"payments": "degraded", "banking": "degraded"}
    # Those named, and every service the two levels came through.
    assert [s.service.id for s in report.services] == [
        "db", "ledger", "cards", "accounts", "search", "app",
    ]  # fmt: skip


def test_an_incident_leaves_out_harm_that_does_not_come_through_it(
    graph: Catalogue, incident
) -> None:
    report = incident_impact(graph, healthy(graph, search=CRIT), incident, {}, at(0))

    assert report.business == ()
    assert report.customers_affected == 0


def test_the_running_cost_runs_from_detection(graph: Catalogue, incident) -> None:
    report = incident_impact(graph, healthy(graph, db=CRIT), incident, {}, at(0))

    assert report.since == at(-47)
    # retail 42 k/h and merchants 18 k/h, each for 47 minutes, each once.
    assert report.running_cost == pytest.approx(
        {"EUR": 42_000 * 47 / 60, "GBP": 18_000 * 47 / 60}
    )
    assert all(b.since == at(-47) for b in report.business)


def test_impact_started_moves_the_start(
    graph: Catalogue, incident, recorder: Recorder
) -> None:
    later = recorder.record(
        model.set_impact_started(incident, at(-60), now=at(-1), actor="dana"), at(-1)
    )

    report = incident_impact(graph, healthy(graph, db=CRIT), later, {}, at(0))

    assert report.since == at(-60)
    assert report.running_cost["EUR"] == pytest.approx(42_000.0)


def test_an_override_wins_and_the_computed_level_stays(
    graph: Catalogue, incident
) -> None:
    override = Override("payments", Level.DOWN, "acquirer down", "dana", at(-5))

    report = incident_impact(
        graph, healthy(graph, db=WARN), incident, {"payments": override}, at(0)
    )

    payments = report.business[0]
    assert (payments.level, payments.computed) == (Level.DOWN, Level.DEGRADED)
    assert payments.why == (
        "down (override by dana: \u201cacquirer down\u201d) \u2014 computed: degraded"
    )


def test_an_override_to_none_takes_customers_out(graph: Catalogue, incident) -> None:
    none = Override("payments", Level.NONE, "secondary acquirer", "dana", at(-5))
    health = healthy(graph, cards=CRIT)

    report = incident_impact(graph, health, incident, {"payments": none}, at(0))

    assert levels(report) == {"payments": "none", "banking": "down"}
    assert report.customers_affected == 1_200_000  # retail through banking only


def test_an_override_brings_in_a_business_service_the_graph_does_not(
    graph: Catalogue, incident
) -> None:
    staff = Override("intranet", Level.DEGRADED, "nobody can search", "dana", at(-5))

    chosen = {"intranet": staff}

    report = incident_impact(graph, healthy(graph), incident, chosen, at(0))

    assert levels(report) == {"intranet": "degraded"}
    assert report.customers_affected == 6_000


def test_an_override_of_a_business_service_gone_is_reported(
    graph: Catalogue, incident
) -> None:
    gone = Override("branches", Level.DOWN, "closed", "dana", at(-5))

    chosen = {"branches": gone}

    report = incident_impact(graph, healthy(graph), incident, chosen, at(0))

    assert report.unmatched == (gone,)
    assert impact_json(report)["unmatched_overrides"] == ["branches"]


def test_a_resolved_incident_has_no_live_impact(
    graph: Catalogue, incident, recorder: Recorder
) -> None:
    resolved = recorder.record(
        model.change_status(
            incident, Status.RESOLVED, at=at(-1), now=at(-1), actor="dana"
        ),
        at(-1),
    )

    report = incident_impact(graph, healthy(graph, db=CRIT), resolved, {}, at(0))

    assert report.business == ()
    assert "resolved" in report.note


def test_a_business_service_seen_to_begin_later_is_dated_then(
    graph: Catalogue, incident
) -> None:
    said = {"payments": Override("payments", Level.DOWN, "no auths", "dana", at(-12))}
    first = incident_impact(graph, healthy(graph), incident, said, at(-10))
    seen = sighted(Sightings(), first, at(-10))
    worse = healthy(graph, cards=CRIT)
    second = incident_impact(graph, worse, incident, said, at(-4), seen)
    seen = sighted(seen, second, at(-4))

    report = incident_impact(graph, worse, incident, said, at(0), seen)

    # payments was hurt at the first look: nobody here saw it begin.
    assert seen.first_seen == {"payments": None, "banking": at(-4)}
    dated = {b.business.id: b.since for b in report.business}
    assert dated == {"payments": at(-47), "banking": at(-4)}


def test_segments_are_dated_from_their_earliest_business_service(
    graph: Catalogue, incident
) -> None:
    seen = Sightings(at(-30), {"payments": at(-20), "banking": at(-10)})
    health = healthy(graph, cards=CRIT)

    report = incident_impact(graph, health, incident, {}, at(0), seen)

    retail = next(s for s in report.segments if s.segment.id == "retail")
    assert retail.since == at(-20)
    assert retail.business_services == ("payments", "banking")


# --- what others read -------------------------------------------------------------


def test_the_json_has_a_format_and_plain_values(graph: Catalogue, incident) -> None:
    import json

    report = incident_impact(graph, healthy(graph, db=CRIT), incident, {}, at(0))

    data = json.loads(json.dumps(impact_json(report), allow_nan=False))

    assert data["format"] == "mimdesk.impact/1"
    assert data["incident"]["id"] == incident.id
    assert data["totals"]["customers_affected"] == 1_240_000
    assert data["totals"]["revenue_per_hour"] == {"EUR": 42000.0, "GBP": 18000.0}
    payments = data["business_services"][0]
    assert payments["level"] == payments["computed"] == "down"
    assert payments["cause"]["path"][0] == {"service": "cards", "edge": "hard"}
    assert payments["revenue_per_hour"] == {"EUR": 42000.0, "GBP": 18000.0}
    assert payments["since"] == "2026-12-03T13:13:00.000000Z"
    merchants = next(s for s in data["segments"] if s["id"] == "merchants")
    assert merchants["currency"] == "GBP"
    assert merchants["running_cost"] == pytest.approx(18_000 * 47 / 60)


def test_the_summary_for_updates_is_plain_and_printable(
    graph: Catalogue, recorder: Recorder, incident
) -> None:
    summary = impact_summary(
        graph, healthy(graph, db=CRIT), incident, recorder.events, at(0)
    )

    assert summary == {
        "incident": incident.id,
        "impacted": True,
        "business_services": [
            {"id": "payments", "name": "Payments", "level": "down",
             "overridden": False, "since": "2026-12-03T13:13:00.000000Z"},
            {"id": "banking", "name": "Online banking", "level": "down",
             "overridden": False, "since": "2026-12-03T13:13:00.000000Z"},
        ],
        "business_services_text": "Payments (down), Online banking (down)",
        "customers_affected": 1_240_000,
        "customers_affected_text": "1.24 M",
        "customers_unknown": 0,
        "revenue_per_hour": {"EUR": 42000.0, "GBP": 18000.0},
        "revenue_per_hour_text": "EUR 42 k/h + GBP 18 k/h",
        "running_cost": {"EUR": 32900.0, "GBP": 14100.0},
        "running_cost_text": "EUR 32.9 k + GBP 14.1 k",
        "since": "2026-12-03T13:13:00.000000Z",
        "note": "",
    }  # fmt: skip
