"""Journal events: what a command produces, what the journal stores, how it is chained.

Each stored event carries the hash of the event recorded before it in the same
store, so an edit, a deletion or a torn write shows up when the chain is verified.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mimdesk.domain.times import utc_iso

GENESIS_HASH = "0" * 64

INCIDENT_CREATED = "incident.created"
STATUS_CHANGED = "incident.status_changed"
NOTE_ADDED = "incident.note_added"
SEVERITY_CHANGED = "incident.severity_changed"
TITLE_CHANGED = "incident.title_changed"

UPDATE_SENT = "incident.update_sent"
UPDATE_DRAFTED = "incident.update_drafted"
UPDATE_APPROVED = "incident.update_approved"
REPORT_SENT = "incident.report_sent"
BRIDGE_SET = "incident.bridge_set"
IMPACT_STARTED = "incident.impact_started"
MILESTONE_CORRECTED = "incident.milestone_corrected"

ROSTER_REQUESTED = "roster.requested"
ROSTER_ACKNOWLEDGED = "roster.acknowledged"
ROSTER_JOINED = "roster.joined"
ROSTER_LEFT = "roster.left"
ROSTER_ROLE_ASSIGNED = "roster.role_assigned"

ALERTS_ATTACHED = "incident.alerts_attached"
ALERT_CHANGED = "incident.alert_changed"

CHAT_OPENED = "chat.channel_opened"
CHAT_POSTED = "chat.posted"
CHAT_RECEIVED = "chat.received"
CHAT_MEMBERSHIP = "chat.membership"
CHAT_PINNED = "chat.pinned"
OUTBOX_CHANGED = "chat.outbox_changed"

IMPACT_OVERRIDDEN = "impact.overridden"
IMPACT_OVERRIDE_CLEARED = "impact.override_cleared"

RUNBOOK_STARTED = "recovery.runbook_started"
ACTION_ADDED = "recovery.action_added"
ACTION_ASSIGNED = "recovery.action_assigned"
ACTION_STATUS = "recovery.action_status"
ACTION_DEPENDS = "recovery.action_depends"
CHECK_RESULT = "recovery.check_result"
VERIFY_OVERRIDDEN = "recovery.verify_overridden"

KINDS = frozenset(
    {
        INCIDENT_CREATED, STATUS_CHANGED, NOTE_ADDED, SEVERITY_CHANGED, TITLE_CHANGED,
        UPDATE_SENT, REPORT_SENT, BRIDGE_SET, IMPACT_STARTED, MILESTONE_CORRECTED,
        ROSTER_REQUESTED, ROSTER_ACKNOWLEDGED, ROSTER_JOINED, ROSTER_LEFT,
        ROSTER_ROLE_ASSIGNED, ALERTS_ATTACHED, ALERT_CHANGED, CHAT_OPENED,
        CHAT_POSTED, CHAT_RECEIVED, CHAT_MEMBERSHIP, CHAT_PINNED, OUTBOX_CHANGED,
        IMPACT_OVERRIDDEN, IMPACT_OVERRIDE_CLEARED,
        UPDATE_DRAFTED, UPDATE_APPROVED,
        RUNBOOK_STARTED, ACTION_ADDED, ACTION_ASSIGNED, ACTION_STATUS,
        ACTION_DEPENDS, CHECK_RESULT, VERIFY_OVERRIDDEN,
    }
)  # fmt: skip


@dataclass(frozen=True)
class NewEvent:
    """An event a command wants recorded; the journal gives it identity and order."""

    kind: str
    payload: Mapping[str, Any]
    occurred_at: datetime
    actor: str
    typed_offset: str | None = None


@dataclass(frozen=True)
class JournalEvent:
    """One recorded, immutable journal entry."""

    seq: int
    id: str
    incident_id: str
    incident_seq: int
    kind: str
    payload: Mapping[str, Any]
    actor: str
    occurred_at: datetime
    typed_offset: str | None
    recorded_at: datetime
    seat: str
    prev_hash: str
    hash: str

    def hashed_fields(self) -> dict[str, Any]:
        return hashed_fields(
            event_id=self.id,
            incident_id=self.incident_id,
            incident_seq=self.incident_seq,
            kind=self.kind,
            payload=self.payload,
            actor=self.actor,
            occurred_at=self.occurred_at,
            typed_offset=self.typed_offset,
            recorded_at=self.recorded_at,
            seat=self.seat,
        )


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: the same bytes on every machine."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def hashed_fields(
    *,
    event_id: str,
    incident_id: str,
    incident_seq: int,
    kind: str,
    payload: Mapping[str, Any],
    actor: str,
    occurred_at: datetime,
    typed_offset: str | None,
    recorded_at: datetime,
    seat: str,
) -> dict[str, Any]:
    """Everything an event's hash covers (all of it but its store sequence number)."""
    return {
        "id": event_id,
        "incident_id": incident_id,
        "incident_seq": incident_seq,
        "kind": kind,
        "payload": dict(payload),
        "actor": actor,
        "occurred_at": utc_iso(occurred_at),
        "typed_offset": typed_offset,
        "recorded_at": utc_iso(recorded_at),
        "seat": seat,
    }


def chain_hash(prev_hash: str, fields: Mapping[str, Any]) -> str:
    """SHA-256 over the previous hash and the event's canonical JSON."""
    digest = hashlib.sha256(prev_hash.encode("ascii"))
    digest.update(b"\n")
    digest.update(canonical_json(dict(fields)).encode("utf-8"))
    return digest.hexdigest()


def seal(
    draft: NewEvent,
    *,
    seq: int,
    event_id: str,
    incident_id: str,
    incident_seq: int,
    recorded_at: datetime,
    seat: str,
    prev_hash: str,
) -> JournalEvent:
    """Give a draft its identity and place, and chain it to the event before."""
    fields = hashed_fields(
        event_id=event_id,
        incident_id=incident_id,
        incident_seq=incident_seq,
        kind=draft.kind,
        payload=draft.payload,
        actor=draft.actor,
        occurred_at=draft.occurred_at,
        typed_offset=draft.typed_offset,
        recorded_at=recorded_at,
        seat=seat,
    )
    return JournalEvent(
        seq=seq,
        id=event_id,
        incident_id=incident_id,
        incident_seq=incident_seq,
        kind=draft.kind,
        payload=fields["payload"],
        actor=draft.actor,
        occurred_at=draft.occurred_at.astimezone(UTC),
        typed_offset=draft.typed_offset,
        recorded_at=recorded_at.astimezone(UTC),
        seat=seat,
        prev_hash=prev_hash,
        hash=chain_hash(prev_hash, fields),
    )
