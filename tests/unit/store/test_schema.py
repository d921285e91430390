"""The store's schema and connection settings, and refusing a newer schema."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from mimdesk.store import schema
from mimdesk.store.db import StoreError
from mimdesk.store.store import Store


def writer_pragma(store: Store, name: str) -> object:
    """A PRAGMA as the store's writer connection sees it."""
    job = store.submit(
        lambda conn: conn.execute(f"PRAGMA {name}").fetchone()[0], transaction=False
    )
    return job.result()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("journal_mode", "wal"),
        ("synchronous", 2),  # FULL: every committed event survives a power cut
        ("foreign_keys", 1),
        ("busy_timeout", 5000),
    ],
)
def test_the_writer_connection_is_durable(
    store: Store, name: str, value: object
) -> None:
    assert writer_pragma(store, name) == value


def test_journal_columns_have_explicit_types(
    store: Store, raw: sqlite3.Connection
) -> None:
    columns = {
        row[1]: (row[2], bool(row[3]))
        for row in raw.execute("PRAGMA table_info(journal)")
    }

    text, integer = ("TEXT", True), ("INTEGER", True)
    assert columns == {
        "seq": ("INTEGER", False),  # the rowid primary key
        "id": text,
        "incident_id": text,
        "incident_seq": integer,
        "kind": text,
        "payload": text,
        "actor": text,
        "occurred_at": text,
        "typed_offset": ("TEXT", False),  # None when no offset was typed
        "recorded_at": text,
        "seat": text,
        "prev_hash": text,
        "hash": text,
        "hlc": ("TEXT", False),  # None on events from before seats shared
    }


def test_a_store_from_a_newer_version_is_refused(store_path: Path) -> None:
    Store.open(store_path).close()
    conn = sqlite3.connect(store_path)
    conn.execute(f"PRAGMA user_version = {schema.LATEST + 1}")
    conn.close()

    with pytest.raises(StoreError) as refused:
        Store.open(store_path)

    assert str(refused.value) == (
        f"this store was written by a newer MIMDesk (schema {schema.LATEST + 1}, "
        f"this version knows up to {schema.LATEST}); upgrade MIMDesk to open it"
    )
    conn = sqlite3.connect(store_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.LATEST + 1
    conn.close()
