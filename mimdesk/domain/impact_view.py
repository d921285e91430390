"""What people and programs read of an impact report: counts and money in words,
the JSON of `mimdesk impact --json`, and the summary a stakeholder update prints."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from mimdesk.domain.catalogue import Catalogue
from mimdesk.domain.events import JournalEvent
from mimdesk.domain.health import Health
from mimdesk.domain.impact import (
    BusinessImpact,
    Cause,
    ImpactReport,
    SegmentImpact,
    ServiceImpact,
    incident_impact,
)
from mimdesk.domain.impact_override import overrides_of
from mimdesk.domain.incident import Incident
from mimdesk.domain.times import utc_iso_or_none
from mimdesk.domain.wall import WallState

FORMAT = "mimdesk.impact/1"
DASH = "\u2014"


def health_of(state: WallState | None) -> dict[str, Health]:
    """Each monitored service's health on the wall's latest state (alerts
    counted); empty before the first refresh."""
    return {t.service.id: t.health for t in state.tiles} if state else {}


def count_text(number: int) -> str:
    """'1.33 M', '40 k', '1,500': three figures are enough across a room."""
    if number < 10_000:
        return f"{number:,}"
    for size, suffix in ((1e3, "k"), (1e6, "M"), (1e9, "G")):
        figures = f"{number / size:.3g}"
        if "e" not in figures and float(figures) < 1000:
            return f"{figures} {suffix}"
    return f"{number / 1e9:.0f} G"


def money_text(amounts: Mapping[str, float], per_hour: bool = False) -> str:
    """'EUR 69.5 k', 'EUR 12 k + GBP 300' (one per currency); a dash for none."""
    if not amounts:
        return DASH
    unit = "/h" if per_hour else ""
    parts = []
    for currency, amount in sorted(amounts.items()):
        figure = count_text(round(amount)) if amount >= 1e4 else f"{amount:,.0f}"
        parts.append(f"{currency} {figure}{unit}".strip())
    return " + ".join(parts)


def empty_text(report: ImpactReport) -> str:
    """What to say when a report holds no business service."""
    if report.note:
        return report.note
    incident = report.incident
    if incident is None:
        return "No business services in the catalogue."
    if not incident.services:
        return (
            "This incident names no service, so no impact is worked out; Ctrl+I "
            "(or `mimdesk impact ID override`) records one by hand."
        )
    named = ", ".join(incident.services)
    return f"No business service is impacted through {named} now."


# --- JSON -----------------------------------------------------------------------


def _money(amounts: Mapping[str, float]) -> dict[str, float]:
    return {k: round(v, 2) for k, v in sorted(amounts.items())}


def _cause(cause: Cause | None) -> dict[str, Any] | None:
    if cause is None:
        return None
    return {
        "origin": cause.origin,
        "health": cause.health.value,
        "path": [{"service": s.service, "edge": s.edge} for s in cause.path],
    }


def _service(item: ServiceImpact) -> dict[str, Any]:
    return {
        "id": item.service.id,
        "name": item.service.name,
        "level": item.level.value,
        "health": item.health.value if item.health else None,
        "monitored": item.health is not None,
        "why": item.why,
        "cause": _cause(item.cause),
    }


def _business(report: ImpactReport, item: BusinessImpact) -> dict[str, Any]:
    hourly, so_far = report.business_cost(item)
    o = item.override
    return {
        "id": item.business.id,
        "name": item.business.name,
        "level": item.level.value,
        "computed": item.computed.value,
        "override": None
        if o is None
        else {
            "level": o.level.value,
            "reason": o.reason,
            "actor": o.actor,
            "at": utc_iso_or_none(o.at),
        },
        "why": item.why,
        "cause": _cause(item.cause),
        "customers": item.customers,
        "segments": list(item.business.segments),
        "since": utc_iso_or_none(item.since),
        "revenue_per_hour": _money(hourly),
        "running_cost": _money(so_far),
    }


def _segment(report: ImpactReport, item: SegmentImpact) -> dict[str, Any]:
    cost = item.cost(report.until)
    return {
        "id": item.segment.id,
        "name": item.segment.name,
        "customers": item.segment.customers,
        "level": item.level.value,
        "business_services": list(item.business_services),
        "revenue_per_hour": item.segment.revenue_per_hour,
        "currency": item.currency,
        "since": utc_iso_or_none(item.since),
        "running_cost": None if cost is None else round(cost, 2),
    }


def _incident(incident: Incident | None) -> dict[str, Any] | None:
    if incident is None:
        return None
    return {
        "id": incident.id,
        "title": incident.title,
        "status": incident.status.value,
        "severity": incident.severity,
        "services": list(incident.services),
        "detected_at": utc_iso_or_none(incident.detected_at),
        "impact_started_at": utc_iso_or_none(incident.impact_started_at),
        "demo": incident.demo,
    }


def impact_json(report: ImpactReport) -> dict[str, Any]:
    """The report as `mimdesk impact --json` prints it (format mimdesk.impact/1)."""
    return {
        "format": FORMAT,
        "now": utc_iso_or_none(report.now),
        "incident": _incident(report.incident),
        "note": report.note,
        "totals": {
            "business_services_impacted": len(report.impacted),
            "customers_affected": report.customers_affected,
            "customers_unknown": report.customers_unknown,
            "revenue_per_hour": _money(report.revenue_per_hour),
            "running_cost": _money(report.running_cost),
            "since": utc_iso_or_none(report.since),
        },
        "business_services": [_business(report, b) for b in report.business],
        "segments": [_segment(report, s) for s in report.segments],
        "services": [_service(s) for s in report.services],
        "unmatched_overrides": [o.business_service for o in report.unmatched],
    }


# --- for stakeholder updates ----------------------------------------------------


def impact_summary(
    catalogue: Catalogue,
    health: Mapping[str, Health],
    incident: Incident,
    events: Iterable[JournalEvent],
    now: datetime,
) -> dict[str, Any]:
    """What an update says about business impact, as plain values a template can
    print. `health` is each monitored service's health now (`health_of` turns
    the wall's state into it; empty: only the operator's overrides count);
    `events` is the incident's journal, where the overrides are."""
    report = incident_impact(catalogue, health, incident, overrides_of(events), now)
    impacted = [
        {
            "id": b.business.id,
            "name": b.business.name,
            "level": b.level.value,
            "overridden": b.override is not None,
            "since": utc_iso_or_none(b.since),
        }
        for b in report.impacted
    ]
    return {
        "incident": incident.id,
        "impacted": bool(impacted),
        "business_services": impacted,
        "business_services_text": ", ".join(
            f"{b['name']} ({b['level']})" for b in impacted
        ),
        "customers_affected": report.customers_affected,
        "customers_affected_text": count_text(report.customers_affected),
        "customers_unknown": report.customers_unknown,
        "revenue_per_hour": _money(report.revenue_per_hour),
        "revenue_per_hour_text": money_text(report.revenue_per_hour, per_hour=True),
        "running_cost": _money(report.running_cost),
        "running_cost_text": money_text(report.running_cost),
        "since": utc_iso_or_none(report.since),
        "note": report.note,
    }
