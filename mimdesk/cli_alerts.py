"""`mimdesk alerts`: feed saved webhook payloads, list alerts, declare from them."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mimdesk.domain.alert_links import services_for, suggestion
from mimdesk.domain.alerts import (
    AlertRecord,
    Change,
    Group,
    group_ref,
    summary_of,
)
from mimdesk.domain.catalogue import Catalogue
from mimdesk.domain.errors import DomainError
from mimdesk.domain.incident import describe
from mimdesk.domain.times import format_duration, format_instant, utc_iso
from mimdesk.store.alerts import IntakeResult

if TYPE_CHECKING:
    from mimdesk.cli import Context

ALERTS_FORMAT = "mimdesk.alerts/1"
EXIT_OK, EXIT_USAGE = 0, 2
DEFAULT_SEVERITY = 2


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register `alerts ingest|list|declare|attach` on the main parser."""
    alerts = sub.add_parser(
        "alerts", help="Alertmanager alerts: ingest, list, declare or attach"
    )
    asub = alerts.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = asub.add_parser(
        "ingest", parents=[common], help="feed a saved webhook payload (- for stdin)"
    )
    p.add_argument("file", metavar="FILE|-")
    p.set_defaults(func=cmd_ingest)
    p = asub.add_parser("list", parents=[common], help="alerts by group, with status")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_list)
    p = asub.add_parser(
        "declare", parents=[common], help="open an incident from a group or an alert"
    )
    p.add_argument("target", metavar="GROUP_OR_ALERT", help="group ref/key or alert id")
    p.add_argument("--title", required=True)
    p.add_argument(
        "--severity", type=int, choices=[1, 2, 3, 4], default=DEFAULT_SEVERITY,
        help=f"default {DEFAULT_SEVERITY}",
    )  # fmt: skip
    p.set_defaults(func=cmd_declare)
    p = asub.add_parser(
        "attach", parents=[common], help="attach a group to an open incident"
    )
    p.add_argument("id", metavar="INCIDENT_ID")
    p.add_argument("target", metavar="GROUP_OR_ALERT", help="group ref/key or alert id")
    p.set_defaults(func=cmd_attach)


# --- ingest -------------------------------------------------------------------


def read_payload(name: str) -> tuple[str, str]:
    """The text of a saved payload and the source to spool it under."""
    if name == "-":
        return sys.stdin.buffer.read().decode("utf-8", errors="replace"), "stdin"
    path = Path(name).expanduser()
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DomainError(
            f"cannot read {path}: {exc.strerror or exc}; give the path of a saved "
            "webhook payload, or - to read it from stdin"
        ) from None
    return data.decode("utf-8", errors="replace"), f"file {path.name}"


def cmd_ingest(ctx: Context, args: argparse.Namespace) -> int:
    body, source = read_payload(args.file)
    store = ctx.store()
    for earlier in store.reprocess_pending():
        print(f"retried delivery #{earlier.delivery_id}")
    result = store.receive_alerts(body, source=source, received_at=ctx.now())
    print("\n".join(intake_lines(result)))
    for error in result.errors:
        print(
            f"error: delivery #{result.delivery_id} not processed: {error}. The "
            "payload is kept in the spool; fix the file (an Alertmanager webhook "
            "body, version 4) and ingest it again",
            file=sys.stderr,
        )
    return EXIT_USAGE if result.errors else EXIT_OK


def intake_lines(result: IntakeResult) -> list[str]:
    """What a delivery changed, one line each, as `alerts ingest` prints it."""
    count = len(result.changes)
    noun = "alert" if count == 1 else "alerts"
    group = f" in group {group_ref(result.group_key)}" if result.group_key else ""
    lines = [f"delivery #{result.delivery_id}: {count} {noun}{group}"]
    lines += [_change_line(record, change) for record, change in result.changes]
    lines += [f"  note: {notice}" for notice in result.notices]
    lines += [f"  {e.incident_id}: {describe(e)}" for e in result.events]
    return lines


def _change_line(record: AlertRecord, change: Change) -> str:
    extra = f" (seen {record.seen} times)" if change is Change.SEEN else ""
    if change is Change.STALE:
        extra = " (an old notification; ignored)"
    return f"  {change.value:<8} {summary_of(record)}  [{record.identity}]{extra}"


# --- list ---------------------------------------------------------------------


def cmd_list(ctx: Context, args: argparse.Namespace) -> int:
    store = ctx.read_store()
    data = alerts_json(
        store.alert_groups(), store.alert_links(), ctx.catalogue, ctx.now(),
        store.alert_spool(),
    )  # fmt: skip
    if args.json:
        json.dump(data, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        print("\n".join(alerts_lines(data, ctx.zone)))
    return EXIT_OK


def alerts_json(
    groups: Sequence[Group],
    links: Mapping[str, str],
    catalogue: Catalogue,
    now: datetime,
    spool: Mapping[str, int],
) -> dict[str, Any]:
    """The `mimdesk.alerts/1` document (README, "JSON output")."""
    return {
        "format": ALERTS_FORMAT,
        "now": utc_iso(now),
        "spool": dict(spool),
        "groups": [_group_json(g, links.get(g.key), catalogue, now) for g in groups],
    }


def _services(records: Sequence[AlertRecord], catalogue: Catalogue) -> tuple[str, ...]:
    return services_for(records, catalogue.ids, catalogue.alert_labels)


def _group_json(
    group: Group, incident: str | None, catalogue: Catalogue, now: datetime
) -> dict[str, Any]:
    detected = group.detected_at
    return {
        "key": group.key,
        "ref": group_ref(group.key),
        "incident": incident,
        "open": group.open,
        "firing": group.firing,
        "total": len(group.alerts),
        "recovered": group.recovered,
        "detected_at": utc_iso(detected) if detected else None,
        "suggestion": suggestion(group, incident),
        "services": list(_services(group.alerts, catalogue)),
        "alerts": [_alert_json(a, incident, catalogue, now) for a in group.alerts],
    }


def _alert_json(
    record: AlertRecord, incident: str | None, catalogue: Catalogue, now: datetime
) -> dict[str, Any]:
    return {
        "id": record.identity,
        "name": record.name,
        "summary": summary_of(record),
        "status": record.status,
        "starts_at": utc_iso(record.starts_at),
        "ends_at": utc_iso(record.ends_at) if record.ends_at else None,
        "duration_seconds": int(record.duration(now)),
        "first_seen": utc_iso(record.first_seen),
        "last_seen": utc_iso(record.last_seen),
        "seen": record.seen,
        "fingerprints": list(record.fingerprints),
        "services": list(_services([record], catalogue)),
        "labels": dict(record.labels),
        "annotations": dict(record.annotations),
        "generator_url": record.generator_url,
        "incident": incident,
    }


def alerts_lines(data: Mapping[str, Any], zone: tzinfo) -> list[str]:
    """The plain listing: each group, then its alerts."""
    if not data["groups"]:
        return ["No alerts. Feed a saved webhook payload: mimdesk alerts ingest FILE"]
    lines: list[str] = []
    for group in data["groups"]:
        follow = group["incident"] or "no incident"
        advice = f" \u2192 {group['suggestion']}" if group["suggestion"] else ""
        lines.append(
            f"group {group['ref']}  {group['firing']} firing, {group['recovered']} "
            f"recovered  [{follow}]{advice}  {group['key']}"
        )
        lines += [_alert_line(alert, zone) for alert in group["alerts"]]
    spool = data["spool"]
    if spool["pending"] or spool["rejected"]:
        lines.append(
            f"spool: {spool['pending']} pending, {spool['rejected']} rejected "
            "(pending ones are retried by the next `mimdesk alerts ingest`)"
        )
    return lines


def _alert_line(alert: Mapping[str, Any], zone: tzinfo) -> str:
    since = format_instant(datetime.fromisoformat(alert["starts_at"]), zone)
    took = format_duration(timedelta(seconds=alert["duration_seconds"]))
    services = ", ".join(alert["services"]) or "-"
    return (
        f"  {alert['status'].upper():<8} {alert['summary']}  since {since} ({took})"
        f"  seen {alert['seen']}  services {services}  [{alert['id']}]"
    )


# --- declare and attach -------------------------------------------------------


def cmd_declare(ctx: Context, args: argparse.Namespace) -> int:
    store = ctx.store()
    incident_id = store.declare_from_alerts(
        args.target, title=args.title, severity=args.severity,
        actor=ctx.settings.operator, known_services=ctx.catalogue.ids,
        label_names=ctx.catalogue.alert_labels,
    ).result()  # fmt: skip
    incident = store.incident(incident_id)
    print(incident_id)
    services = ", ".join(incident.services) or "none mapped from the alert labels"
    detected = format_instant(incident.detected_at, ctx.zone)
    print(f"  detected {detected} (earliest alert start); services: {services}")
    return EXIT_OK


def cmd_attach(ctx: Context, args: argparse.Namespace) -> int:
    events = (
        ctx.store()
        .attach_alerts(args.id, args.target, actor=ctx.settings.operator)
        .result()
    )
    print(f"{events[0].incident_id}: {describe(events[0])}")
    return EXIT_OK
