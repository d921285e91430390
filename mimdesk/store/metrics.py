"""The metric cache: samples the wall draws, kept in their own SQLite file.

Samples live apart from the incident journal (`cache.sqlite` beside the store), so
the journal never grows with monitoring data and the cache can be deleted at any
time. Nothing in it is needed: a damaged file is set aside, a deleted one started
again, and where no file can be written the samples are kept in memory.

A value is stored as REAL, and its Prometheus spelling as TEXT when it is not
finite, because SQLite binds NaN as NULL (case C01). An empty answer writes nothing
(no synthetic zero, case C04).

A cache is used by one thread at a time: the poller's. Its connection is not shared.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import logging
import math
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from mimdesk.domain.catalogue import Catalogue
from mimdesk.domain.series import Series, parse_value, raw_value
from mimdesk.domain.wall import Cached, Link, SourceState
from mimdesk.store.db import StoreError, connect, wrap

log = logging.getLogger(__name__)

CACHE_FILE = "cache.sqlite"

P = ParamSpec("P")
R = TypeVar("R")

# Bump when the tables change: the cache is then dropped and fetched again.
SCHEMA = 2
_SERIES = """
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY,
    service TEXT NOT NULL,
    metric TEXT NOT NULL,
    labels TEXT NOT NULL,
    UNIQUE (service, metric, labels)
)
"""
# Keyed by a small series id, so each sample row is a few numbers.
_SAMPLES = """
CREATE TABLE IF NOT EXISTS samples (
    series INTEGER NOT NULL,
    t REAL NOT NULL,
    value REAL,
    raw TEXT,
    sample_time REAL,
    PRIMARY KEY (series, t)
) WITHOUT ROWID
"""
_FETCHES = """
CREATE TABLE IF NOT EXISTS fetches (
    service TEXT NOT NULL,
    metric TEXT NOT NULL,
    expr TEXT NOT NULL DEFAULT '',
    last_start REAL,
    last_end REAL,
    fetched_at REAL,
    step INTEGER,
    empty_now INTEGER NOT NULL DEFAULT 0,
    warnings TEXT NOT NULL DEFAULT '[]',
    notes TEXT NOT NULL DEFAULT '[]',
    error TEXT NOT NULL DEFAULT '',
    complete INTEGER NOT NULL DEFAULT 1,
    PRIMARY KEY (service, metric)
)
"""
_SOURCE = """
CREATE TABLE IF NOT EXISTS source (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    name TEXT NOT NULL,
    demo INTEGER NOT NULL,
    link TEXT NOT NULL,
    last_success REAL,
    message TEXT NOT NULL
)
"""


@dataclass(frozen=True)
class FetchState:
    """What the last fetch of one metric covered and how it went."""

    expr: str
    start: float | None
    end: float | None
    fetched_at: float | None
    step: int | None
    # False when the answer came with warnings (partial data, case C07).
    complete: bool
    error: str


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _recovering(
    method: Callable[Concatenate[MetricCache, P], R],
) -> Callable[Concatenate[MetricCache, P], R]:
    """Run a cache method; if SQLite fails, recover (see MetricCache._recover) and
    run it once more on the new file or in memory."""

    def run(self: MetricCache, /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(self, *args, **kwargs)
        except (sqlite3.ProgrammingError, sqlite3.IntegrityError):
            raise  # our own mistake, not the file's
        except sqlite3.DatabaseError as exc:
            if not self._recover(exc):
                raise
        return method(self, *args, **kwargs)

    functools.update_wrapper(run, method)
    return run


class MetricCache:
    """Samples per (service, metric, label set, time), fetch state per metric, and
    the source's last known state. Not thread-safe: one thread uses it.

    The cache never stops the wall: a damaged file is set aside and a new one
    started; where none can be written, samples are kept in memory and `problem`
    says why (for the operator, once)."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        path: Path | None = None,
        *,
        problem: str = "",
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._conn = conn
        self.path = path
        self.problem = problem
        self._clock = clock
        self._identity = _identity(path) if path and not problem else None

    @classmethod
    def open(
        cls, path: Path, *, clock: Callable[[], datetime] = _utc_now
    ) -> MetricCache:
        """Open (or create) the cache file; its folder is created if missing."""
        conn, problem = _open(path, clock)
        return cls(conn, path, problem=problem, clock=clock)

    @property
    def in_memory(self) -> bool:
        return self.path is None or self._identity is None

    def close(self) -> None:
        self._conn.close()

    def check_file(self) -> bool:
        """Start a new file if ours was deleted or replaced while open (the rows
        would go to a file no one can open again); True if it was."""
        if self.in_memory or self.path is None:
            return False
        try:
            now = _identity(self.path)
        except OSError as exc:
            log.warning("metric cache %s cannot be checked: %s", self.path, exc)
            return False
        if now == self._identity:
            return False
        what = "deleted" if now is None else "replaced"
        log.warning("metric cache %s was %s while in use; reopening", self.path, what)
        self._reopen(self.path)
        return True

    def _reopen(self, path: Path) -> None:
        with contextlib.suppress(sqlite3.Error):
            self._conn.close()
        self._conn, self.problem = _open(path, self._clock)
        self._identity = None if self.problem else _identity(path)

    def _recover(self, exc: sqlite3.Error) -> bool:
        """After a failure in use: a damaged file is set aside and a new one
        started, anything else (a full disk) moves the cache to memory. False when
        already in memory (nothing more to try)."""
        if self.in_memory or self.path is None:
            return False
        log.warning("metric cache %s failed in use: %s", self.path, exc)
        with contextlib.suppress(sqlite3.Error):
            self._conn.close()
        if _damaged(exc) and _set_aside(self.path, self._clock()):
            self._reopen(self.path)
        else:
            self._conn, self.problem = _memory(self.path, exc), _why(self.path, exc)
            self._identity = None
        return True

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            # SQLite may have rolled back already (a full disk): keep the cause.
            if self._conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    # --- writing ------------------------------------------------------------

    @_recovering
    def write(
        self,
        service: str,
        metric: str,
        series: Sequence[Series],
        *,
        start: float,
        end: float,
        fetched_at: float,
        expr: str = "",
        step: int | None = None,
        warnings: Sequence[str] = (),
        notes: Sequence[str] = (),
        empty_now: bool | None = None,
    ) -> int:
        """Store one answer for the window [start, end]; returns rows written.

        Points already cached inside the window are replaced by the answer's. An
        empty answer keeps them (the last known value stays shown with its age)
        and marks the metric as having no data now."""
        with self._transaction() as conn:
            rows = []
            if series:
                conn.execute(
                    "DELETE FROM samples WHERE series IN (SELECT id FROM series "
                    "WHERE service = ? AND metric = ?) AND t >= ? AND t <= ?",
                    (service, metric, start, end),
                )
                for one in series:
                    rows += _rows(self._series_id(service, metric, one.labels), one)
                conn.executemany(
                    "INSERT OR REPLACE INTO samples VALUES (?, ?, ?, ?, ?)", rows
                )
            conn.execute(
                "INSERT OR REPLACE INTO fetches VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', ?)",
                (
                    service, metric, expr, start, end, fetched_at, step,
                    int(not rows if empty_now is None else empty_now),
                    json.dumps(list(warnings)),
                    json.dumps(list(notes)), int(not warnings),
                ),
            )  # fmt: skip
        return len(rows)

    def _series_id(
        self, service: str, metric: str, labels: Iterable[tuple[str, str]]
    ) -> int:
        key = _labels_text(labels)
        self._conn.execute(
            "INSERT OR IGNORE INTO series (service, metric, labels) VALUES (?, ?, ?)",
            (service, metric, key),
        )
        row = self._conn.execute(
            "SELECT id FROM series WHERE service = ? AND metric = ? AND labels = ?",
            (service, metric, key),
        ).fetchone()
        return int(row[0])

    @_recovering
    def record_error(self, service: str, metric: str, text: str) -> None:
        """A query problem for this metric alone; its cached samples stay."""
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO fetches (service, metric, error) VALUES (?, ?, ?) "
                "ON CONFLICT (service, metric) DO UPDATE SET error = excluded.error",
                (service, metric, text),
            )

    @_recovering
    def prune(self, before: float) -> int:
        """Drop samples older than `before` (the retention bound); returns how many."""
        with self._transaction() as conn:
            cursor = conn.execute(
                "DELETE FROM samples WHERE series IN (SELECT id FROM series) AND t < ?",
                (before,),
            )
            conn.execute(
                "DELETE FROM series WHERE NOT EXISTS "
                "(SELECT 1 FROM samples WHERE samples.series = series.id)"
            )
        removed = cursor.rowcount
        if removed:
            log.debug("metric cache: pruned %s samples before %s", removed, before)
        return removed

    @_recovering
    def forget(self, service: str, metric: str) -> None:
        """Drop one metric's samples and fetch state (its expression changed)."""
        with self._transaction() as conn:
            conn.execute(
                "DELETE FROM samples WHERE series IN (SELECT id FROM series "
                "WHERE service = ? AND metric = ?)",
                (service, metric),
            )
            for table in ("series", "fetches"):
                conn.execute(
                    f"DELETE FROM {table} WHERE service = ? AND metric = ?",
                    (service, metric),
                )

    @_recovering
    def clear(self) -> None:
        """Forget everything (the wall now reads another source)."""
        with self._transaction() as conn:
            for table in ("samples", "series", "fetches", "source"):
                conn.execute(f"DELETE FROM {table}")

    # --- reading ------------------------------------------------------------

    @_recovering
    def fetch_state(self, service: str, metric: str) -> FetchState | None:
        row = self._conn.execute(
            "SELECT expr, last_start, last_end, fetched_at, step, complete, error "
            "FROM fetches WHERE service = ? AND metric = ?",
            (service, metric),
        ).fetchone()
        if row is None:
            return None
        return FetchState(row[0], row[1], row[2], row[3], row[4], bool(row[5]), row[6])

    def last_end(
        self, service: str, metric: str, expr: str | None = None
    ) -> float | None:
        """Where the last fetch ended; None if never, or if `expr` has changed
        since (the cached samples then answer another question)."""
        state = self.fetch_state(service, metric)
        if state is None or (expr is not None and state.expr != expr):
            return None
        return state.end

    @_recovering
    def read(self, service: str, metric: str, since: float) -> Cached:
        """The metric's series from `since` on, with what the last fetch said."""
        rows = self._conn.execute(
            "SELECT s.labels, p.t, p.value, p.raw, p.sample_time "
            "FROM series s JOIN samples p ON p.series = s.id "
            "WHERE s.service = ? AND s.metric = ? AND p.t >= ? ORDER BY s.id, p.t",
            (service, metric, since),
        ).fetchall()
        series = tuple(_series(rows))
        meta = self._conn.execute(
            "SELECT empty_now, warnings, notes, error FROM fetches "
            "WHERE service = ? AND metric = ?",
            (service, metric),
        ).fetchone()
        if meta is None:
            return Cached(series)
        empty_now, warnings, notes, error = meta
        return Cached(
            series,
            bool(empty_now),
            tuple(json.loads(warnings)),
            error,
            tuple(json.loads(notes)),
        )

    def read_all(
        self, catalogue: Catalogue, since: float
    ) -> dict[str, dict[str, Cached]]:
        """Every catalogue metric's cache entry: {service: {metric: Cached}}."""
        return {
            service.id: {
                m.id: self.read(service.id, m.id, since) for m in service.metrics
            }
            for service in catalogue.monitored
        }

    @_recovering
    def count(self) -> int:
        """How many samples the cache holds."""
        row = self._conn.execute("SELECT count(*) FROM samples").fetchone()
        return int(row[0])

    # --- the source ---------------------------------------------------------

    @_recovering
    def save_source(self, state: SourceState) -> None:
        with self._transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO source VALUES (1, ?, ?, ?, ?, ?)",
                (
                    state.name,
                    int(state.demo),
                    state.link.value,
                    state.last_success,
                    state.message,
                ),
            )

    @_recovering
    def load_source(self) -> SourceState | None:
        row = self._conn.execute(
            "SELECT name, demo, link, last_success, message FROM source"
        ).fetchone()
        if row is None:
            return None
        name, demo, link, last_success, message = row
        try:
            known = Link(link)
        except ValueError:
            known = Link.UNKNOWN
        return SourceState(name, known, bool(demo), last_success, message)


def _open(path: Path, clock: Callable[[], datetime]) -> tuple[sqlite3.Connection, str]:
    """A connection to the cache file, or to memory and why not the file."""
    try:
        try:
            return _connect(path), ""
        except (sqlite3.Error, StoreError) as exc:
            if not _worth_setting_aside(path, exc) or not _set_aside(path, clock()):
                raise
        return _connect(path), ""
    except (OSError, sqlite3.Error, StoreError) as exc:
        return _memory(path, exc), _why(path, exc)


def _connect(path: Path) -> sqlite3.Connection:
    """The cache file, checked and with current tables (a damaged one raises)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    existed = path.exists() and path.stat().st_size > 0
    conn = connect(path)
    try:
        if existed:
            found = conn.execute("PRAGMA quick_check").fetchall()
            if [str(row[0]) for row in found] != ["ok"]:
                raise sqlite3.DatabaseError(
                    f"database disk image is malformed: {found[0][0]}"
                )
        _prepare(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def _prepare(conn: sqlite3.Connection) -> None:
    """Create the tables, dropping those of another version."""
    # Samples can be fetched again: durability of the last commit matters less
    # than for the journal.
    conn.execute("PRAGMA synchronous = NORMAL")
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version != SCHEMA:
        # Written by another version: nothing here that cannot be fetched again.
        for table in ("samples", "series", "fetches", "source"):
            conn.execute(f"DROP TABLE IF EXISTS {table}")
        conn.execute(f"PRAGMA user_version = {SCHEMA}")
    db = wrap(conn)
    for statement in (_SERIES, _SAMPLES, _FETCHES, _SOURCE):
        db.execute(statement)


def _memory(path: Path, exc: BaseException) -> sqlite3.Connection:
    log.warning("metric cache %s cannot be used (%s); keeping it in memory", path, exc)
    conn = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    _prepare(conn)
    return conn


def _why(path: Path, exc: BaseException) -> str:
    return (
        f"the metric cache {path} cannot be used ({exc}), so samples are kept in "
        f"memory for this run: graphs start empty and history is not kept. Free "
        f"space in {path.parent} or make it writable, or choose another data folder "
        "(--data-dir or MIMDESK_DATA_DIR)"
    )


def _damaged(exc: BaseException) -> bool:
    """A file SQLite cannot read as a database (not: full, locked, read-only)."""
    if isinstance(exc, sqlite3.OperationalError):
        return False
    return isinstance(exc, sqlite3.DatabaseError)


def _worth_setting_aside(path: Path, exc: BaseException) -> bool:
    """Whether a new file could do better: the old one is damaged or unreadable,
    and the folder can take a new one."""
    text = str(exc).lower()
    if any(word in text for word in ("locked", "busy", "full", "disk i/o")):
        return False
    if not _damaged(exc) and "unable to open" not in text:
        return False
    return path.is_file() and os.access(path.parent, os.W_OK)


def _set_aside(path: Path, now: datetime) -> Path | None:
    """Rename a damaged cache (and its WAL files) out of the way; where to."""
    aside = path.with_name(f"{path.name}.damaged-{now:%Y%m%dT%H%M%SZ}")
    try:
        path.rename(aside)
    except OSError as exc:
        log.warning("metric cache %s cannot be set aside: %s", path, exc)
        return None
    for suffix in ("-wal", "-shm"):
        companion = path.with_name(path.name + suffix)
        with contextlib.suppress(OSError):
            companion.rename(aside.with_name(aside.name + suffix))
    log.warning("metric cache %s was damaged; set aside as %s", path, aside)
    return aside


def _identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the file, or None if there is none."""
    try:
        found = path.stat()
    except FileNotFoundError:
        return None
    return found.st_dev, found.st_ino


def _labels_text(labels: Iterable[tuple[str, str]]) -> str:
    return json.dumps(sorted(labels), separators=(",", ":"))


def _rows(series_id: int, one: Series) -> list[tuple[object, ...]]:
    """Sample rows; a non-finite value is kept by its spelling (NaN binds as NULL)."""
    finite = math.isfinite
    sample_times = one.sample_times or (None,) * len(one.times)
    return [
        (series_id, t, v, None, s)
        if finite(v)
        else (series_id, t, None, raw_value(v), s)
        for t, v, s in zip(one.times, one.values, sample_times, strict=True)
    ]


def _series(rows: Sequence[Sequence[Any]]) -> Iterator[Series]:
    """Series from rows ordered by series, then time."""
    for key, group in itertools.groupby(rows, key=lambda row: row[0]):
        _, times, values, raws, sampled = zip(*group, strict=True)
        labels = tuple((str(k), str(v)) for k, v in json.loads(key))
        yield Series(
            labels,
            times,
            tuple(
                _value(v, r) if r is not None or v is None else v
                for v, r in zip(values, raws, strict=True)
            ),
            sampled,
        )


def _value(value: object, raw: object) -> float:
    if raw is not None:
        return parse_value(raw)
    if isinstance(value, (int, float)):
        return float(value)
    # NULL with no spelling: written by something else; not a number, not zero.
    return math.nan
