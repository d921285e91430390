"""Rolling backups taken with SQLite's online backup API, and restoring one."""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mimdesk.store.db import StoreError, quick_check
from mimdesk.store.lock import StoreLock

log = logging.getLogger(__name__)

KEEP = 48
INTERVAL = timedelta(minutes=60)
_PATTERN = "mimdesk-*.sqlite"


def list_backups(folder: Path) -> list[Path]:
    """Backups in `folder`, oldest first (names sort by time)."""
    return sorted(folder.glob(_PATTERN)) if folder.is_dir() else []


def latest_backup(folder: Path) -> Path | None:
    backups = list_backups(folder)
    return backups[-1] if backups else None


def backup_due(folder: Path, now: datetime) -> bool:
    latest = latest_backup(folder)
    if latest is None:
        return True
    try:
        stamp = datetime.strptime(
            latest.stem.removeprefix("mimdesk-"), "%Y%m%dT%H%M%S%z"
        )
    except ValueError:
        return True  # a file named by hand: take a proper backup beside it
    return now - stamp >= INTERVAL


def write_backup(
    conn: sqlite3.Connection, folder: Path, now: datetime, keep: int = KEEP
) -> Path:
    """Copy the live database to `folder` consistently, then prune old copies."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = now.astimezone(UTC)
    target = folder / f"mimdesk-{stamp:%Y%m%dT%H%M%S}+0000.sqlite"
    partial = target.with_suffix(".partial")
    try:
        dest = sqlite3.connect(partial)
        try:
            conn.backup(dest)
        finally:
            dest.close()
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)  # a failed copy leaves nothing behind
    for old in list_backups(folder)[:-keep]:
        old.unlink(missing_ok=True)
    log.info("backup written to %s", target)
    return target


def _check_restorable(backup: Path, live: Path) -> None:
    """Refuse anything that is not a sound MIMDesk store distinct from the live one."""
    if not backup.is_file():
        raise StoreError(f"{backup}: no such backup file")
    if live.exists() and backup.resolve() == live.resolve():
        raise StoreError(f"{backup} is the live store itself; choose a backup")
    problems = quick_check(backup)
    if problems:
        raise StoreError(f"{backup} is damaged too: {problems[0]}")
    conn = sqlite3.connect(f"{backup.resolve().as_uri()}?mode=ro", uri=True)
    try:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    finally:
        conn.close()
    if version < 1 or not {"journal", "incidents", "meta"} <= tables:
        raise StoreError(f"{backup} is not a MIMDesk store; nothing was changed")


def _unused_name(live: Path, now: datetime) -> Path:
    stamp = now.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    for attempt in range(1000):
        tail = f"-{attempt}" if attempt else ""
        aside = live.with_name(f"{live.stem}-replaced-{stamp}{tail}{live.suffix}")
        if not any(Path(f"{aside}{s}").exists() for s in ("", "-wal", "-shm")):
            return aside
    raise StoreError(f"too many replaced copies beside {live}; clean some up")


def restore(backup: Path, live: Path, now: datetime) -> Path:
    """Put `backup` in place of `live`, keeping the old file (and its WAL) aside.

    Refused while any MIMDesk has the store open. The backup is copied next to
    the store first, so a failure part-way leaves the live store where it was.
    Returns where the previous store was moved.
    """
    _check_restorable(backup, live)
    lock = StoreLock(live)
    lock.exclusive()
    try:
        incoming = live.with_name(f".{live.name}.restoring")
        shutil.copy2(backup, incoming)
        with incoming.open("rb+") as handle:
            os.fsync(handle.fileno())
        aside = _unused_name(live, now)
        for suffix in ("", "-wal", "-shm"):
            current = Path(f"{live}{suffix}")
            if current.exists():
                current.replace(Path(f"{aside}{suffix}"))
        incoming.replace(live)
    finally:
        lock.release()
    log.warning(
        "store %s restored from %s; previous file kept as %s", live, backup, aside
    )
    return aside


def readonly_copy(live: Path, folder: Path, now: datetime) -> Path:
    """Copy a damaged store (with its WAL) so it can be read without touching it.

    One copy per state of the damaged file: reading it again reuses the copy.
    """
    state = live.stat()
    target_dir = folder / f"damaged-{state.st_mtime_ns}-{state.st_size}"
    copy = target_dir / live.name
    if copy.exists():
        return copy
    target_dir.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal"):
        source = Path(f"{live}{suffix}")
        if source.exists():
            shutil.copy2(source, Path(f"{copy}{suffix}"))
    log.warning("damaged store %s copied to %s for reading (%s)", live, copy, now)
    return copy
