"""Schema migrations, run in order at start-up; PRAGMA user_version counts them."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from mimdesk.store.db import StoreError, wrap


def _v1(conn: sqlite3.Connection) -> None:
    db = wrap(conn)
    db.table("meta").create({"key": str, "value": str}, pk="key", not_null={"value"})
    db.table("journal").create(
        {
            "seq": int,
            "id": str,
            "incident_id": str,
            "incident_seq": int,
            "kind": str,
            "payload": str,
            "actor": str,
            "occurred_at": str,
            "typed_offset": str,
            "recorded_at": str,
            "seat": str,
            "prev_hash": str,
            "hash": str,
        },
        pk="seq",
        not_null={
            "id", "incident_id", "incident_seq", "kind", "payload", "actor",
            "occurred_at", "recorded_at", "seat", "prev_hash", "hash",
        },
    )  # fmt: skip
    db.table("journal").create_index(["id"], unique=True)
    db.table("journal").create_index(["incident_id", "incident_seq"], unique=True)
    for action in ("UPDATE", "DELETE"):
        conn.execute(
            f"CREATE TRIGGER journal_no_{action.lower()} BEFORE {action} ON journal "
            "BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END"
        )
    db.table("incidents").create(
        {
            "id": str,
            "title": str,
            "severity": int,
            "status": str,
            "is_open": int,
            "demo": int,
            "detected_at": str,
            "updated_at": str,
            "last_seq": int,
            "state": str,
        },
        pk="id",
        not_null={"title", "severity", "status", "is_open", "demo", "state"},
    )


def _v2(conn: sqlite3.Connection) -> None:
    """Alerts: the raw spool of every delivery, and the records folded from it."""
    db = wrap(conn)
    db.table("alert_deliveries").create(
        {
            "id": int,
            "received_at": str,
            "source": str,
            "body": str,
            "processed": int,
            "error": str,
        },
        pk="id",
        not_null={"received_at", "source", "body", "processed"},
        defaults={"processed": 0},
    )
    conn.execute(
        "CREATE INDEX alert_deliveries_pending ON alert_deliveries (id)"
        " WHERE processed = 0"
    )
    db.table("alerts").create(
        {
            "identity": str,
            "record": str,
            "status": str,
            "group_key": str,
            "starts_at": str,
            "last_seen": str,
            "incident_id": str,
        },
        pk="identity",
        not_null={"record", "status", "group_key", "starts_at", "last_seen"},
    )
    db.table("alerts").create_index(["group_key"])
    db.table("alerts").create_index(["incident_id"])


def _v3(conn: sqlite3.Connection) -> None:
    """Chat: the outbox, its attempts, the incidents' channels, read positions."""
    db = wrap(conn)
    db.table("outbox").create(
        {
            "id": int,
            "created_at": str,
            "incident_id": str,
            "platform": str,
            "kind": str,
            "payload": str,
            "txn_id": str,
            "state": str,
            "attempts": int,
            "next_attempt_at": str,
            "last_error": str,
            "remote_id": str,
            "delivered_at": str,
            "event_id": str,
        },
        pk="id",
        not_null={
            "created_at", "incident_id", "platform", "kind", "payload", "txn_id",
            "state", "attempts", "last_error", "remote_id", "event_id",
        },
        defaults={"attempts": 0, "last_error": "", "remote_id": ""},
    )  # fmt: skip
    db.table("outbox").create_index(["txn_id"], unique=True)
    conn.execute(
        "CREATE INDEX outbox_open ON outbox (id)"
        " WHERE state NOT IN ('delivered', 'cancelled')"
    )
    db.table("outbox_attempts").create(
        {"id": int, "outbox_id": int, "at": str, "outcome": str, "detail": str},
        pk="id",
        not_null={"outbox_id", "at", "outcome", "detail"},
        foreign_keys=[("outbox_id", "outbox", "id")],
    )
    db.table("outbox_attempts").create_index(["outbox_id"])
    db.table("chat_channels").create(
        {"incident_id": str, "platform": str, "channel": str, "opened_at": str},
        pk=("incident_id", "platform"),
        not_null={"channel", "opened_at"},
    )
    db.table("chat_channels").create_index(["platform", "channel"], unique=True)
    db.table("chat_positions").create(
        {"platform": str, "position": str, "saved_at": str},
        pk="platform",
        not_null={"position", "saved_at"},
    )
    db.table("chat_seen").create(
        {"platform": str, "remote_id": str, "incident_id": str, "event_id": str},
        pk=("platform", "remote_id"),
        not_null={"incident_id"},
    )


def _v4(conn: sqlite3.Connection) -> None:
    """Stakeholder updates: a row's lane (its audience) is part of its
    destination, so one audience's failed delivery holds back no other."""
    conn.execute("ALTER TABLE outbox ADD COLUMN lane TEXT NOT NULL DEFAULT ''")


def _v5(conn: sqlite3.Connection) -> None:
    """A row being sent says so (and since when), so a sender that dies
    mid-send leaves a mark: the next one looks before sending again, or asks
    the operator, instead of sending twice; two senders never take one row."""
    conn.execute("ALTER TABLE outbox ADD COLUMN sending_since TEXT")


def _v6(conn: sqlite3.Connection) -> None:
    """Seats share incidents: events carry a clock stamp, two seats may give an
    event the same number on one incident, and each seat's chain is found by
    incident and seat. What was published to other seats, who was heard from
    and what was refused are kept, so a restart publishes nothing twice."""
    conn.execute("ALTER TABLE journal ADD COLUMN hlc TEXT")
    conn.execute("DROP INDEX IF EXISTS idx_journal_incident_id_incident_seq")
    conn.execute("CREATE INDEX journal_incident ON journal (incident_id, incident_seq)")
    # An incident's newest events first: its last event (the state cache's
    # check) and the last one this seat recorded there (what it chains to).
    conn.execute("CREATE INDEX journal_recent ON journal (incident_id, seq)")
    conn.execute("CREATE INDEX journal_hlc ON journal (hlc) WHERE hlc IS NOT NULL")
    db = wrap(conn)
    db.table("seats").create(
        {"seat": str, "account": str, "last_heard_at": str, "events": int},
        pk="seat",
        not_null={"last_heard_at", "events"},
        defaults={"events": 0},
    )
    db.table("published").create(
        {"event_id": str, "room": str, "remote_id": str, "published_at": str},
        pk="event_id",
        not_null={"room", "published_at"},
    )
    db.table("refused_events").create(
        {"remote_id": str, "room": str, "sender": str, "reason": str, "at": str},
        pk="remote_id",
        not_null={"reason", "at"},
    )


MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (
    _v1, _v2, _v3, _v4, _v5, _v6,
)  # fmt: skip
LATEST = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema up to date in one write transaction.

    The version is read inside the transaction, so two processes opening a new
    store at once cannot both try to create it.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version > LATEST:
            raise StoreError(
                f"this store was written by a newer MIMDesk (schema {version}, this "
                f"version knows up to {LATEST}); upgrade MIMDesk to open it"
            )
        for number in range(version + 1, LATEST + 1):
            MIGRATIONS[number - 1](conn)
            conn.execute(f"PRAGMA user_version = {number}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return LATEST
