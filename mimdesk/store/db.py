"""Opening SQLite connections with the settings the journal's durability needs."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlite_utils
import tenacity

BUSY_TIMEOUT_MS = 5000


class StoreError(RuntimeError):
    """The store cannot do what was asked; the message says what to do."""


class StoreReadOnly(StoreError):
    """A write was attempted on a store opened read-only (e.g. a damaged one)."""


def _ro_uri(path: Path, immutable: bool) -> str:
    flags = "mode=ro&immutable=1" if immutable else "mode=ro"
    return f"{path.resolve().as_uri()}?{flags}"


def connect(
    path: Path, *, read_only: bool = False, immutable: bool = False
) -> sqlite3.Connection:
    """A connection in autocommit mode; transactions are begun explicitly.

    WAL lets readers go on while the writer commits; synchronous=FULL makes every
    committed journal event survive a power cut; foreign keys are on.
    `immutable` reads a file that nothing can change (a read-only filesystem).
    """
    if read_only:
        uri = _ro_uri(path, immutable)
        conn = sqlite3.connect(
            uri, uri=True, isolation_level=None, check_same_thread=False
        )
    else:
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        if not read_only:
            mode = _switch_to_wal(conn)
            if mode.lower() != "wal":
                raise StoreError(f"{path}: cannot switch to WAL mode (got {mode})")
            conn.execute("PRAGMA synchronous = FULL")
    except BaseException:
        conn.close()
        raise
    return conn


def _locked(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


def _switch_to_wal(conn: sqlite3.Connection) -> str:
    """Switch a new file to WAL. Several processes creating the same new store
    at once race for it, and SQLite answers "database is locked" at once
    there, without waiting as busy_timeout does elsewhere: wait here too."""
    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception(_locked),
        stop=tenacity.stop_after_delay(BUSY_TIMEOUT_MS / 1000),
        wait=tenacity.wait_random(0.01, 0.05),
        reraise=True,
    )
    for attempt in retrying:
        with attempt:
            return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
    raise AssertionError("unreachable: tenacity reraises")


def wrap(conn: sqlite3.Connection) -> sqlite_utils.Database:
    return sqlite_utils.Database(conn)


def quick_check(path: Path, *, immutable: bool = False) -> list[str]:
    """Problems `PRAGMA quick_check` finds; an empty list means the file is sound.

    A file that cannot be opened at all (a read-only folder, a lock held by
    another program) is not damaged: that raises StoreError instead.
    """
    try:
        conn = sqlite3.connect(_ro_uri(path, immutable), uri=True)
        try:
            rows = conn.execute("PRAGMA quick_check").fetchall()
        finally:
            conn.close()
    except sqlite3.OperationalError as exc:
        if "malformed" in str(exc) or "not a database" in str(exc):
            return [str(exc)]
        raise StoreError(
            f"cannot open {path}: {exc} (is its folder read-only, or is another "
            "program holding the file?)"
        ) from exc
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    messages = [str(row[0]) for row in rows]
    return [] if messages == ["ok"] else messages
