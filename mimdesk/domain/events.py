"""Journal events: what a command produces, what the journal stores, how it is chained.

Each event carries the hash of the event its seat recorded before it on the same
incident, so an edit, a deletion or a torn write shows up when that seat's chain
is verified, on any seat that holds the incident. Events recorded before seats
shared incidents carry no hybrid logical clock stamp (`hlc`) and chain through
the whole store instead, as they always did.

Every seat folds an incident's events in the same order, `fold_key`: the stamp,
then the seat, so seats holding the same events show the same state.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
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
    hlc: str | None = None  # hybrid logical clock stamp; None before seats shared

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
            hlc=self.hlc,
        )

    def sealed_correctly(self) -> bool:
        """Whether its hash is the hash of what it says (nothing was changed)."""
        return chain_hash(self.prev_hash, self.hashed_fields()) == self.hash


def fold_key(event: JournalEvent) -> tuple[bool, str, str, int, str]:
    """The order every seat folds an incident's events in: its creation first
    (a seat whose clock lags may stamp an edit before it); then stamped events
    by stamp, then seat; the unstamped ones (one seat's, from before) before
    them, in the order that seat numbered them."""
    created = event.kind == INCIDENT_CREATED
    return (not created, event.hlc or "", event.seat, event.incident_seq, event.id)


def in_fold_order(events: Iterable[JournalEvent]) -> list[JournalEvent]:
    return sorted(events, key=fold_key)


def to_dict(event: JournalEvent) -> dict[str, Any]:
    """An event as JSON, for archives and other seats: everything the hash
    covers, and the chain link. The store's own sequence number stays home."""
    return {**event.hashed_fields(), "prev_hash": event.prev_hash, "hash": event.hash}


def from_dict(data: Mapping[str, Any], *, seq: int = 0) -> JournalEvent:
    """The event `to_dict` wrote. Raises KeyError, TypeError or ValueError on a
    malformed one (nothing else); whether it was changed is `sealed_correctly`'s
    question."""
    try:
        return _from_dict(data, seq)
    except OverflowError as exc:  # a number or date beyond what can be held
        raise ValueError(f"out of range: {exc}") from None


def _from_dict(data: Mapping[str, Any], seq: int) -> JournalEvent:
    payload = data["payload"]
    if not isinstance(payload, Mapping):
        raise TypeError("payload is not an object")
    hlc = data.get("hlc")
    offset = data.get("typed_offset")
    return JournalEvent(
        seq=seq,
        id=_text(data, "id"),
        incident_id=_text(data, "incident_id"),
        incident_seq=int(data["incident_seq"]),
        kind=_text(data, "kind"),
        payload=dict(payload),
        actor=_text(data, "actor"),
        occurred_at=_instant(_text(data, "occurred_at")),
        typed_offset=None if offset is None else str(offset),
        recorded_at=_instant(_text(data, "recorded_at")),
        seat=_text(data, "seat"),
        prev_hash=_text(data, "prev_hash"),
        hash=_text(data, "hash"),
        hlc=None if hlc is None else _text(data, "hlc"),
    )


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data[key]
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key} is not a non-empty string")
    return value


def _instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
        if value.tzinfo is None:
            raise ValueError(f"{text!r} has no UTC offset")
        return value.astimezone(UTC)
    except OverflowError:  # a date at the very end of the calendar, say
        raise ValueError(f"{text!r} is out of range") from None


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
    hlc: str | None = None,
) -> dict[str, Any]:
    """Everything an event's hash covers (all of it but its store sequence number);
    the stamp only where there is one, so older events keep their hashes."""
    fields = {
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
    if hlc is not None:
        fields["hlc"] = hlc
    return fields


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
    hlc: str | None = None,
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
        hlc=hlc,
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
        hlc=hlc,
    )
