"""`mimdesk impact`: business impact from live health, for the whole catalogue or
one incident, and the operator's overrides of it.

Health is refreshed once from the same source as `mimdesk health` (the wall's);
a source that cannot be reached leaves every level unknown and exits 5 after
printing what is known (overrides still count).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

from mimdesk.cli_health import (
    DEMO_WORDS,
    cache_failure,
    checked_source,
    refresh_once,
)
from mimdesk.domain.errors import DomainError
from mimdesk.domain.impact import (
    BusinessImpact,
    ImpactReport,
    impact_start,
    incident_impact,
    live_impact,
)
from mimdesk.domain.impact_override import decision, overrides_of
from mimdesk.domain.impact_view import (
    count_text,
    empty_text,
    health_of,
    impact_json,
    money_text,
)
from mimdesk.domain.times import format_clock, format_instant
from mimdesk.domain.wall import Link, SourceState, WallState
from mimdesk.store.metrics import CACHE_FILE

if TYPE_CHECKING:
    from mimdesk.cli import Context

EXIT_OK, EXIT_USAGE, EXIT_CACHE, EXIT_UNREACHABLE = 0, 2, 3, 5
ACTIONS = ("show", "override", "clear")


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register `impact` on the main parser's subcommands."""
    p = sub.add_parser(
        "impact",
        parents=[common],
        help="business impact now, or an incident's; override it",
        description="Without ID: what live health hurts now. With ID: that "
        "incident's business services, customers and cost. "
        "`impact ID override BUSINESS_SERVICE LEVEL --reason TEXT` and "
        "`impact ID clear BUSINESS_SERVICE` record the operator's word.",
    )
    p.add_argument("id", nargs="?", help="an incident id (default: everything)")
    p.add_argument("action", nargs="?", default="show", choices=ACTIONS)
    p.add_argument(
        "args",
        nargs="*",
        metavar="ARG",
        help="override: BUSINESS_SERVICE LEVEL (down, degraded or none); "
        "clear: BUSINESS_SERVICE",
    )
    p.add_argument("--reason", help="why the impact is overridden (kept)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_impact)


def cmd_impact(ctx: Context, args: argparse.Namespace) -> int:
    if args.action != "show":
        return _record(ctx, args)
    if args.args or args.reason:
        raise DomainError("give a business service only with override or clear")
    if ctx.catalogue_problem:
        return EXIT_USAGE  # the problem, with file and line, is already shown
    if not ctx.catalogue.business_services:
        print(
            f"warning: {ctx.catalogue_path} has no [[business_service]]; see "
            "'Business impact' in resources/catalogues/sample.toml",
            file=sys.stderr,
        )
    incident = None
    if args.id is not None:
        store = ctx.read_store()
        incident = store.incident(args.id)
        overrides = overrides_of(store.timeline(incident.id))
    state = _health(ctx) if incident is None or incident.is_open else WallState()
    if state is None:
        return EXIT_CACHE
    now, catalogue = ctx.now(), ctx.catalogue
    health = health_of(state)
    report = (
        live_impact(catalogue, health, now)
        if incident is None
        else incident_impact(catalogue, health, incident, overrides, now)
    )
    if args.json:
        _emit({**impact_json(report), "source": _source(state.source)})
    else:
        print("\n".join(impact_lines(report, state.source, ctx.zone)))
    if state.source.link in (Link.UNREACHABLE, Link.FAILING):
        print(f"error: {state.source.message}; levels are unknown", file=sys.stderr)
        return EXIT_UNREACHABLE
    return EXIT_OK


def _health(ctx: Context) -> WallState | None:
    """One refresh of every monitored service; None (and why, shown) if the
    metric cache cannot be used."""
    chosen = checked_source(ctx.settings, demo=ctx.demo)
    if chosen is None:
        raise DomainError("no monitoring source to read health from")
    cache_file = ctx.paths.data_dir / CACHE_FILE
    try:
        return refresh_once(chosen.source, ctx.catalogue, cache_file)
    except (sqlite3.Error, OSError) as exc:
        print(f"error: {cache_failure(cache_file, exc)}", file=sys.stderr)
        return None


def _record(ctx: Context, args: argparse.Namespace) -> int:
    """`override BUSINESS_SERVICE LEVEL --reason TEXT` or `clear BUSINESS_SERVICE`."""
    if args.id is None:
        raise DomainError(f"name the incident: mimdesk impact ID {args.action} ...")
    if ctx.catalogue_problem:
        raise DomainError(
            "cannot check the business service, the catalogue did not load "
            f"({ctx.catalogue_problem})"
        )
    wanted = 2 if args.action == "override" else 1
    if len(args.args) != wanted:
        usage = "BUSINESS_SERVICE LEVEL --reason TEXT" if wanted == 2 else ""
        raise DomainError(
            f"usage: mimdesk impact ID {args.action} {usage or 'BUSINESS_SERVICE'}"
        )
    if args.action == "clear" and args.reason:
        raise DomainError("clearing takes no --reason; the override's is kept")
    known = [b.id for b in ctx.catalogue.business_services]
    decide = decision(
        args.action,
        args.args[0],
        actor=ctx.settings.operator,
        known=known,
        level=args.args[1] if wanted == 2 else None,
        reason=args.reason,
    )
    events = ctx.store().impact_command(args.id, decide).result()
    from mimdesk.domain.incident import describe

    print(f"{events[0].incident_id}: {describe(events[0])}")
    return EXIT_OK


# --- output ---------------------------------------------------------------------


def _source(source: SourceState) -> dict[str, Any]:
    return {"name": source.name, "demo": source.demo, "link": source.link.value}


def _emit(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


def impact_lines(report: ImpactReport, source: SourceState, zone: tzinfo) -> list[str]:
    """The report for a terminal: totals, business services, segments, services."""
    lines = [_heading(report, source, zone)]
    if report.note:
        return [*lines, report.note]
    lines.append(_totals(report, zone))
    lines += ["", "Business services:"]
    lines += [_business_line(report, b, zone) for b in report.business] or [
        f"  none impacted: {empty_text(report)}"
    ]
    shown = [s for s in report.segments if s.level.rank > 0]
    if shown:
        lines += ["", "Customers:"]
        width = max(len(s.segment.name) for s in shown)
        for s in shown:
            money = s.segment.revenue_per_hour
            per_hour = money_text({s.currency: money}, True) if money else ""
            lines.append(
                f"  {s.level.label:<9} {s.segment.name:<{width}}  "
                f"{count_text(s.segment.customers):>8}  {per_hour}".rstrip()
            )
    hurt = [s for s in report.services if s.level.rank > 0 or s.health is None]
    if hurt:
        lines += ["", "Technical services:"]
        width = max(len(s.service.id) for s in hurt)
        lines += [
            f"  {s.level.label:<9} {s.service.id:<{width}}  {s.why}" for s in hurt
        ]
    lines += [
        f"warning: override of unknown {o.business_service}" for o in report.unmatched
    ]
    return lines


def _heading(report: ImpactReport, source: SourceState, zone: tzinfo) -> str:
    demo = f" ({DEMO_WORDS})" if source.demo else ""
    incident = report.incident
    if incident is None:
        when = format_clock(report.now, zone) if report.now else ""
        return f"Business impact now, {when}, from {source.name or 'no source'}{demo}"
    start = impact_start(incident)
    what = "impact started" if incident.impact_started_at else "detected"
    return (
        f"{incident.id} SEV{incident.severity} {incident.title} "
        f"({incident.status.value}), {what} {_when(start, zone, report.now)}{demo}"
    )


def _totals(report: ImpactReport, zone: tzinfo) -> str:
    text = (
        f"Customers affected: {count_text(report.customers_affected)}"
        f" \u00b7 revenue at risk {money_text(report.revenue_per_hour, True)}"
    )
    if report.since is not None:
        text += f" \u00b7 so far {money_text(report.running_cost)}"
    if report.customers_unknown:
        text += f" \u00b7 unknown for {count_text(report.customers_unknown)} more"
    return text


def _business_line(report: ImpactReport, item: BusinessImpact, zone: tzinfo) -> str:
    parts = [f"  {item.level.label:<12} {item.business.name}"]
    parts.append(f"{count_text(item.customers)} customers")
    if item.since is not None:
        parts.append(f"since {_when(item.since, zone, report.now)}")
    line = " \u00b7 ".join(parts)
    return f"{line}\n{'':<15}{item.why}" if item.why else line


def _when(instant: datetime, zone: tzinfo, now: datetime | None = None) -> str:
    """The time of day, with the date when it is not today's."""
    full = format_instant(instant, zone, seconds=False)
    today = now is not None and full[:10] == format_instant(now, zone)[:10]
    return full[11:] if today else full
