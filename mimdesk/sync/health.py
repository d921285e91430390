"""The health poller: pulls each catalogue metric into the metric cache and builds
the wall's state from it, so the wall survives restarts and lost connections.

Each refresh asks only for what is new since the last one (plus a small overlap),
on instants aligned to the step, and a companion `timestamp(...)` query tells which
points merely repeat an old sample (case C05). A failing query marks its metric
only; a source that cannot be reached marks every tile UNREACHABLE and keeps the
last data on show.
"""

from __future__ import annotations

import bisect
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from mimdesk.connectors.errors import (
    AuthFailed,
    Permanent,
    TimedOut,
    Transient,
    Unreachable,
)
from mimdesk.domain.catalogue import Catalogue, Metric, WallConfig
from mimdesk.domain.series import Series, align, break_gaps, choose_step
from mimdesk.domain.wall import Cached, Link, SourceState, WallState, build_wall
from mimdesk.settings import Settings
from mimdesk.store.metrics import CACHE_FILE, MetricCache
from mimdesk.sync.catalogue_watch import CatalogueWatch
from mimdesk.sync.sources import Source, choose_source, is_demo, source_name
from mimdesk.sync.worker import join_worker

log = logging.getLogger(__name__)

# Steps fetched again before the last end: the newest points may have been
# computed before every scrape of that instant had arrived.
OVERLAP_STEPS = 2
# After an answer with warnings (partial data), ask for this much again.
PARTIAL_REFETCH_S = 600.0
# "Ask again later" answers in a row, with nothing answered yet, that end a round
# early: the server is down behind a proxy, and each try waits for back-off.
TRANSIENT_LIMIT = 2

Mirror = dict[str, dict[str, Cached]]


@dataclass(frozen=True)
class _Fetched:
    """One metric's answer in one refresh."""

    series: tuple[Series, ...]
    start: float
    end: float
    step: int
    warnings: tuple[str, ...]
    notes: tuple[str, ...]
    empty_now: bool = False


@dataclass
class _Round:
    """What one refresh did."""

    touched: set[tuple[str, str]] = field(default_factory=set)
    link: Link = Link.CONNECTED
    message: str = ""
    successes: int = 0
    failures: int = 0
    transients: int = 0
    end: float | None = None
    # What each metric's answer was, to splice into the mirror without a re-read.
    fetched: dict[tuple[str, str], _Fetched] = field(default_factory=dict)

    def fail(self, link: Link, message: str) -> _Round:
        self.link, self.message = link, message
        return self


class HealthPoller:
    """Keeps the cache and an in-memory copy of it (the mirror) for one source and
    catalogue. `refresh()` runs on one worker thread; `state()` may be called from
    any thread and never touches the network or SQLite."""

    def __init__(
        self,
        source: Source,
        catalogue: Catalogue,
        cache: MetricCache,
        *,
        now: Callable[[], float] = time.time,
        history_hours: float | None = None,
    ) -> None:
        self._source = source
        self._cache = cache
        self._now = now
        self._history_hours = history_hours
        self._lock = threading.Lock()
        self._catalogue = catalogue
        self._no_timestamps: set[str] = set()
        # Shown on the wall while the catalogue file on disk cannot be used.
        self.catalogue_problem = ""
        # The mirror's series before gaps are broken, for splicing in new answers.
        self._raw: dict[tuple[str, str], tuple[Series, ...]] = {}
        # (end of the newest fetched window, seconds it may lag behind now)
        self._fresh: tuple[float, float] | None = None
        self._source_state = self._resume(source_name(source), is_demo(source))
        self._mirror: Mirror = self._load(catalogue, self._now())

    @property
    def source(self) -> Source:
        return self._source

    @property
    def catalogue(self) -> Catalogue:
        with self._lock:
            return self._catalogue

    def set_catalogue(self, catalogue: Catalogue) -> None:
        """Use a new catalogue from the next refresh on (new metrics show NO DATA
        until then)."""
        with self._lock:
            self._catalogue = catalogue

    def close(self) -> None:
        self._cache.close()
        self._source.close()

    # --- reading --------------------------------------------------------------

    def state(self) -> WallState:
        """The wall now, from the mirror."""
        now = self._now()
        with self._lock:
            catalogue, mirror = self._catalogue, self._mirror
            source, fresh = self._source_state, self._fresh
        as_of = _as_of(now, source, fresh)
        source = replace(source, catalogue_problem=self.catalogue_problem)
        wall = build_wall(catalogue, mirror, source=source, now=as_of)
        return replace(wall, now=now)

    def _resume(self, name: str, demo: bool) -> SourceState:
        """The source as the cache last knew it; data of another source is dropped
        (DEMO samples must never show on a real wall)."""
        saved = self._cache.load_source()
        if saved is not None and saved.name != name:
            log.info("metric cache held data of %s; cleared for %s", saved.name, name)
            self._cache.clear()
            saved = None
        if saved is None:
            return SourceState(name, Link.UNKNOWN, demo)
        return SourceState(name, Link.UNKNOWN, demo, saved.last_success, saved.message)

    def _load(self, catalogue: Catalogue, now: float) -> Mirror:
        since = now - self._history_s(catalogue.wall)
        return {
            s.id: {m.id: self._read(s.id, m, catalogue.wall, since) for m in s.metrics}
            for s in catalogue.monitored
        }

    def _read(
        self, service_id: str, metric: Metric, wall: WallConfig, since: float
    ) -> Cached:
        cached = self._cache.read(service_id, metric.id, since)
        self._raw[service_id, metric.id] = cached.series
        state = self._cache.fetch_state(service_id, metric.id)
        step = state.step if state and state.step else wall.step_seconds
        return replace(cached, series=tuple(_broken(s, step) for s in cached.series))

    def _history_s(self, wall: WallConfig) -> float:
        hours = self._history_hours or wall.history_hours
        return hours * 3600.0

    # --- refreshing -----------------------------------------------------------

    def refresh(self) -> WallState:
        """Fetch what is new for every metric, store it, and return the wall."""
        self._cache.check_file()  # deleted or replaced under us: start afresh
        now = self._now()
        catalogue = self.catalogue
        done = self._fetch_all(catalogue, now)
        self._cache.prune(now - self._history_s(catalogue.wall))
        mirror = self._merge(catalogue, done, now)
        source = self._next_source(done, now)
        self._cache.save_source(source)
        step = choose_step(
            now - self._history_s(catalogue.wall), now, catalogue.wall.step_seconds
        )
        with self._lock:
            self._mirror, self._source_state = mirror, source
            if done.end is not None:
                self._fresh = (
                    done.end,
                    float(catalogue.wall.refresh_seconds + step.seconds),
                )
        return self.state()

    def _fetch_all(self, catalogue: Catalogue, now: float) -> _Round:
        done = _Round()
        for service in catalogue.monitored:
            for metric in service.metrics:
                try:
                    fetched = self._fetch(service.id, metric, catalogue.wall, now)
                except Unreachable as exc:
                    return done.fail(Link.UNREACHABLE, exc.message)
                except AuthFailed as exc:
                    return done.fail(Link.FAILING, f"{exc.message}; re-authenticate")
                except Permanent as exc:
                    if exc.source_level:  # TLS, wrong URL: every query would fail
                        return done.fail(Link.FAILING, exc.message)
                    self._metric_failed(done, service.id, metric, exc)
                    continue
                except Transient as exc:
                    self._metric_failed(done, service.id, metric, exc)
                    if (
                        exc.transient
                        and done.transients >= TRANSIENT_LIMIT
                        and not done.successes
                    ):
                        return done.fail(Link.UNREACHABLE, exc.message)
                    continue
                done.successes += 1
                done.touched.add((service.id, metric.id))
                done.fetched[service.id, metric.id] = fetched
                end = fetched.end
                done.end = end if done.end is None else max(done.end, end)
        # A bad query is the catalogue's fault and shows on its own tile; only
        # "try later" answers with nothing else answered mean the source is ill.
        if done.transients and not done.successes and done.transients == done.failures:
            return done.fail(
                Link.FAILING, f"every query failed; the last: {done.message}"
            )
        return done

    def _metric_failed(
        self, done: _Round, service_id: str, metric: Metric, exc: Transient | Permanent
    ) -> None:
        log.warning("health: %s/%s: %s", service_id, metric.id, exc.message)
        self._cache.record_error(service_id, metric.id, exc.message)
        done.touched.add((service_id, metric.id))
        done.failures += 1
        done.transients += 1 if exc.transient else 0
        done.message = exc.message

    def _fetch(
        self, service_id: str, metric: Metric, wall: WallConfig, now: float
    ) -> _Fetched:
        """Fetch one metric's new points into the cache; the end of the window."""
        window_start = now - self._history_s(wall)
        step = choose_step(window_start, now, wall.step_seconds).seconds
        start = self._resume_from(service_id, metric, window_start, step)
        first, end = align(start, now, step)
        result = self._source.query_range(metric.expr, first, end, step)
        used = result.step.seconds if result.step else step
        series = self._with_sample_times(metric.expr, result.series, first, end, used)
        for warning in result.warnings:
            log.info("health: %s/%s: partial data: %s", service_id, metric.id, warning)
        # No point at the last evaluation: nothing is reporting now, even if the
        # window still holds points from before (C04, not zero and not stale).
        empty_now = not any(s.times and s.times[-1] > end - used for s in series)
        self._cache.write(
            service_id, metric.id, series, start=first, end=end, fetched_at=now,
            expr=metric.expr, step=used, warnings=result.warnings, notes=result.notes,
            empty_now=empty_now,
        )  # fmt: skip
        return _Fetched(
            series, first, end, used, result.warnings, result.notes, empty_now
        )

    def _resume_from(
        self, service_id: str, metric: Metric, window_start: float, step: int
    ) -> float:
        """Where to start asking: the window's start, or just before the last end."""
        state = self._cache.fetch_state(service_id, metric.id)
        if state is None or state.end is None:
            return window_start
        if state.expr != metric.expr:
            log.info(
                "health: %s/%s: expression changed; refetching", service_id, metric.id
            )
            self._cache.forget(service_id, metric.id)
            return window_start
        back = float(step * OVERLAP_STEPS)
        if not state.complete:
            back = max(back, PARTIAL_REFETCH_S)
        return max(window_start, state.end - back)

    def _with_sample_times(
        self, expr: str, series: tuple[Series, ...], start: int, end: int, step: int
    ) -> tuple[Series, ...]:
        """The series with each point's sample time, from `timestamp(expr)`."""
        # FIXME(health): timestamp() gives the real sample time only when the
        # expression's outer value is a plain selector (`up{...}`); for aggregations
        # and arithmetic it gives the evaluation time, so a stopped target there is
        # seen only once its series vanishes. Querying timestamp() of each selector
        # in the expression (max of their ages) would close this.
        if not series or expr in self._no_timestamps:
            return series
        try:
            stamps = self._source.query_range(f"timestamp({expr})", start, end, step)
        except AuthFailed:
            raise
        except Permanent as exc:
            # A scalar expression, say: its points are never called stale.
            log.info("health: no sample times for %s: %s", expr, exc.message)
            self._no_timestamps.add(expr)
            return series
        except TimedOut as exc:
            # Heavy enough to time out: asking every round would stall the wall.
            log.warning("health: no sample times for %s: %s", expr, exc.message)
            self._no_timestamps.add(expr)
            return series
        except Transient as exc:
            log.info("health: sample times skipped this round: %s", exc.message)
            return series
        times = {
            _unnamed(s.labels): dict(zip(s.times, s.values, strict=True))
            for s in stamps.series
        }
        return tuple(_stamped(s, times.get(_unnamed(s.labels), {})) for s in series)

    # FIXME(health): a series that is gone from the latest answer (a pod replaced
    # by one with a new name) keeps its last point, and so keeps the metric STALE
    # until it leaves the history window. Judging health only on series present
    # in the latest fetch (a flag in the cache) would fix it.
    def _merge(self, catalogue: Catalogue, done: _Round, now: float) -> Mirror:
        """The mirror with this round's answers spliced in; metrics that failed, or
        that the mirror does not hold yet, are read from the cache."""
        since = now - self._history_s(catalogue.wall)
        with self._lock:
            old = self._mirror
        mirror: Mirror = {}
        for service in catalogue.monitored:
            kept = old.get(service.id, {})
            entries = {}
            for metric in service.metrics:
                key = (service.id, metric.id)
                fetched = done.fetched.get(key)
                if fetched is not None and key in self._raw:
                    entries[metric.id] = self._splice(key, fetched, since)
                elif key in done.touched or metric.id not in kept:
                    entries[metric.id] = self._read(
                        service.id, metric, catalogue.wall, since
                    )
                else:
                    entries[metric.id] = kept[metric.id]
            mirror[service.id] = entries
        return mirror

    def _splice(self, key: tuple[str, str], fetched: _Fetched, since: float) -> Cached:
        """What the cache now holds for a metric, built in memory: the same rule as
        MetricCache.write (an answer replaces its window; an empty one keeps the
        last points) without reading it all back."""
        merged = splice(self._raw[key], fetched.series, fetched.start, fetched.end)
        merged = tuple(s for s in (_from(s, since) for s in merged) if s.times)
        self._raw[key] = merged
        return Cached(
            tuple(_broken(s, fetched.step) for s in merged),
            empty_now=fetched.empty_now,
            warnings=fetched.warnings,
            notes=fetched.notes,
        )

    def _next_source(self, done: _Round, now: float) -> SourceState:
        with self._lock:
            before = self._source_state
        if done.link is Link.CONNECTED:
            if before.link is not Link.CONNECTED:
                log.info("health: %s reachable again", before.name)
            message = f"{done.failures} query(ies) failed" if done.failures else ""
            return replace(
                before, link=Link.CONNECTED, last_success=now, message=message
            )
        if before.link is not done.link:
            log.warning("health: %s %s: %s", before.name, done.link.value, done.message)
        return replace(before, link=done.link, message=done.message)


def _as_of(now: float, source: SourceState, fresh: tuple[float, float] | None) -> float:
    """The instant health is judged at. While refreshes arrive on time, that is the
    end of the newest fetched window: the data cannot be newer than the last ask,
    so the wait between asks must not make every sample look stale. When they stop
    arriving, time runs on and samples age."""
    if source.link is not Link.CONNECTED or fresh is None:
        return now
    end, lag = fresh
    return min(now, max(end, now - lag))


def _unnamed(labels: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Labels as timestamp() returns them: without the metric name."""
    return tuple((k, v) for k, v in labels if k != "__name__")


def _stamped(series: Series, stamps: dict[float, float]) -> Series:
    if not stamps:
        return series
    return replace(series, sample_times=tuple(stamps.get(t) for t in series.times))


def _broken(series: Series, step: float) -> Series:
    """The series with a NaN wherever scrapes are missing, sample times kept."""
    times, values = break_gaps(series.times, series.values, step)
    if len(times) == len(series.times):
        return series
    known = dict(zip(series.times, series.sample_times, strict=False))
    sample_times = tuple(known.get(t) for t in times) if series.sample_times else ()
    return replace(
        series, times=tuple(times), values=tuple(values), sample_times=sample_times
    )


class PollerThread:
    """Refreshes a poller every `interval_s` on its own thread (plain threading,
    no Qt) and hands each WallState to `on_state`, called on that thread."""

    def __init__(
        self,
        poller: HealthPoller,
        on_state: Callable[[WallState], None],
        interval_s: float,
        *,
        name: str = "health-poller",
        watch: CatalogueWatch | None = None,
    ) -> None:
        self._poller = poller
        self._watch = watch
        self._on_state = on_state
        self.interval_s = interval_s
        self._name = name
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("a PollerThread can be started once")
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def refresh_now(self) -> None:
        """Refresh at once instead of at the end of the current wait."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop after the refresh in progress; True if the thread has ended."""
        self._stopping.set()
        self._wake.set()
        return join_worker(self._thread, timeout, "health poller")

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            state = self._refresh()
            if self._stopping.is_set():
                break
            self._publish(state)
            self._wake.wait(self.interval_s)

    def _refresh(self) -> WallState:
        try:
            self._reload()
            return self._poller.refresh()
        except Exception:  # the wall must keep running; say why
            log.exception("health refresh failed; showing the last data")
            return self._poller.state()

    def _reload(self) -> None:
        """Take the catalogue file's new content, or say why not."""
        if self._watch is None:
            return
        catalogue = self._watch.check()
        if catalogue is not None:
            self._poller.set_catalogue(catalogue)
            self.interval_s = catalogue.wall.refresh_seconds
        self._poller.catalogue_problem = self._watch.problem

    def _publish(self, state: WallState) -> None:
        try:
            self._on_state(state)
        except Exception:  # a broken subscriber must not stop polling
            log.exception("health: the state subscriber failed")


def open_health(
    settings: Settings,
    catalogue: Catalogue,
    data_dir: Path,
    *,
    demo: bool,
    history_hours: float | None = None,
) -> HealthPoller:
    """A poller on the configured source (see mimdesk.sync.sources) with its cache
    in `data_dir`. The caller closes it."""
    source = choose_source(settings, demo=demo)
    try:
        cache = MetricCache.open(data_dir / CACHE_FILE)
    except BaseException:
        source.close()
        raise
    try:
        return HealthPoller(source, catalogue, cache, history_hours=history_hours)
    except BaseException:
        cache.close()
        source.close()
        raise


def splice(
    old: tuple[Series, ...], new: tuple[Series, ...], start: float, end: float
) -> tuple[Series, ...]:
    """Old series with the points in [start, end] replaced by the new answer's; an
    empty answer changes nothing. Order: old series first, then new label sets."""
    if not new:
        return old
    fresh = {s.labels: s for s in new}
    out = []
    for series in old:
        before = bisect.bisect_left(series.times, start)
        after = bisect.bisect_right(series.times, end)
        parts = [_cut(series, 0, before)]
        incoming = fresh.pop(series.labels, None)
        if incoming is not None:
            parts.append(incoming)
        parts.append(_cut(series, after, len(series.times)))
        out.append(_joined(series.labels, parts))
    out.extend(fresh.values())
    return tuple(out)


def _cut(series: Series, first: int, last: int) -> Series:
    sampled = series.sample_times[first:last] if series.sample_times else ()
    return replace(
        series,
        times=series.times[first:last],
        values=series.values[first:last],
        sample_times=sampled,
    )


def _joined(labels: tuple[tuple[str, str], ...], parts: list[Series]) -> Series:
    parts = [p for p in parts if p.times]
    times = tuple(t for p in parts for t in p.times)
    values = tuple(v for p in parts for v in p.values)
    if any(p.sample_times for p in parts):
        sampled = tuple(
            s for p in parts for s in (p.sample_times or (None,) * len(p.times))
        )
    else:
        sampled = ()
    return Series(labels, times, values, sampled)


def _from(series: Series, since: float) -> Series:
    first = bisect.bisect_left(series.times, since)
    return series if first == 0 else _cut(series, first, len(series.times))
