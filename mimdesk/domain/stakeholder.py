"""Sending a stakeholder update: the event that records exactly what each
audience was sent, and causes the outbox rows that deliver it.

An update is one journal event (`incident.update_sent`) holding every
audience's subject and body and where each copy goes; the outbox rows are
written in the same transaction (see store.outbox). With approval on, an
update is first a draft (`incident.update_drafted`) that someone other than
its author approves (`incident.update_approved`), which sends it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mimdesk.domain import events as ev
from mimdesk.domain.errors import DomainError

if TYPE_CHECKING:
    from mimdesk.domain.incident import Incident

MAX_TEXT = 20_000


def _copies(copies: Sequence[Mapping[str, str]]) -> list[dict[str, str]]:
    if not copies:
        raise DomainError("no audience chosen: the update would reach nobody")
    out = []
    for copy in copies:
        subject = " ".join(str(copy.get("subject", "")).split())
        body = str(copy.get("body", "")).strip()
        if not subject:
            raise DomainError(f"the update to {copy.get('audience')} has no subject")
        if len(body) > MAX_TEXT:
            raise DomainError(
                f"the update to {copy.get('audience')} is {len(body):,} characters; "
                f"at most {MAX_TEXT:,}"
            )
        out.append({"audience": str(copy["audience"]), "name": str(copy["name"]),
                    "subject": subject, "body": body})  # fmt: skip
    return out


def _payload(
    update_type: str,
    copies: Sequence[Mapping[str, str]],
    deliveries: Sequence[Mapping[str, Any]],
    skipped: Sequence[Mapping[str, str]],
) -> dict[str, Any]:
    kept = _copies(copies)
    return {
        "summary": kept[0]["subject"],
        "audience": ", ".join(c["name"] for c in kept),
        "update_type": update_type,
        "copies": kept,
        "deliveries": [dict(d) for d in deliveries],
        "skipped": [dict(s) for s in skipped],
    }


def send(
    incident: Incident,
    *,
    update_type: str,
    copies: Sequence[Mapping[str, str]],
    deliveries: Sequence[Mapping[str, Any]],
    skipped: Sequence[Mapping[str, str]] = (),
    now: datetime,
    actor: str,
    draft: bool = False,
) -> ev.NewEvent:
    """The update goes out now: recorded, queued, the cadence clock reset.
    With `draft`, it waits for approval instead and nothing is queued."""
    payload = _payload(update_type, copies, deliveries, skipped)
    kind = ev.UPDATE_DRAFTED if draft else ev.UPDATE_SENT
    return ev.NewEvent(kind, payload, now, actor)


def pending_drafts(events: Iterable[ev.JournalEvent]) -> list[ev.JournalEvent]:
    """Drafts not approved yet, oldest first."""
    drafts: dict[str, ev.JournalEvent] = {}
    for event in events:
        if event.kind == ev.UPDATE_DRAFTED:
            drafts[event.id] = event
        elif event.kind == ev.UPDATE_APPROVED:
            drafts.pop(str(event.payload["draft"]), None)
    return list(drafts.values())


def approve(
    incident: Incident,
    drafted: ev.JournalEvent,
    *,
    now: datetime,
    actor: str,
) -> list[ev.NewEvent]:
    """Someone other than its author approves a draft; it is sent at once."""
    if drafted.kind != ev.UPDATE_DRAFTED:
        raise DomainError(f"{drafted.id} is not a drafted update")
    if actor.strip().lower() == drafted.actor.strip().lower():
        raise DomainError(
            f"{actor} drafted this update; someone else (the commander) must approve it"
        )
    approval = ev.NewEvent(ev.UPDATE_APPROVED, {"draft": drafted.id}, now, actor)
    sent = dict(drafted.payload)
    sent["approved_by"] = actor
    sent["drafted_by"] = drafted.actor
    return [approval, ev.NewEvent(ev.UPDATE_SENT, sent, now, actor)]


def describe(event: ev.JournalEvent) -> str | None:
    p = event.payload
    if event.kind == ev.UPDATE_DRAFTED:
        return f"update drafted for {p['audience']}, awaiting approval: {p['summary']}"
    if event.kind == ev.UPDATE_APPROVED:
        return f"update {str(p['draft'])[:8]} approved"
    return None
