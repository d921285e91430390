"""Alerts from Prometheus Alertmanager: parsing, identity, deduplication, groups.

Pure functions of payloads and instants. One alert is one record however many
times it is delivered (HA peers, retries, repeat_interval); its state is decided
per alert, never from the notification's root status.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from mimdesk.domain.errors import DomainError

# Go's zero time: what Alertmanager sends as endsAt for an alert with no end.
GO_ZERO_YEAR = 1
FIRING = "firing"
RESOLVED = "resolved"

_TIME = re.compile(
    r"^(?P<base>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(?P<frac>\d+))?"
    r"(?P<zone>Z|[+-]\d{2}:\d{2})$"
)


def parse_time(text: object) -> datetime | None:
    """An Alertmanager timestamp as a UTC instant; Go's zero time is None (no end).

    Nanoseconds are truncated to microseconds; any offset is honoured."""
    if not isinstance(text, str):
        raise DomainError(f"a timestamp must be a string, not {text!r}")
    match = _TIME.match(text.strip())
    if not match:
        raise DomainError(f"unreadable timestamp {text!r}")
    micro = (match["frac"] or "").ljust(6, "0")[:6]
    zone = "+00:00" if match["zone"] == "Z" else match["zone"]
    try:
        instant = datetime.fromisoformat(f"{match['base']}.{micro}{zone}")
    except ValueError:
        raise DomainError(f"impossible timestamp {text!r}") from None
    if instant.year <= GO_ZERO_YEAR:
        return None
    return instant.astimezone(UTC)


def label_hash(labels: Mapping[str, str]) -> str:
    """Our own identity for a label set, for deliveries without a fingerprint."""
    text = json.dumps(sorted(labels.items()), separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Alert:
    """One alert as a notification carried it."""

    labels: tuple[tuple[str, str], ...]
    status: str
    starts_at: datetime
    ends_at: datetime | None
    fingerprint: str = ""
    annotations: tuple[tuple[str, str], ...] = ()
    generator_url: str = ""

    @property
    def identity(self) -> str:
        return label_hash(dict(self.labels))

    @property
    def name(self) -> str:
        return dict(self.labels).get("alertname", "alert")

    @property
    def summary(self) -> str:
        notes = dict(self.annotations)
        return notes.get("summary") or notes.get("description") or self.name


@dataclass(frozen=True)
class Notification:
    """One webhook delivery (payload version 4)."""

    group_key: str
    status: str
    alerts: tuple[Alert, ...]
    receiver: str = ""
    group_labels: tuple[tuple[str, str], ...] = ()
    common_labels: tuple[tuple[str, str], ...] = ()
    external_url: str = ""
    truncated: int = 0

    @property
    def truncated_notice(self) -> str:
        """'+2 alerts not included' when Alertmanager cut the list (max_alerts)."""
        if not self.truncated:
            return ""
        noun = "alert" if self.truncated == 1 else "alerts"
        return f"+{self.truncated} {noun} not included"


def _labels(value: object, what: str) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise DomainError(f"{what} must be an object of strings")
    return tuple(sorted(value.items()))


def parse_alert(raw: object, number: int = 1) -> Alert:
    """One alert object, from a webhook or from GET /api/v2/alerts."""
    if not isinstance(raw, dict):
        raise DomainError(f"alert #{number} must be an object")
    labels = _labels(raw.get("labels"), f"alert #{number} labels")
    if not labels:
        raise DomainError(f"alert #{number} has no labels")
    status = raw.get("status")
    if isinstance(status, dict):  # the v2 API: {"state": "active", ...}
        status = RESOLVED if status.get("state") == "resolved" else FIRING
    if status not in (FIRING, RESOLVED):
        raise DomainError(f"alert #{number}: status must be firing or resolved")
    starts = parse_time(raw.get("startsAt"))
    if starts is None:
        raise DomainError(f"alert #{number} has no startsAt")
    ends = parse_time(raw.get("endsAt", "0001-01-01T00:00:00Z"))
    if status == FIRING:
        ends = None  # a firing alert's endsAt is only Alertmanager's timeout guess
    fingerprint = raw.get("fingerprint") or ""
    return Alert(
        labels=labels,
        status=status,
        starts_at=starts,
        ends_at=ends,
        fingerprint=str(fingerprint),
        annotations=_labels(raw.get("annotations"), f"alert #{number} annotations"),
        generator_url=str(raw.get("generatorURL", "")),
    )


def parse_webhook(body: object) -> Notification:
    """A webhook payload (version 4); a clear DomainError for anything else."""
    if not isinstance(body, dict):
        raise DomainError("the payload must be a JSON object")
    version = str(body.get("version", ""))
    if version != "4":
        raise DomainError(f"unsupported payload version {version!r} (expected 4)")
    group_key = body.get("groupKey")
    if not isinstance(group_key, str) or not group_key:
        raise DomainError("the payload has no groupKey")
    raw_alerts = body.get("alerts")
    if not isinstance(raw_alerts, list):
        raise DomainError("'alerts' must be a list")
    truncated = body.get("truncatedAlerts", 0)
    if not isinstance(truncated, int) or isinstance(truncated, bool) or truncated < 0:
        raise DomainError("truncatedAlerts must be a whole number")
    return Notification(
        group_key=group_key,
        status=str(body.get("status", "")),
        alerts=tuple(parse_alert(a, n) for n, a in enumerate(raw_alerts, start=1)),
        receiver=str(body.get("receiver", "")),
        group_labels=_labels(body.get("groupLabels"), "groupLabels"),
        common_labels=_labels(body.get("commonLabels"), "commonLabels"),
        external_url=str(body.get("externalURL", "")),
        truncated=truncated,
    )


class Change(Enum):
    """What a delivery did to one alert's record."""

    FIRED = "fired"  # first seen firing
    RESOLVED = "resolved"
    REFIRED = "refired"  # fired again after it had resolved (a new episode)
    SEEN = "seen"  # a copy of what was known: only last_seen and the count move
    STALE = "stale"  # an old notification arriving late: ignored, counted


@dataclass(frozen=True)
class AlertRecord:
    """What MIMDesk knows of one alert, across every delivery of it."""

    identity: str
    labels: tuple[tuple[str, str], ...]
    status: str
    starts_at: datetime
    ends_at: datetime | None
    first_seen: datetime
    last_seen: datetime
    seen: int = 1
    fingerprints: tuple[str, ...] = ()
    group_key: str = ""
    annotations: tuple[tuple[str, str], ...] = ()
    generator_url: str = ""

    @property
    def firing(self) -> bool:
        return self.status == FIRING

    @property
    def name(self) -> str:
        return dict(self.labels).get("alertname", "alert")

    def duration(self, now: datetime) -> float:
        """Seconds it has been (or was) firing; never negative."""
        end = self.ends_at or now
        return max(0.0, (end - self.starts_at).total_seconds())


def find(records: Mapping[str, AlertRecord], alert: Alert) -> AlertRecord | None:
    """The record of an alert: by its own label hash, or by Alertmanager's
    fingerprint, so a copy without a fingerprint maps to the same record."""
    found = records.get(alert.identity)
    if found is not None or not alert.fingerprint:
        return found
    return next(
        (r for r in records.values() if alert.fingerprint in r.fingerprints), None
    )


def merge(
    record: AlertRecord | None, alert: Alert, group_key: str, at: datetime
) -> tuple[AlertRecord, Change]:
    """The record after one delivery of `alert`, and what changed."""
    prints = (alert.fingerprint,) if alert.fingerprint else ()
    if record is None:
        change = Change.FIRED if alert.status == FIRING else Change.RESOLVED
        # A resolved alert always has an end: when it was seen resolved, if
        # Alertmanager sent none (else its duration would grow for ever).
        ended = alert.ends_at or (at if alert.status == RESOLVED else None)
        fresh = AlertRecord(
            alert.identity, alert.labels, alert.status, alert.starts_at,
            ended, at, at, 1, prints, group_key, alert.annotations,
            alert.generator_url,
        )  # fmt: skip
        return fresh, change
    seen = replace(
        record,
        last_seen=max(record.last_seen, at),
        seen=record.seen + 1,
        fingerprints=tuple(dict.fromkeys(record.fingerprints + prints)),
        group_key=record.group_key or group_key,
    )
    if record.firing and alert.status == RESOLVED:
        ended = alert.ends_at or at
        return replace(seen, status=RESOLVED, ends_at=ended), Change.RESOLVED
    if not record.firing and alert.status == FIRING:
        last_end = record.ends_at or record.starts_at
        if alert.starts_at > last_end:
            episode = replace(seen, status=FIRING, starts_at=alert.starts_at)
            return replace(episode, ends_at=None), Change.REFIRED
        return seen, Change.STALE
    return seen, Change.SEEN


@dataclass(frozen=True)
class Applied:
    """The records after a delivery and what happened to each alert in it."""

    records: dict[str, AlertRecord]
    changes: tuple[tuple[str, Change], ...]


def apply(
    records: Mapping[str, AlertRecord], note: Notification, at: datetime
) -> Applied:
    """Fold one delivery into the records (a new dict; the input is untouched)."""
    out = dict(records)
    changes: list[tuple[str, Change]] = []
    for alert in note.alerts:
        current = find(out, alert)
        updated, change = merge(current, alert, note.group_key, at)
        if current is not None and current.identity != updated.identity:
            out.pop(current.identity, None)
        out[updated.identity] = updated
        changes.append((updated.identity, change))
    return Applied(out, tuple(changes))


@dataclass(frozen=True)
class Group:
    """An Alertmanager group: what one incident is suggested for."""

    key: str
    alerts: tuple[AlertRecord, ...] = field(default=())

    @property
    def firing(self) -> int:
        return sum(1 for a in self.alerts if a.firing)

    @property
    def recovered(self) -> str:
        """'1/3': how many of the group's alerts have resolved."""
        return f"{len(self.alerts) - self.firing}/{len(self.alerts)}"

    @property
    def open(self) -> bool:
        return self.firing > 0

    @property
    def detected_at(self) -> datetime | None:
        """The earliest start: when the trouble was first seen."""
        return min((a.starts_at for a in self.alerts), default=None)

    @property
    def suggestion(self) -> str:
        """What the incident manager might do: never done by MIMDesk itself."""
        if not self.alerts:
            return ""
        if self.open:
            return "declare" if self.firing == len(self.alerts) else "keep open"
        return "mark mitigated"


def groups(records: Iterable[AlertRecord]) -> list[Group]:
    """Records by group key, groups with firing alerts first, newest first."""
    by_key: dict[str, list[AlertRecord]] = {}
    for record in records:
        by_key.setdefault(record.group_key, []).append(record)
    built = [
        Group(key, tuple(sorted(v, key=lambda a: a.starts_at)))
        for key, v in by_key.items()
    ]
    return sorted(
        built,
        key=lambda g: (
            not g.open,
            -(g.detected_at or datetime.min.replace(tzinfo=UTC)).timestamp(),
        ),
    )


def services_of(
    labels: Sequence[tuple[str, str]] | Mapping[str, str],
    known: Iterable[str],
    label_names: Sequence[str] = ("service", "job"),
) -> tuple[str, ...]:
    """Catalogue services an alert names, by the first matching label names."""
    values = dict(labels)
    ids = set(known)
    found = [values[n] for n in label_names if values.get(n) in ids]
    return tuple(dict.fromkeys(found))


def describe_change(record: AlertRecord, change: Change) -> str:
    """A timeline line for a change worth recording (FIRED, RESOLVED, REFIRED)."""
    what = {
        Change.FIRED: "fired",
        Change.RESOLVED: "resolved",
        Change.REFIRED: "fired again",
    }.get(change)
    if what is None:
        return ""
    labels = dict(record.labels)
    where = labels.get("instance") or labels.get("pod") or labels.get("service", "")
    return f"alert {record.name}{f' on {where}' if where else ''} {what}"


def as_json(record: AlertRecord) -> dict[str, Any]:
    """The stored and exported form of a record."""
    return {
        "identity": record.identity,
        "labels": dict(record.labels),
        "status": record.status,
        "starts_at": record.starts_at.isoformat().replace("+00:00", "Z"),
        "ends_at": record.ends_at.isoformat().replace("+00:00", "Z")
        if record.ends_at
        else None,
        "first_seen": record.first_seen.isoformat().replace("+00:00", "Z"),
        "last_seen": record.last_seen.isoformat().replace("+00:00", "Z"),
        "seen": record.seen,
        "fingerprints": list(record.fingerprints),
        "group_key": record.group_key,
        "annotations": dict(record.annotations),
        "generator_url": record.generator_url,
    }


def _instant(text: object) -> datetime:
    found = parse_time(text)
    if found is None:
        raise DomainError(f"a stored record has no time where one is needed: {text!r}")
    return found


def from_json(data: Mapping[str, Any]) -> AlertRecord:
    """A record back from its stored form (the inverse of `as_json`)."""
    ends = data.get("ends_at")
    return AlertRecord(
        identity=str(data["identity"]),
        labels=tuple(sorted(data["labels"].items())),
        status=str(data["status"]),
        starts_at=_instant(data["starts_at"]),
        ends_at=None if ends is None else _instant(ends),
        first_seen=_instant(data["first_seen"]),
        last_seen=_instant(data["last_seen"]),
        seen=int(data["seen"]),
        fingerprints=tuple(data.get("fingerprints", ())),
        group_key=str(data.get("group_key", "")),
        annotations=tuple(sorted(data.get("annotations", {}).items())),
        generator_url=str(data.get("generator_url", "")),
    )


def _wire_time(instant: datetime | None) -> str:
    if instant is None:
        return "0001-01-01T00:00:00Z"
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def alert_json(alert: Alert) -> dict[str, Any]:
    """An alert in the webhook's own shape, so `parse_alert` reads it back."""
    return {
        "status": alert.status,
        "labels": dict(alert.labels),
        "annotations": dict(alert.annotations),
        "startsAt": _wire_time(alert.starts_at),
        "endsAt": _wire_time(alert.ends_at),
        "generatorURL": alert.generator_url,
        "fingerprint": alert.fingerprint,
    }


def in_scope(record: AlertRecord, scope: Mapping[str, str]) -> bool:
    """Whether a record's labels match every equality matcher of `scope`."""
    labels = dict(record.labels)
    return all(labels.get(name) == value for name, value in scope.items())


def resolve_absent(
    records: Mapping[str, AlertRecord],
    present: Iterable[str],
    scope: Mapping[str, str],
    at: datetime,
) -> Applied:
    """Firing records in `scope` that a complete API answer no longer lists have
    resolved; they end at `at`, the first time they were known to be gone."""
    out = dict(records)
    seen = set(present)
    changes: list[tuple[str, Change]] = []
    for identity, record in records.items():
        if record.firing and identity not in seen and in_scope(record, scope):
            out[identity] = replace(record, status=RESOLVED, ends_at=at)
            changes.append((identity, Change.RESOLVED))
    return Applied(out, tuple(changes))


def summary_of(record: AlertRecord) -> str:
    """The record's summary annotation, else its description, else its name."""
    notes = dict(record.annotations)
    return notes.get("summary") or notes.get("description") or record.name


def group_ref(key: str) -> str:
    """A short handle for a group key, easy to type ('{}:{service="x"}' is not)."""
    return hashlib.sha256(key.encode()).hexdigest()[:8]
