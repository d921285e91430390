"""Rolling backups taken with SQLite's online backup API, and restoring one."""

from __future__ import annotations

import logging
import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from mimdesk.store.db import StoreError, quick_check

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
    stamp = datetime.strptime(latest.stem.removeprefix("mimdesk-"), "%Y%m%dT%H%M%S%z")
    return now - stamp >= INTERVAL


def write_backup(
    conn: sqlite3.Connection, folder: Path, now: datetime, keep: int = KEEP
) -> Path:
    """Copy the live database to `folder` consistently, then prune old copies."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = now.astimezone(UTC)
    target = folder / f"mimdesk-{stamp:%Y%m%dT%H%M%S}+0000.sqlite"
    partial = target.with_suffix(".partial")
    dest = sqlite3.connect(partial)
    try:
        conn.backup(dest)
    finally:
        dest.close()
    partial.replace(target)
    for old in list_backups(folder)[:-keep]:
        old.unlink(missing_ok=True)
    log.info("backup written to %s", target)
    return target


def restore(backup: Path, live: Path, now: datetime) -> Path:
    """Put `backup` in place of `live`, keeping the old file (and its WAL) aside.

    Returns where the previous store was moved. Call only with the store closed.
    """
    problems = quick_check(backup)
    if problems:
        raise StoreError(f"{backup} is damaged too: {problems[0]}")
    aside = live.with_name(f"{live.stem}-replaced-{now:%Y%m%dT%H%M%SZ}{live.suffix}")
    for suffix in ("", "-wal", "-shm"):
        current = Path(f"{live}{suffix}")
        if current.exists():
            current.replace(Path(f"{aside}{suffix}"))
    shutil.copy2(backup, live)
    log.warning(
        "store %s restored from %s; previous file kept as %s", live, backup, aside
    )
    return aside


def readonly_copy(live: Path, folder: Path, now: datetime) -> Path:
    """Copy a damaged store (with its WAL) so it can be read without touching it."""
    target_dir = folder / f"damaged-{now:%Y%m%dT%H%M%SZ}"
    target_dir.mkdir(parents=True, exist_ok=True)
    copy = target_dir / live.name
    for suffix in ("", "-wal"):
        source = Path(f"{live}{suffix}")
        if source.exists():
            shutil.copy2(source, Path(f"{copy}{suffix}"))
    return copy
