"""An incident's state, folded from its journal events, and the commands that change it.

Commands check the rules and return NewEvents; they never mutate state. `fold`
turns recorded events back into state, so state can always be rebuilt.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from mimdesk.domain import events as ev
from mimdesk.domain.errors import DomainError
from mimdesk.domain.lifecycle import OPEN_STATUSES, ORDER, Status, skipped_between
from mimdesk.domain.regulatory import Regime, check_report_order
from mimdesk.domain.severity import check_level
from mimdesk.domain.text import clean_text
from mimdesk.domain.times import parse_utc, utc_iso, utc_iso_or_none

MAX_TITLE = 200
MAX_NOTE = 10_000
# How far ahead of "now" a typed time may be before it is treated as a typo.
FUTURE_TOLERANCE = timedelta(seconds=60)
# How far back a typed time may be: incidents are live matters, not archaeology.
PAST_LIMIT = timedelta(days=366)
# Links a bridge may be: web meetings, phones, and the meeting apps' own schemes.
MEETING_SCHEMES = frozenset(
    {"http", "https", "tel", "sip", "sips", "msteams", "zoommtg"}
)


@dataclass(frozen=True)
class Milestone:
    """When a status was reached; `at` is None for a milestone skipped over."""

    at: datetime | None
    skipped: bool = False


@dataclass(frozen=True)
class Incident:
    """The current state of one incident, as folded from its events."""

    id: str
    title: str
    severity: int
    services: tuple[str, ...]
    status: Status
    demo: bool
    milestones: Mapping[Status, Milestone]
    created_at: datetime
    updated_at: datetime
    reopen_count: int = 0
    # When the current status was entered (a reopening is not a milestone).
    status_since: datetime | None = None
    note_count: int = 0
    impact_started_at: datetime | None = None
    first_update_at: datetime | None = None
    update_count: int = 0
    reports_sent: Mapping[str, datetime] = field(default_factory=dict)
    bridge_url: str | None = None
    dial_in: str | None = None
    last_incident_seq: int = 0
    # Played in an exercise: never counted with real incidents.
    exercise: bool = False

    @property
    def detected_at(self) -> datetime:
        detected = self.milestones[Status.DETECTED].at
        assert detected is not None
        return detected

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def reached(self, status: Status) -> datetime | None:
        milestone = self.milestones.get(status)
        return milestone.at if milestone else None

    def elapsed(self, now: datetime) -> timedelta:
        """Time since detection; frozen at resolution once resolved."""
        end = now
        if not self.is_open:
            end = self.reached(Status.RESOLVED) or self.reached(Status.CLOSED) or now
        return end - self.detected_at

    def latest_milestone(self) -> datetime:
        return max(m.at for m in self.milestones.values() if m.at is not None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "severity": self.severity,
            "services": list(self.services),
            "status": self.status.value,
            "demo": self.demo,
            "milestones": {
                s.value: {
                    "at": utc_iso_or_none(m.at),
                    "skipped": m.skipped,
                }
                for s, m in self.milestones.items()
            },
            "created_at": utc_iso(self.created_at),
            "updated_at": utc_iso(self.updated_at),
            "reopen_count": self.reopen_count,
            "status_since": utc_iso_or_none(self.status_since),
            "note_count": self.note_count,
            "last_incident_seq": self.last_incident_seq,
            "impact_started_at": utc_iso_or_none(self.impact_started_at),
            "first_update_at": utc_iso_or_none(self.first_update_at),
            "update_count": self.update_count,
            "reports_sent": {k: utc_iso(v) for k, v in self.reports_sent.items()},
            "bridge_url": self.bridge_url,
            "dial_in": self.dial_in,
            "exercise": self.exercise,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Incident:
        milestones = {
            Status(name): Milestone(at=_instant(m["at"]), skipped=m["skipped"])
            for name, m in data["milestones"].items()
        }
        return cls(
            id=data["id"],
            title=data["title"],
            severity=data["severity"],
            services=tuple(data["services"]),
            status=Status(data["status"]),
            demo=data["demo"],
            milestones=milestones,
            created_at=parse_utc(data["created_at"]),
            updated_at=parse_utc(data["updated_at"]),
            reopen_count=data["reopen_count"],
            status_since=_instant(data.get("status_since")),
            note_count=data["note_count"],
            last_incident_seq=data["last_incident_seq"],
            impact_started_at=_instant(data.get("impact_started_at")),
            first_update_at=_instant(data.get("first_update_at")),
            update_count=data.get("update_count", 0),
            reports_sent={
                k: parse_utc(v) for k, v in data.get("reports_sent", {}).items()
            },
            bridge_url=data.get("bridge_url"),
            dial_in=data.get("dial_in"),
            exercise=bool(data.get("exercise", False)),
        )


def _instant(text: str | None) -> datetime | None:
    return parse_utc(text) if text else None


# --- commands -------------------------------------------------------------------


def check_plausible(at: datetime, now: datetime, what: str) -> None:
    """Refuse typos: a time in the future, or further back than any live incident."""
    if now - at > PAST_LIMIT:
        raise DomainError(
            f"{what} {utc_iso(at)} is more than a year before now "
            f"({utc_iso(now)}); check the date"
        )
    if at - now > FUTURE_TOLERANCE:
        raise DomainError(
            f"{what} {utc_iso(at)} is in the future (now is {utc_iso(now)}); "
            "check the date and the offset"
        )


def _clean_title(title: str) -> str:
    cleaned = " ".join(clean_text(title).split())
    if not cleaned:
        raise DomainError("an incident needs a title that says what is hurt")
    if len(cleaned) > MAX_TITLE:
        raise DomainError(
            f"title is {len(cleaned)} characters; keep it under {MAX_TITLE}"
        )
    return cleaned


def declare(
    *,
    title: str,
    severity: int,
    services: Iterable[str],
    detected_at: datetime,
    now: datetime,
    actor: str,
    known_services: Collection[str] | None = None,
    demo: bool = False,
    typed_offset: str | None = None,
    declared_at: datetime | None = None,
    exercise: bool = False,
) -> list[ev.NewEvent]:
    """Open an incident: detected at `detected_at`, declared at `declared_at`
    (default: now, or the detection time if that is a little ahead of now)."""
    service_ids = tuple(dict.fromkeys(s.strip() for s in services if s.strip()))
    if known_services is not None:
        unknown = [s for s in service_ids if s not in known_services]
        if unknown:
            known = ", ".join(sorted(known_services)) or "none"
            raise DomainError(
                f"unknown service {', '.join(unknown)}; the catalogue has: {known}"
            )
    check_plausible(detected_at, now, "detection time")
    declared = max(now, detected_at) if declared_at is None else declared_at
    check_plausible(declared, now, "declaration time")
    if declared < detected_at:
        raise DomainError("an incident cannot be declared before it was detected")
    created = ev.NewEvent(
        kind=ev.INCIDENT_CREATED,
        payload={
            "title": _clean_title(title),
            "severity": check_level(severity),
            "services": list(service_ids),
            "demo": demo,
            # Only when set, so the payloads (and hashes) of others are unchanged.
            **({"exercise": True} if exercise else {}),
        },
        occurred_at=detected_at,
        actor=actor,
        typed_offset=typed_offset,
    )
    declaration = ev.NewEvent(
        kind=ev.STATUS_CHANGED,
        payload={
            "from": "detected",
            "to": "declared",
            "skipped": [],
            "reopened": False,
        },
        occurred_at=declared,
        actor=actor,
    )
    return [created, declaration]


def change_status(
    incident: Incident,
    target: Status,
    *,
    at: datetime,
    now: datetime,
    actor: str,
    typed_offset: str | None = None,
    reason: str | None = None,
    undo: bool = False,
) -> list[ev.NewEvent]:
    """Move to `target`: forward records skipped milestones as not reached;
    backward is a reopening, recorded as such."""
    current = incident.status
    if target == current:
        raise DomainError(f"{incident.id} is already {current.value}")
    check_plausible(at, now, f"{target.value} time")
    reopened = target.rank < current.rank
    if reopened:
        floor = incident.latest_milestone()
        rule = "a reopening cannot be earlier than the last milestone"
    else:
        earlier = [m.at for s, m in incident.milestones.items() if s.rank < target.rank]
        floor = max(a for a in earlier if a is not None)
        rule = f"{target.value} cannot be earlier than the milestones before it"
    if incident.status_since and incident.status_since > floor:
        floor = incident.status_since
        rule = f"the change cannot be earlier than the move to {current.value}"
    if at < floor:
        raise DomainError(f"{rule} ({utc_iso(floor)}); got {utc_iso(at)}")
    skipped = [] if reopened else [s.value for s in skipped_between(current, target)]
    payload: dict[str, Any] = {
        "from": current.value,
        "to": target.value,
        "skipped": skipped,
        "reopened": reopened,
    }
    if reason:
        payload["reason"] = reason
    if undo:
        payload["undo"] = True  # taking back a mistaken move is not a reopening
    return [ev.NewEvent(ev.STATUS_CHANGED, payload, at, actor, typed_offset)]


def add_note(
    incident: Incident,
    text: str,
    *,
    now: datetime,
    actor: str,
    at: datetime | None = None,
    typed_offset: str | None = None,
) -> list[ev.NewEvent]:
    """A timeline note; `at` lets a scribe record when something happened."""
    body = clean_text(text).strip()
    if not body:
        raise DomainError("a note needs some text")
    if len(body) > MAX_NOTE:
        raise DomainError(f"note is {len(body)} characters; the limit is {MAX_NOTE}")
    when = now if at is None else at
    check_plausible(when, now, "note time")
    return [ev.NewEvent(ev.NOTE_ADDED, {"text": body}, when, actor, typed_offset)]


def change_severity(
    incident: Incident, severity: int, *, now: datetime, actor: str
) -> list[ev.NewEvent]:
    level = check_level(severity)
    if level == incident.severity:
        raise DomainError(f"{incident.id} is already SEV{level}")
    payload = {"from": incident.severity, "to": level}
    return [ev.NewEvent(ev.SEVERITY_CHANGED, payload, now, actor)]


def change_title(
    incident: Incident, title: str, *, now: datetime, actor: str
) -> list[ev.NewEvent]:
    cleaned = _clean_title(title)
    if cleaned == incident.title:
        raise DomainError("the title is unchanged")
    payload = {"from": incident.title, "to": cleaned}
    return [ev.NewEvent(ev.TITLE_CHANGED, payload, now, actor)]


def record_update_sent(
    incident: Incident,
    summary: str,
    *,
    now: datetime,
    actor: str,
    at: datetime | None = None,
    audience: str | None = None,
) -> list[ev.NewEvent]:
    """A stakeholder update went out: the first is a milestone, each resets cadence."""
    when = now if at is None else at
    check_plausible(when, now, "update time")
    if when < incident.detected_at:
        raise DomainError("an update cannot go out before the incident was detected")
    payload = {"summary": clean_text(summary).strip(), "audience": audience}
    return [ev.NewEvent(ev.UPDATE_SENT, payload, when, actor)]


def record_report_sent(
    incident: Incident,
    report: str,
    *,
    now: datetime,
    actor: str,
    at: datetime | None = None,
    regimes: Iterable[Regime] = (),
) -> list[ev.NewEvent]:
    """A regulatory report was filed; its clock stops. A report of one of
    `regimes` needs the reports before it in that regime sent first."""
    key = "".join(report.split()).lower()
    if not key:
        raise DomainError("name the report (e.g. dora.initial)")
    if key in incident.reports_sent:
        raise DomainError(f"{key} was already recorded as sent")
    when = now if at is None else at
    check_plausible(when, now, "report time")
    if when < incident.detected_at:
        raise DomainError("a report cannot be sent before the incident was detected")
    check_report_order(regimes, key, incident.reports_sent, when)
    return [ev.NewEvent(ev.REPORT_SENT, {"report": key}, when, actor)]


def set_bridge(
    incident: Incident,
    url: str | None,
    *,
    dial_in: str | None,
    now: datetime,
    actor: str,
) -> list[ev.NewEvent]:
    """Where the bridge is: any link (Teams, Zoom, Meet, Jitsi, tel:) and a dial-in."""
    link = " ".join(clean_text(url or "").split()) or None
    dial = " ".join(clean_text(dial_in or "").split()) or None
    if link is None and dial is None:
        raise DomainError("give a conference link, a dial-in, or both")
    if link and link.split(":", 1)[0].lower() not in MEETING_SCHEMES:
        schemes = ", ".join(sorted(MEETING_SCHEMES))
        raise DomainError(f"{link[:60]!r} is not a meeting link (use {schemes})")
    if len(link or "") > 2000 or len(dial or "") > 200:
        raise DomainError("the link or dial-in is too long to be a real one")
    if (link, dial) == (incident.bridge_url, incident.dial_in):
        raise DomainError("the bridge is already set to that")
    return [ev.NewEvent(ev.BRIDGE_SET, {"url": link, "dial_in": dial}, now, actor)]


def set_impact_started(
    incident: Incident, at: datetime, *, now: datetime, actor: str,
    typed_offset: str | None = None,
) -> list[ev.NewEvent]:  # fmt: skip
    """When customers were first hurt; often before anyone detected it."""
    check_plausible(at, now, "impact start")
    return [ev.NewEvent(ev.IMPACT_STARTED, {}, at, actor, typed_offset)]


def correct_milestone(
    incident: Incident, status: Status, at: datetime, *, reason: str, now: datetime,
    actor: str, typed_offset: str | None = None,
) -> list[ev.NewEvent]:  # fmt: skip
    """Fix a milestone's time; the old time, the author and the reason are kept."""
    current = incident.reached(status)
    if current is None:
        raise DomainError(
            f"{status.value} was not reached, so there is nothing to correct"
        )
    if not reason.strip():
        raise DomainError("say why the time is corrected (it goes in the journal)")
    check_plausible(at, now, f"{status.value} time")
    before = [
        m.at for s, m in incident.milestones.items() if s.rank < status.rank and m.at
    ]
    after = [
        m.at for s, m in incident.milestones.items() if s.rank > status.rank and m.at
    ]
    if before and at < max(before):
        raise DomainError(
            f"{status.value} cannot be earlier than the milestones before it"
        )
    if after and at > min(after):
        raise DomainError(
            f"{status.value} cannot be later than the milestones after it"
        )
    payload = {
        "status": status.value,
        "from": utc_iso(current),
        "reason": reason.strip(),
    }
    return [ev.NewEvent(ev.MILESTONE_CORRECTED, payload, at, actor, typed_offset)]


# --- fold -----------------------------------------------------------------------


def _created(event: ev.JournalEvent) -> Incident:
    p = event.payload
    return Incident(
        id=event.incident_id,
        title=p["title"],
        severity=p["severity"],
        services=tuple(p["services"]),
        status=Status.DETECTED,
        demo=bool(p.get("demo", False)),
        exercise=bool(p.get("exercise", False)),
        milestones={Status.DETECTED: Milestone(event.occurred_at)},
        created_at=event.recorded_at,
        updated_at=event.recorded_at,
        last_incident_seq=event.incident_seq,
        status_since=event.occurred_at,
    )


def _status_changed(state: Incident, event: ev.JournalEvent) -> Incident:
    p = event.payload
    target = Status(p["to"])
    milestones = dict(state.milestones)
    if p["reopened"]:
        for status in ORDER[target.rank + 1 :]:
            milestones.pop(status, None)
        if milestones.get(target, Milestone(None)).at is None:
            # Reopened to a status it had skipped: that status is reached now.
            milestones[target] = Milestone(event.occurred_at)
    else:
        for name in p["skipped"]:
            milestones[Status(name)] = Milestone(None, skipped=True)
        milestones[target] = Milestone(event.occurred_at)
    return replace(
        state,
        status=target,
        milestones=milestones,
        reopen_count=state.reopen_count
        + (1 if p["reopened"] and not p.get("undo") else 0),
        status_since=event.occurred_at,
    )


def apply(state: Incident | None, event: ev.JournalEvent) -> Incident:
    """The state after `event`; `state` is None only before incident.created."""
    if event.kind == ev.INCIDENT_CREATED:
        if state is not None:
            raise DomainError(f"{event.incident_id} was created twice")
        return _created(event)
    if state is None:
        raise DomainError(f"event {event.id} comes before {event.incident_id} exists")
    if event.kind == ev.STATUS_CHANGED:
        state = _status_changed(state, event)
    changes: dict[str, Any] = {
        "updated_at": event.recorded_at,
        "last_incident_seq": event.incident_seq,
    }
    changes.update(_other_changes(state, event))
    if event.kind == ev.NOTE_ADDED:
        changes["note_count"] = state.note_count + 1
    elif event.kind == ev.SEVERITY_CHANGED:
        changes["severity"] = event.payload["to"]
    elif event.kind == ev.TITLE_CHANGED:
        changes["title"] = event.payload["to"]
    # Unknown kinds (from a newer version) change nothing but the stamps.
    return replace(state, **changes)


def _other_changes(state: Incident, event: ev.JournalEvent) -> dict[str, Any]:
    """What the clock-related events change."""
    p, at = event.payload, event.occurred_at
    if event.kind == ev.UPDATE_SENT:
        first = min(state.first_update_at, at) if state.first_update_at else at
        return {"first_update_at": first, "update_count": state.update_count + 1}
    if event.kind == ev.REPORT_SENT:
        return {"reports_sent": {**state.reports_sent, str(p["report"]): at}}
    if event.kind == ev.BRIDGE_SET:
        return {"bridge_url": p.get("url"), "dial_in": p.get("dial_in")}
    if event.kind == ev.IMPACT_STARTED:
        return {"impact_started_at": at}
    if event.kind == ev.MILESTONE_CORRECTED:
        status = Status(p["status"])
        return {"milestones": {**state.milestones, status: Milestone(at)}}
    return {}


def fold(events: Iterable[ev.JournalEvent]) -> Incident | None:
    state: Incident | None = None
    for event in events:
        state = apply(state, event)
    return state


def describe(event: ev.JournalEvent) -> str:
    """One line a person reads in a timeline."""
    p = event.payload
    if event.kind == ev.INCIDENT_CREATED:
        services = ", ".join(p["services"]) or "no service named"
        demo = "DEMO " if p.get("demo") else ""
        demo = "EXERCISE " if p.get("exercise") else demo
        return f"{demo}incident opened: SEV{p['severity']} {p['title']} ({services})"
    if event.kind == ev.STATUS_CHANGED:
        text = f"status {p['from']} \u2192 {p['to']}"
        if p.get("undo"):
            text = f"undone: {text}"
        elif p["reopened"]:
            text = f"reopened: {text}"
        if p["skipped"]:
            text += f" (not reached: {', '.join(p['skipped'])})"
        if p.get("reason"):
            text += f" \u2014 {p['reason']}"
        return text
    if event.kind == ev.NOTE_ADDED:
        return str(p["text"])
    if event.kind == ev.SEVERITY_CHANGED:
        return f"severity SEV{p['from']} \u2192 SEV{p['to']}"
    if event.kind == ev.TITLE_CHANGED:
        return f"title changed to \u201c{p['to']}\u201d"
    # These build on the incident model.
    from mimdesk.domain import actions, chat, impact_override, stakeholder

    return (
        _describe_roster(event)
        or _describe_clock(event)
        or _describe_alerts(event)
        or chat.describe(event)
        or stakeholder.describe(event)
        or impact_override.describe(event)
        or actions.describe(event)
        or event.kind
    )


def _describe_clock(event: ev.JournalEvent) -> str | None:
    p = event.payload
    if event.kind == ev.UPDATE_SENT:
        to = f" to {p['audience']}" if p.get("audience") else ""
        summary = f": {p['summary']}" if p.get("summary") else ""
        return f"stakeholder update sent{to}{summary}"
    if event.kind == ev.REPORT_SENT:
        return f"report {p['report']} sent"
    if event.kind == ev.BRIDGE_SET:
        parts = [x for x in (p.get("url"), p.get("dial_in")) if x]
        return f"bridge: {' / '.join(parts)}"
    if event.kind == ev.IMPACT_STARTED:
        return "impact started (set)"
    if event.kind == ev.MILESTONE_CORRECTED:
        return f"{p['status']} time corrected (was {p['from']}): {p['reason']}"
    return None


def _describe_alerts(event: ev.JournalEvent) -> str | None:
    p = event.payload
    if event.kind == ev.ALERTS_ATTACHED:
        count, shown = len(p["identities"]), list(dict.fromkeys(p["summaries"]))
        what = "; ".join(shown[:3]) + (
            f"; +{len(shown) - 3} more" if len(shown) > 3 else ""
        )
        noun = "alert" if count == 1 else "alerts"
        return f"{count} {noun} attached ({p['firing']} firing): {what}"
    if event.kind == ev.ALERT_CHANGED:
        if p.get("all_resolved"):
            advice = f": {p['advice']}" if p.get("advice") else ""
            return f"{p['text']}; all alerts resolved{advice}"
        if p.get("change") != "fired" or not p["recovered"].startswith("0/"):
            return f"{p['text']} ({p['recovered']} recovered)"
        return str(p["text"])
    return None


def _describe_roster(event: ev.JournalEvent) -> str | None:
    p = event.payload
    who, role = p.get("person"), p.get("role")
    as_role = f" as {role}" if role and role != "participant" else ""
    if event.kind == ev.ROSTER_REQUESTED:
        return f"{who} asked to join the bridge{as_role}"
    if event.kind == ev.ROSTER_ACKNOWLEDGED:
        return f"{who} acknowledged"
    if event.kind == ev.ROSTER_JOINED:
        return f"{who} joined the bridge{as_role}"
    if event.kind == ev.ROSTER_LEFT:
        return f"{who} left the bridge"
    if event.kind == ev.ROSTER_ROLE_ASSIGNED:
        handover = f" (from {p['previous']})" if p.get("previous") else ""
        return f"{role} is now {who}{handover}"
    return None


def in_time_order(events: Iterable[ev.JournalEvent]) -> list[ev.JournalEvent]:
    """Events by when they happened (a back-dated note sits where it belongs),
    ties kept in the order they were recorded."""
    return sorted(events, key=lambda e: (e.occurred_at, ev.fold_key(e)))
