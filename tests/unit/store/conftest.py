"""Fixtures for store tests: a real store file in a temporary folder."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from mimdesk.store.store import Store


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "mimdesk.sqlite"


@pytest.fixture
def store(store_path: Path) -> Iterator[Store]:
    opened = Store.open(store_path)
    yield opened
    opened.close()


@pytest.fixture
def incident_id(store: Store) -> str:
    return store.declare(
        title="Card payments failing",
        severity=1,
        services=["payments-api"],
        detected_at=None,
        actor="dana",
    ).result()


@pytest.fixture
def raw(store_path: Path, store: Store) -> Iterator[sqlite3.Connection]:
    """A plain connection beside the store's own, as someone tampering would use."""
    conn = sqlite3.connect(store_path, isolation_level=None)
    yield conn
    conn.close()
