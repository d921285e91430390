"""The metric cache: its own file, special floats kept, no synthetic zeros."""

from __future__ import annotations

import math
import os
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mimdesk.domain.catalogue import Catalogue, Metric, Service
from mimdesk.domain.series import Series
from mimdesk.domain.wall import Link, SourceState
from mimdesk.store.metrics import CACHE_FILE, MetricCache
from mimdesk.store.store import Store

from ..cases import matrix, vector

Case = Callable[[str], dict[str, Any]]
T0 = 1_700_000_000.0


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[MetricCache]:
    opened = MetricCache.open(tmp_path / "data" / CACHE_FILE)
    yield opened
    opened.close()


def series(*points: tuple[float, float], labels: str = "a") -> Series:
    times = tuple(t for t, _ in points)
    values = tuple(v for _, v in points)
    return Series((("instance", labels),), times, values, tuple(times))


def write(cache: MetricCache, found: tuple[Series, ...], start: float, end: float,
          **extra: Any) -> int:  # fmt: skip
    return cache.write("svc", "m", found, start=start, end=end, fetched_at=end, **extra)


def test_c01_nan_and_infinities_survive_storage(
    cache: MetricCache, load_case: Case
) -> None:
    found = matrix(load_case("C01")["response"]["body"])

    write(cache, found, T0, T0 + 60)
    (back,) = cache.read("svc", "m", since=0).series

    assert back.times == found[0].times
    assert back.values[0] == 1.5
    assert back.values[4] == 0.0
    assert math.isnan(back.values[1])
    assert back.values[2:4] == (math.inf, -math.inf)


def test_c01_sqlite_itself_would_have_lost_nan(tmp_path: Path) -> None:
    # Why the raw column exists: SQLite stores a bound NaN as NULL.
    conn = sqlite3.connect(tmp_path / "x.sqlite")
    conn.execute("CREATE TABLE t (v REAL)")
    conn.execute("INSERT INTO t VALUES (?)", (math.nan,))
    assert conn.execute("SELECT v FROM t").fetchone() == (None,)
    conn.close()


def test_c04_an_empty_answer_writes_no_rows_and_keeps_the_last_value(
    cache: MetricCache, load_case: Case
) -> None:
    case = load_case("C04")
    last = case["context"]["last_known"]
    write(cache, (series((last["ts"], last["value"])),), last["ts"] - 60, last["ts"])

    rows = write(cache, vector(case["response"]["body"]), last["ts"] - 30, case["now"])

    assert rows == case["expected"]["history_rows_written"]
    cached = cache.read("svc", "m", since=0)
    assert cached.empty_now is True
    assert cached.error == ""
    assert cached.series[0].last() == (last["ts"], last["value"])
    assert cache.count() == 1


def test_c05_sample_times_are_kept_per_point(cache: MetricCache) -> None:
    found = Series((("instance", "a"),), (T0, T0 + 15), (1.0, 1.0), (T0, T0))

    write(cache, (found,), T0, T0 + 15)

    assert cache.read("svc", "m", since=0).series[0].sample_times == (T0, T0)


def test_c07_warnings_are_kept_and_the_entry_is_not_complete(
    cache: MetricCache, load_case: Case
) -> None:
    case = load_case("C07")
    body = case["response"]["body"]

    write(cache, vector(body), T0, T0, warnings=body["warnings"])

    cached = cache.read("svc", "m", since=0)
    assert cached.series[0].values == (case["expected"]["rendered_value"],)
    assert list(cached.warnings) == case["expected"]["badge_detail"]
    state = cache.fetch_state("svc", "m")
    assert state is not None
    assert state.complete is case["expected"]["cache_complete"]


def test_a_new_answer_replaces_the_points_inside_its_window(cache: MetricCache) -> None:
    write(cache, (series((T0, 1.0), (T0 + 15, 2.0), (T0 + 30, 3.0)),), T0, T0 + 30)

    write(cache, (series((T0 + 30, 30.0), (T0 + 45, 4.0)),), T0 + 15, T0 + 45)

    (back,) = cache.read("svc", "m", since=0).series
    assert back.times == (T0, T0 + 30, T0 + 45)
    assert back.values == (1.0, 30.0, 4.0)


def test_series_are_kept_apart_by_their_labels(cache: MetricCache) -> None:
    found = (series((T0, 1.0), labels="a"), series((T0, 0.0), labels="b"))

    write(cache, found, T0, T0)

    back = cache.read("svc", "m", since=0).series
    assert [(s.labels, s.values) for s in back] == [
        ((("instance", "a"),), (1.0,)),
        ((("instance", "b"),), (0.0,)),
    ]


def test_an_error_shows_on_the_metric_and_the_data_stays(cache: MetricCache) -> None:
    write(cache, (series((T0, 1.0)),), T0, T0, expr="up")

    cache.record_error("svc", "m", "bad query: parse error")

    cached = cache.read("svc", "m", since=0)
    assert cached.error == "bad query: parse error"
    assert cached.series[0].values == (1.0,)
    assert cache.last_end("svc", "m", "up") == T0
    write(cache, (series((T0 + 15, 1.0)),), T0 + 15, T0 + 15, expr="up")
    assert cache.read("svc", "m", since=0).error == ""


def test_last_end_is_forgotten_when_the_expression_changes(cache: MetricCache) -> None:
    write(cache, (series((T0, 1.0)),), T0, T0 + 15, expr="up")

    assert cache.last_end("svc", "m", "up") == T0 + 15
    assert cache.last_end("svc", "m", "up == 1") is None
    assert cache.last_end("svc", "other") is None


def test_prune_drops_only_what_is_older_than_the_bound(cache: MetricCache) -> None:
    write(cache, (series((T0, 1.0), (T0 + 15, 2.0), (T0 + 30, 3.0)),), T0, T0 + 30)

    removed = cache.prune(before=T0 + 15)

    assert removed == 1
    assert cache.read("svc", "m", since=0).series[0].times == (T0 + 15, T0 + 30)


def test_read_all_follows_the_catalogue(cache: MetricCache) -> None:
    write(cache, (series((T0, 1.0)),), T0, T0)
    catalogue = Catalogue(
        (Service("svc", "S", metrics=(Metric("m", "M", "up"), Metric("n", "N", "x"))),)
    )

    everything = cache.read_all(catalogue, since=T0)

    assert list(everything) == ["svc"]
    assert everything["svc"]["m"].series[0].values == (1.0,)
    assert everything["svc"]["n"].series == ()


def test_source_state_and_data_survive_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / CACHE_FILE
    first = MetricCache.open(path)
    write(first, (series((T0, 1.0)),), T0, T0)
    state = SourceState("http://prom:9090", Link.CONNECTED, False, T0, "")
    first.save_source(state)
    first.close()

    again = MetricCache.open(path)
    try:
        assert again.load_source() == state
        assert again.read("svc", "m", since=0).series[0].values == (1.0,)
    finally:
        again.close()


def test_the_cache_is_a_file_of_its_own_beside_the_store(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "mimdesk.sqlite")
    store.close()
    cache = MetricCache.open(tmp_path / CACHE_FILE)
    write(cache, (series(*((T0 + i, 1.0) for i in range(100))),), T0, T0 + 100)
    cache.close()

    conn = sqlite3.connect(tmp_path / "mimdesk.sqlite")
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    assert "samples" not in tables
    conn = sqlite3.connect(tmp_path / CACHE_FILE)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    conn.close()


def test_clear_forgets_everything(cache: MetricCache) -> None:
    write(cache, (series((T0, 1.0)),), T0, T0)
    cache.save_source(SourceState("DEMO", Link.CONNECTED, True, T0))

    cache.clear()

    assert (cache.count(), cache.load_source(), cache.last_end("svc", "m")) == (
        0, None, None,
    )  # fmt: skip


# --- a damaged, unwritable or vanished cache (defects A, B, J) ---------------

AT = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


def fixed_clock() -> datetime:
    return AT


def test_a_file_of_random_bytes_is_set_aside(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / CACHE_FILE
    path.write_bytes(os.urandom(8192))

    cache = MetricCache.open(path, clock=fixed_clock)
    write(cache, (series((T0, 1.0)),), T0, T0)

    assert cache.problem == ""
    assert cache.count() == 1
    aside = tmp_path / "cache.sqlite.damaged-20260304T050607Z"
    assert aside.exists()
    assert f"set aside as {aside}" in caplog.text
    cache.close()


def test_a_file_damaged_past_its_header_is_set_aside(tmp_path: Path) -> None:
    path = tmp_path / CACHE_FILE
    cache = MetricCache.open(path)
    points = [(T0 + i, float(i)) for i in range(5000)]
    write(cache, (series(*points),), T0, T0 + 5000)
    cache.close()
    damaged = bytearray(path.read_bytes())
    damaged[3 * 4096 : 4 * 4096] = b"\xff" * 4096
    path.write_bytes(bytes(damaged))

    cache = MetricCache.open(path, clock=fixed_clock)

    assert cache.count() == 0  # a new, empty cache: fetched again
    assert (tmp_path / "cache.sqlite.damaged-20260304T050607Z").exists()
    cache.close()


def test_a_folder_that_cannot_be_written_keeps_the_cache_in_memory(
    tmp_path: Path,
) -> None:
    plain = tmp_path / "plain-file"
    plain.write_text("", encoding="utf-8")
    path = plain / "data" / CACHE_FILE

    cache = MetricCache.open(path)
    write(cache, (series((T0, 1.0)),), T0, T0)

    assert cache.in_memory
    assert cache.read("svc", "m", since=0).series[0].values == (1.0,)
    assert cache.problem.startswith(f"the metric cache {path} cannot be used (")
    assert "kept in memory for this run" in cache.problem
    cache.close()


class FullDisk:
    """A connection whose writes fail as SQLite's do on a full disk."""

    in_transaction = False

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        if sql.startswith("BEGIN"):
            raise sqlite3.OperationalError("database or disk is full")
        return self._conn.execute(sql, *args)

    def close(self) -> None:
        self._conn.close()


def test_a_full_disk_in_use_moves_the_cache_to_memory(cache: MetricCache) -> None:
    cache._conn = FullDisk(cache._conn)  # type: ignore[assignment]

    write(cache, (series((T0, 2.0)),), T0, T0)

    assert cache.in_memory
    assert "(database or disk is full)" in cache.problem
    assert f"Free space in {cache.path.parent}" in cache.problem  # type: ignore[union-attr]
    assert cache.read("svc", "m", since=0).series[0].values == (2.0,)


def test_a_cache_deleted_in_use_is_started_again_and_kept(tmp_path: Path) -> None:
    path = tmp_path / CACHE_FILE
    cache = MetricCache.open(path)
    write(cache, (series((T0, 1.0)),), T0, T0)
    path.unlink()

    assert cache.check_file() is True
    write(cache, (series((T0 + 60, 2.0)),), T0 + 60, T0 + 60)
    cache.close()

    again = MetricCache.open(path)  # the next start finds what came after
    assert again.read("svc", "m", since=0).series[0].values == (2.0,)
    again.close()


def test_check_file_leaves_a_cache_in_place_alone(cache: MetricCache) -> None:
    write(cache, (series((T0, 1.0)),), T0, T0)

    assert cache.check_file() is False
    assert cache.count() == 1
