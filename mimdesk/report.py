"""Plain and JSON views of incidents, shared by the command line and tests.

The JSON shapes are a documented, stable interface (see README, "JSON output").
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from mimdesk.domain.events import JournalEvent
from mimdesk.domain.incident import Incident, describe, in_time_order
from mimdesk.domain.lifecycle import ORDER
from mimdesk.domain.severity import SeverityScale
from mimdesk.domain.times import format_duration, format_instant, utc_iso

LIST_FORMAT = "mimdesk.incidents/1"
SHOW_FORMAT = "mimdesk.incident/1"


def incident_json(
    incident: Incident, scale: SeverityScale, now: datetime
) -> dict[str, Any]:
    milestones: dict[str, Any] = {}
    for status in ORDER:
        milestone = incident.milestones.get(status)
        milestones[status.value] = {
            "at": utc_iso(milestone.at) if milestone and milestone.at else None,
            "reached": bool(milestone and milestone.at),
            "skipped": bool(milestone and milestone.skipped),
        }
    return {
        "id": incident.id,
        "title": incident.title,
        "severity": incident.severity,
        "severity_name": scale.name(incident.severity),
        "status": incident.status.value,
        "open": incident.is_open,
        "demo": incident.demo,
        "services": list(incident.services),
        "detected_at": utc_iso(incident.detected_at),
        "elapsed_seconds": int(incident.elapsed(now).total_seconds()),
        "milestones": milestones,
        "reopen_count": incident.reopen_count,
        "created_at": utc_iso(incident.created_at),
        "updated_at": utc_iso(incident.updated_at),
    }


def event_json(event: JournalEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "id": event.id,
        "kind": event.kind,
        "at": utc_iso(event.occurred_at),
        "typed_offset": event.typed_offset,
        "recorded_at": utc_iso(event.recorded_at),
        "actor": event.actor,
        "seat": event.seat,
        "text": describe(event),
        "payload": dict(event.payload),
    }


def incident_lines(
    incident: Incident,
    events: list[JournalEvent],
    scale: SeverityScale,
    zone: tzinfo,
    now: datetime,
) -> list[str]:
    demo = "  [DEMO]" if incident.demo else ""
    lines = [
        f"{incident.id}  {scale.name(incident.severity)}  "
        f"{incident.status.value.upper()}{demo}",
        incident.title,
        f"Services: {', '.join(incident.services) or '-'}",
        f"Elapsed since detection: {format_duration(incident.elapsed(now))}",
        "Milestones:",
    ]
    for status in ORDER:
        milestone = incident.milestones.get(status)
        if milestone and milestone.at:
            when = format_instant(milestone.at, zone)
        elif milestone and milestone.skipped:
            when = "not reached (skipped)"
        else:
            when = "-"
        lines.append(f"  {status.value:<10} {when}")
    lines.append("Timeline:")
    for event in in_time_order(events):
        stamp = format_instant(event.occurred_at, zone)
        prefix = f"  {stamp}  {event.actor:<12} "
        # Continuation lines are marked, so a pasted note can't pose as an event.
        text = describe(event).replace("\n", "\n" + " " * (len(prefix) - 2) + "| ")
        lines.append(prefix + text)
    return lines


def list_line(incident: Incident, now: datetime) -> str:
    demo = " [DEMO]" if incident.demo else ""
    elapsed = format_duration(incident.elapsed(now))
    return (
        f"{incident.id}  SEV{incident.severity}  {incident.status.value:<9}  "
        f"{elapsed:>12}  {incident.title}{demo}"
    )
