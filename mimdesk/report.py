"""Plain and JSON views of incidents, shared by the command line and tests.

The JSON shapes are a documented, stable interface (see README, "JSON output").
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from typing import Any

from mimdesk.domain.cadence import CadenceState, journal_cadence
from mimdesk.domain.directory import Directory
from mimdesk.domain.durations import durations
from mimdesk.domain.events import JournalEvent
from mimdesk.domain.incident import Incident, describe, in_time_order
from mimdesk.domain.lifecycle import ORDER
from mimdesk.domain.regulatory import (
    Classification,
    Regime,
    classification,
    report_clocks,
)
from mimdesk.domain.roster import RolePolicy, Roster, mobilisation_time
from mimdesk.domain.severity import SeverityScale
from mimdesk.domain.targets import TargetPolicy, target_states
from mimdesk.domain.times import (
    format_ago,
    format_clock,
    format_duration,
    format_instant,
    parse_utc,
    utc_iso,
    utc_iso_or_none,
)

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
        "durations": _durations_json(incident, now),
        "created_at": utc_iso(incident.created_at),
        "updated_at": utc_iso(incident.updated_at),
    }


def _durations_json(incident: Incident, now: datetime) -> dict[str, Any]:
    """Each duration in seconds, and whether it is still running; null if none."""
    found = durations(incident, now)
    return {
        name: None
        if value is None
        else {"seconds": int(value.value.total_seconds()), "running": value.running}
        for name, value in vars(found).items()
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


ROSTER_FORMAT = "mimdesk.roster/1"


def roster_json(
    incident: Incident, roster: Roster, directory: Directory, policy: RolePolicy,
    now: datetime,
) -> dict[str, Any]:  # fmt: skip
    required = list(policy.required.get(incident.severity, ()))
    mobilised = mobilisation_time(roster, required) if required else None
    people = []
    for p in roster.participants.values():
        person = directory.get(p.person)
        people.append(
            {
                "id": p.person,
                "name": directory.name(p.person),
                "in_directory": person is not None,
                "presence": p.presence.value,
                "requested_at": utc_iso(p.requested_at) if p.requested_at else None,
                "acknowledged_at": (
                    utc_iso(p.acknowledged_at) if p.acknowledged_at else None
                ),
                "intervals": [
                    [utc_iso(start), utc_iso(end) if end else None]
                    for start, end in p.intervals
                ],
                "roles": list(p.roles),
                "active_seconds": int(p.active_time(now).total_seconds()),
                "local_time": person.local_time(now) if person else None,
            }
        )
    return {
        "format": ROSTER_FORMAT,
        "incident": incident.id,
        "required": required,
        "missing": roster.missing(required),
        "roles": {
            role: [
                {
                    "person": who,
                    "since": utc_iso(since),
                    "on_bridge": who in roster.participants
                    and roster.participants[who].on_bridge,
                }
                for who, since in held
            ]
            for role, held in roster.holders.items()
        },
        "people": people,
        "mobilisation_seconds": int(mobilised.total_seconds()) if mobilised else None,
    }


def roster_lines(data: dict[str, Any], zone: tzinfo, now: datetime) -> list[str]:
    """The roster as text, from its JSON form (one source for both views)."""
    required = ", ".join(data["required"]) or "none"
    lines = [f"{data['incident']} bridge roster (required: {required})"]
    if data["missing"]:
        lines.append(f"MISSING: {', '.join(data['missing'])}")
    lines.append("Roles:")
    for role, held in sorted(data["roles"].items()):
        for holder in held:
            since = format_clock(parse_utc(holder["since"]), zone)
            away = "" if holder["on_bridge"] else "  (not on the bridge)"
            lines.append(f"  {role:<12} {holder['person']:<12} since {since}{away}")
    lines.append("People:")
    for person in data["people"]:
        minutes = person["active_seconds"] // 60
        local = f", local {person['local_time']}" if person["local_time"] else ""
        unknown = " (not in directory)" if not person["in_directory"] else ""
        lines.append(
            f"  {person['id']:<12} {person['presence']:<12} {minutes:>4} min on bridge"
            f"  {person['name']}{unknown}{local}"
        )
    if data["mobilisation_seconds"] is not None:
        took = timedelta(seconds=data["mobilisation_seconds"])
        lines.append(f"Mobilised in {format_ago(took)} (first request to roles filled)")
    return lines


CLOCK_FORMAT = "mimdesk.clock/1"


def _span(delta: timedelta | None) -> int | None:
    return None if delta is None else int(delta.total_seconds())


def clock_json(
    incident: Incident,
    events: list[JournalEvent],
    targets: TargetPolicy,
    regimes: list[Regime],
    now: datetime,
) -> dict[str, Any]:
    """Targets, update cadence, regulatory report clocks and durations, at `now`."""
    judged = target_states(
        incident, targets, now, first_update_at=incident.first_update_at
    )
    cadence = journal_cadence(events, updates_sent=(), cadence=targets.cadence, now=now)
    classified = classification(events)
    return {
        "format": CLOCK_FORMAT,
        "incident": incident.id,
        "impact_started_at": utc_iso_or_none(incident.impact_started_at),
        "first_update_at": utc_iso_or_none(incident.first_update_at),
        "targets": [
            {
                "target": t.target.label,
                "level": t.level.value,
                "due": utc_iso_or_none(t.due),
                "reached_at": utc_iso_or_none(t.reached_at),
                "slack_seconds": _span(t.slack),
            }
            for t in judged
        ],
        "next_update": _next_update_json(cadence, targets, now),
        "classified_major_at": utc_iso_or_none(classified.major_at),
        "downgraded": classified.downgraded,
        "reports": _reports_json(incident, regimes, classified, now),
        "durations": _durations_json(incident, now),
    }


def _next_update_json(
    cadence: CadenceState, targets: TargetPolicy, now: datetime
) -> dict[str, Any]:
    """When the next update is due and how it stands: ok, amber (due soon), red."""
    level = None
    if cadence.next_due is not None and cadence.interval is not None:
        level = targets.running_level(cadence.next_due, now, cadence.interval).value
    return {
        "due": utc_iso_or_none(cadence.next_due),
        "level": level,
        "overdue_seconds": _span(cadence.overdue_by),
        "last_update": utc_iso_or_none(cadence.last_update),
        "reminders": [utc_iso(r) for r in cadence.reminders],
    }


def _reports_json(
    incident: Incident,
    regimes: list[Regime],
    classified: Classification,
    now: datetime,
) -> list[dict[str, Any]]:
    return [
        {
            "key": f"{regime.id}.{c.rule.id}",
            "regime": regime.id,
            "report": c.rule.id,
            "title": c.rule.title,
            "state": c.state.value,
            "due": utc_iso_or_none(c.due),
            "sent_at": utc_iso_or_none(c.sent_at),
            "slack_seconds": _span(c.slack),
            "by_backstop": c.by_backstop,
        }
        for regime in regimes
        for c in report_clocks(
            incident,
            regime,
            sent=_sent_under(incident, regime.id),
            now=now,
            major_at=classified.major_at,
        )
    ]


def _sent_under(incident: Incident, regime: str) -> dict[str, datetime]:
    """Reports of one regulation sent, by report id ('dora.final' -> 'final')."""
    sent = {}
    for key, at in incident.reports_sent.items():
        prefix, _, report = key.partition(".")
        if prefix == regime and report:
            sent[report] = at
    return sent


def clock_lines(data: dict[str, Any], zone: tzinfo, now: datetime) -> list[str]:
    """The clock as text, from its JSON form."""

    today = format_instant(now, zone)[:10]

    def when(text: str | None) -> str:
        if not text:
            return "-"
        shown = format_instant(parse_utc(text), zone, seconds=False)
        return shown[11:] if shown.startswith(today) else shown

    lines = [f"{data['incident']} milestone clock"]
    for t in data["targets"]:
        lines.append(f"  [{t['level']:>14}] {t['target']} (due {when(t['due'])})")
    nxt = data["next_update"]
    overdue = nxt["overdue_seconds"]
    late = f", OVERDUE by {overdue // 60} min" if overdue else ""
    late = ", DUE SOON" if nxt["level"] == "amber" else late
    lines.append(f"  next stakeholder update due {when(nxt['due'])}{late}")
    for r in data["reports"]:
        lines.append(
            f"  {r['regime']}/{r['report']}: {r['state']}, due {when(r['due'])}"
        )
    if data["downgraded"]:
        lines.append(f"  {DOWNGRADED} (classified {when(data['classified_major_at'])})")
    return lines


DOWNGRADED = "severity lowered after classification as major: report clocks run on"
