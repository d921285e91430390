"""The alert spool (every delivery, exactly as received) and the records folded from it.

Every function takes a connection; writes run inside the writer's transaction.
The `alerts` table is a read model: `rebuild` refolds it from the spool and the
journal's attachments.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from mimdesk.domain import alerts as model
from mimdesk.domain import events as ev
from mimdesk.domain.alert_links import RECORDED, alert_changed
from mimdesk.domain.alerts import Alert, AlertRecord, Applied, Change, Group
from mimdesk.domain.errors import DomainError
from mimdesk.domain.events import JournalEvent
from mimdesk.domain.times import parse_utc, utc_iso
from mimdesk.store import journal

log = logging.getLogger(__name__)

PENDING, DONE, REJECTED = 0, 1, -1
# The spooled form of alerts fetched from the API rather than pushed to us.
RECONCILE_FORMAT = "mimdesk.reconcile/1"


@dataclass(frozen=True)
class IntakeResult:
    """What one delivery did: the changes, notices worth showing, and errors.

    A delivery with errors is still kept in the spool: a rejected one (the
    payload cannot be read) for the record, a failed one to be retried."""

    delivery_id: int
    changes: tuple[tuple[AlertRecord, Change], ...] = ()
    notices: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    events: tuple[JournalEvent, ...] = ()
    group_key: str = ""

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class Delivery:
    """A spooled body, read: the alerts it carries, and for a complete API answer
    the label matchers it covered (firing records it lacks have resolved)."""

    note: model.Notification
    scope: Mapping[str, str] | None = None


# --- the spool ----------------------------------------------------------------


def spool(conn: sqlite3.Connection, body: str, *, source: str, at: datetime) -> int:
    """Keep a delivery as received; processing comes after, in its own transaction."""
    cursor = conn.execute(
        "INSERT INTO alert_deliveries (received_at, source, body, processed)"
        " VALUES (?, ?, ?, ?)",
        (utc_iso(at), source, body, PENDING),
    )
    assert cursor.lastrowid is not None
    return cursor.lastrowid


def reconcile_body(
    alerts: Sequence[Alert], *, group_key: str, scope: Mapping[str, str] | None
) -> str:
    """The spooled form of alerts fetched from Alertmanager's API."""
    return json.dumps(
        {
            "format": RECONCILE_FORMAT,
            "group_key": group_key,
            "scope": None if scope is None else dict(scope),
            "alerts": [model.alert_json(a) for a in alerts],
        },
        ensure_ascii=False,
    )


def read_delivery(body: str) -> Delivery:
    """A spooled body as a Delivery; a DomainError says what is wrong with it."""
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise DomainError(f"the payload is not valid JSON ({exc})") from None
    if isinstance(data, dict) and data.get("format") == RECONCILE_FORMAT:
        alerts = tuple(
            model.parse_alert(a, n) for n, a in enumerate(data["alerts"], start=1)
        )
        note = model.Notification(str(data.get("group_key", "")), "", alerts)
        return Delivery(note, data.get("scope"))
    return Delivery(model.parse_webhook(data))


def mark(
    conn: sqlite3.Connection, delivery_id: int, state: int, error: str | None
) -> None:
    conn.execute(
        "UPDATE alert_deliveries SET processed = ?, error = ? WHERE id = ?",
        (state, error, delivery_id),
    )


def note_failure(conn: sqlite3.Connection, delivery_id: int, error: str) -> None:
    """Processing broke: keep the delivery pending, with the reason, for a retry."""
    mark(conn, delivery_id, PENDING, error)


def pending(conn: sqlite3.Connection) -> list[int]:
    rows = conn.execute(
        "SELECT id FROM alert_deliveries WHERE processed = ? ORDER BY id", (PENDING,)
    )
    return [int(row[0]) for row in rows]


def spool_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Deliveries by state: done, pending (to retry) and rejected (unreadable)."""
    names = {DONE: "done", PENDING: "pending", REJECTED: "rejected"}
    counts = dict.fromkeys(names.values(), 0)
    rows = conn.execute(
        "SELECT processed, count(*) FROM alert_deliveries GROUP BY processed"
    )
    for state, count in rows:
        counts[names.get(int(state), "pending")] += int(count)
    return counts


# --- processing ---------------------------------------------------------------


def process(
    conn: sqlite3.Connection,
    delivery_id: int,
    *,
    seat: str,
    now: datetime,
    cache: journal.StateCache,
) -> IntakeResult:
    """Fold one spooled delivery into the records and record, in the journal of
    each incident its group is attached to, the changes worth a timeline entry."""
    row = conn.execute(
        "SELECT body, received_at FROM alert_deliveries WHERE id = ?", (delivery_id,)
    ).fetchone()
    if row is None:
        raise LookupError(f"no alert delivery #{delivery_id}")
    try:
        delivery = read_delivery(str(row[0]))
    except DomainError as exc:
        mark(conn, delivery_id, REJECTED, str(exc))
        log.warning("alert delivery #%s rejected: %s", delivery_id, exc)
        return IntakeResult(delivery_id, errors=(str(exc),))
    before, applied = _fold(conn, delivery, parse_utc(str(row[1])))
    events, notices = _record_changes(
        conn, before, applied, seat=seat, now=now, cache=cache
    )
    mark(conn, delivery_id, DONE, None)
    truncated = delivery.note.truncated_notice
    return IntakeResult(
        delivery_id,
        tuple((applied.records[i], c) for i, c in applied.changes),
        ((truncated,) if truncated else ()) + tuple(notices),
        events=tuple(events),
        group_key=delivery.note.group_key,
    )


def _fold(
    conn: sqlite3.Connection, delivery: Delivery, at: datetime
) -> tuple[dict[str, AlertRecord], Applied]:
    """Apply a delivery to the records it touches; the records of the touched
    groups as they were before, and what was applied."""
    known = _known(conn, delivery)
    applied = model.apply(known, delivery.note, at)
    if delivery.scope is not None:
        present = [identity for identity, _ in applied.changes]
        gone = model.resolve_absent(applied.records, present, delivery.scope, at)
        applied = model.Applied(gone.records, applied.changes + gone.changes)
    touched = {applied.records[i].group_key for i, _ in applied.changes}
    before = {r.identity: r for key in touched if key for r in _group_rows(conn, key)}
    before.update(known)
    for identity, _ in applied.changes:
        _save(conn, applied.records[identity])
    return before, applied


def _known(conn: sqlite3.Connection, delivery: Delivery) -> dict[str, AlertRecord]:
    """The stored records a delivery could change."""
    found: dict[str, AlertRecord] = {}
    for alert in delivery.note.alerts:
        record = _by_identity(conn, alert.identity) or _by_fingerprint(
            conn, alert.fingerprint
        )
        if record is not None:
            found[record.identity] = record
    if delivery.scope is not None:
        firing = conn.execute("SELECT record FROM alerts WHERE status = 'firing'")
        for (text,) in firing:
            record = _record(text)
            if model.in_scope(record, delivery.scope):
                found.setdefault(record.identity, record)
    return found


def _record(text: object) -> AlertRecord:
    return model.from_json(json.loads(str(text)))


def _by_identity(conn: sqlite3.Connection, identity: str) -> AlertRecord | None:
    row = conn.execute(
        "SELECT record FROM alerts WHERE identity = ?", (identity,)
    ).fetchone()
    return _record(row[0]) if row else None


def _by_fingerprint(conn: sqlite3.Connection, fingerprint: str) -> AlertRecord | None:
    # FIXME(alerts): this scans every record's JSON; a table of fingerprints with
    # an index would keep it fast once the store holds months of alerts.
    if not fingerprint:
        return None
    row = conn.execute(
        "SELECT a.record FROM alerts a, json_each(a.record, '$.fingerprints') f"
        " WHERE f.value = ? ORDER BY a.rowid LIMIT 1",
        (fingerprint,),
    ).fetchone()
    return _record(row[0]) if row else None


def _group_rows(conn: sqlite3.Connection, key: str) -> list[AlertRecord]:
    rows = conn.execute("SELECT record FROM alerts WHERE group_key = ?", (key,))
    return [_record(row[0]) for row in rows]


def _save(conn: sqlite3.Connection, record: AlertRecord) -> None:
    conn.execute(
        "INSERT INTO alerts (identity, record, status, group_key, starts_at,"
        " last_seen) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (identity) DO UPDATE"
        " SET record = excluded.record, status = excluded.status,"
        " group_key = excluded.group_key, starts_at = excluded.starts_at,"
        " last_seen = excluded.last_seen",
        (
            record.identity,
            json.dumps(model.as_json(record), sort_keys=True, ensure_ascii=False),
            record.status,
            record.group_key,
            utc_iso(record.starts_at),
            utc_iso(record.last_seen),
        ),
    )


def _record_changes(
    conn: sqlite3.Connection,
    before: Mapping[str, AlertRecord],
    applied: Applied,
    *,
    seat: str,
    now: datetime,
    cache: journal.StateCache,
) -> tuple[list[JournalEvent], list[str]]:
    """Journal events for changes to attached alerts, one at a time, so each
    says how many of its group had recovered at that point."""
    linked, working = links(conn), dict(before)
    events: list[JournalEvent] = []
    notices: list[str] = []
    for identity, change in applied.changes:
        record = working[identity] = applied.records[identity]
        incident_id = _incident_of(conn, record, linked)
        if incident_id is None or change not in RECORDED:
            continue
        state = cache.load(conn, incident_id)
        if state is None:
            continue
        peers = tuple(r for r in working.values() if r.group_key == record.group_key)
        draft = alert_changed(state, record, change, Group(record.group_key, peers))
        if draft is None:
            text = model.describe_change(record, change)
            notices.append(
                f"{incident_id} is {state.status.value}; not recorded: {text}"
            )
            continue
        events += journal.append(
            conn, incident_id, [draft], seat=seat, recorded_at=now, state=state,
            cache=cache,
        )  # fmt: skip
    return events, notices


def _incident_of(
    conn: sqlite3.Connection, record: AlertRecord, linked: Mapping[str, str]
) -> str | None:
    """The incident a record belongs to: its own link, else its group's (a new
    alert in an attached group joins that incident)."""
    row = conn.execute(
        "SELECT incident_id FROM alerts WHERE identity = ?", (record.identity,)
    ).fetchone()
    if row and row[0]:
        return str(row[0])
    incident_id = linked.get(record.group_key) if record.group_key else None
    if incident_id is not None:
        conn.execute(
            "UPDATE alerts SET incident_id = ? WHERE identity = ?",
            (incident_id, record.identity),
        )
    return incident_id


# --- links to incidents -------------------------------------------------------


def links(conn: sqlite3.Connection) -> dict[str, str]:
    """Group key -> the incident the group is attached to."""
    rows = conn.execute(
        "SELECT group_key, max(incident_id) FROM alerts"
        " WHERE incident_id IS NOT NULL AND group_key != '' GROUP BY group_key"
    )
    return {str(key): str(incident_id) for key, incident_id in rows}


def open_links(conn: sqlite3.Connection) -> dict[str, str]:
    """Group key -> the open incident the group follows. A group whose incident
    was closed follows nothing: if it fires again, a new incident is the advice."""
    rows = conn.execute(
        "SELECT a.group_key, max(a.incident_id) FROM alerts a"
        " JOIN incidents i ON i.id = a.incident_id"
        " WHERE i.is_open = 1 AND a.group_key != '' GROUP BY a.group_key"
    )
    return {str(key): str(incident_id) for key, incident_id in rows}


def link(
    conn: sqlite3.Connection,
    identities: Iterable[str],
    group_key: str,
    incident_id: str,
) -> None:
    """Attach records, and the rest of their group, to an incident."""
    conn.executemany(
        "UPDATE alerts SET incident_id = ? WHERE identity = ?",
        [(incident_id, identity) for identity in identities],
    )
    if group_key:
        conn.execute(
            "UPDATE alerts SET incident_id = ? WHERE group_key = ?",
            (incident_id, group_key),
        )


def attached_to(
    conn: sqlite3.Connection, chosen: Sequence[AlertRecord], group_key: str
) -> str | None:
    """The incident the chosen records, or their group, are attached to."""
    for record in chosen:
        row = conn.execute(
            "SELECT incident_id FROM alerts WHERE identity = ?", (record.identity,)
        ).fetchone()
        if row and row[0]:
            return str(row[0])
    return links(conn).get(group_key) if group_key else None


def select(conn: sqlite3.Connection, target: str) -> list[AlertRecord]:
    """The records a person means: a group (by key or short ref), else one alert
    (by identity or Alertmanager fingerprint)."""
    text = target.strip()
    keys = [str(r[0]) for r in conn.execute("SELECT DISTINCT group_key FROM alerts")]
    for key in keys:
        if text in (key, model.group_ref(key)):
            return _group_rows(conn, key)
    record = _by_identity(conn, text) or _by_fingerprint(conn, text)
    if record is None:
        raise DomainError(
            f"no alert group or alert {text!r}; `mimdesk alerts list` shows the "
            "group refs and alert ids"
        )
    return [record]


# --- reading and rebuilding ---------------------------------------------------


def records(conn: sqlite3.Connection) -> list[AlertRecord]:
    rows = conn.execute("SELECT record FROM alerts ORDER BY starts_at, identity")
    return [_record(row[0]) for row in rows]


def rebuild(conn: sqlite3.Connection) -> int:
    """Refold the records from every processed delivery in the order received,
    then attach them as the journal says; the number of deliveries replayed.

    FIXME(alerts): a delivery retried after later ones were processed is refolded
    in arrival order, not in the order it was processed, so its records can come
    out differently; storing a processing sequence number would make it exact.
    """
    conn.execute("DELETE FROM alerts")
    ids = [
        int(r[0])
        for r in conn.execute(
            "SELECT id FROM alert_deliveries WHERE processed = ? ORDER BY id", (DONE,)
        )
    ]
    for delivery_id in ids:
        body, at = conn.execute(
            "SELECT body, received_at FROM alert_deliveries WHERE id = ?",
            (delivery_id,),
        ).fetchone()
        _fold(conn, read_delivery(str(body)), parse_utc(str(at)))
    attached = conn.execute(
        "SELECT incident_id, payload FROM journal WHERE kind = ? ORDER BY seq",
        (ev.ALERTS_ATTACHED,),
    ).fetchall()
    for incident_id, payload in attached:
        data = json.loads(payload)
        link(conn, data["identities"], data["group_key"], str(incident_id))
    return len(ids)
