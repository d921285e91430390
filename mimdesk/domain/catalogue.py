"""The service catalogue: services, the PromQL that shows their health, how they
depend on each other, the business services built from them and the customers
those serve, and how the wall draws them. Read from TOML the operator owns (see
resources/catalogues/)."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from mimdesk.domain.errors import DomainError
from mimdesk.domain.health import Thresholds

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")


class CatalogueError(DomainError):
    """A mistake in the catalogue, with where it is so the loader can name the
    line: the entry's number in its `table` (`[[service]]` unless said,
    counted from 1 in file order), the metric's within it, and the key."""

    def __init__(
        self,
        text: str,
        service: int = 0,
        metric: int = 0,
        key: str = "",
        table: str = "service",
    ) -> None:
        super().__init__(text)
        self.service = service
        self.metric = metric
        self.key = key
        self.table = table


# What each table may hold: a misspelt key ("critcal") would otherwise switch a
# threshold off without a word.
TOP_KEYS = frozenset(
    {"service", "wall", "alerts", "business_service", "segment", "impact"}
)
SERVICE_KEYS = frozenset(
    {"id", "name", "owner", "tier", "metric", "depends_on", "soft_depends_on"}
)
BUSINESS_KEYS = frozenset(
    {"id", "name", "owner", "services", "soft_services", "segments"}
)
SEGMENT_KEYS = frozenset({"id", "name", "customers", "revenue_per_hour", "currency"})
MAX_CUSTOMERS = 10_000_000_000  # more people than there are
MAX_REVENUE_PER_HOUR = 1e12  # keeps sums of many hours and segments printable
HARD, SOFT = "hard", "soft"
METRIC_KEYS = frozenset(
    {"id", "name", "expr", "unit", "warning", "critical", "bad", "panel", "scale"}
)


def _unknown(table: Mapping[str, Any], known: frozenset[str]) -> str | None:
    return next((k for k in table if k not in known), None)


def _known_keys(known: frozenset[str]) -> str:
    return ", ".join(sorted(known))


@dataclass(frozen=True)
class Metric:
    """One PromQL expression that shows part of a service's health."""

    id: str
    name: str
    expr: str
    unit: str = ""
    thresholds: Thresholds = field(default_factory=Thresholds)
    # Drawn on the tile's graph (at most two per tile); others only set status.
    panel: bool = True
    # Multiply what Prometheus returns before showing it (0.97 -> 97 %).
    scale: float = 1.0


@dataclass(frozen=True)
class Service:
    """A technical service incidents can name, and the metrics that show its health."""

    id: str
    name: str
    owner: str = ""
    tier: int = 3
    metrics: tuple[Metric, ...] = ()
    # Services this one needs: a hard one down takes it down; a soft one down
    # only degrades it.
    depends_on: tuple[str, ...] = ()
    soft_depends_on: tuple[str, ...] = ()

    @property
    def panels(self) -> tuple[Metric, ...]:
        return tuple(m for m in self.metrics if m.panel)[:2]

    @property
    def edges(self) -> tuple[tuple[str, str], ...]:
        """(service id, HARD or SOFT) for each dependency, hard ones first."""
        return tuple((d, HARD) for d in self.depends_on) + tuple(
            (d, SOFT) for d in self.soft_depends_on
        )


@dataclass(frozen=True)
class BusinessService:
    """What the business sells or runs (payments, onboarding...), built from
    technical services, and the customer segments it serves."""

    id: str
    name: str
    services: tuple[str, ...]
    soft_services: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()
    owner: str = ""

    @property
    def edges(self) -> tuple[tuple[str, str], ...]:
        return tuple((s, HARD) for s in self.services) + tuple(
            (s, SOFT) for s in self.soft_services
        )


@dataclass(frozen=True)
class Segment:
    """A group of customers: how many, and the revenue an hour of outage puts at
    risk when known."""

    id: str
    name: str
    customers: int
    revenue_per_hour: float | None = None
    currency: str = ""


@dataclass(frozen=True)
class WallConfig:
    """How the wall polls and draws: `[wall]` in the catalogue."""

    refresh_seconds: int = 15
    history_hours: float = 6.0
    # The scrape interval of the targets behind the expressions.
    scrape_interval: int = 15
    # A sample older than this many scrape intervals is STALE.
    stale_factor: float = 2.0
    page_seconds: int = 20
    tiles_per_page: int = 12
    step_seconds: int = 15


@dataclass(frozen=True)
class Catalogue:
    """Services by id, in the order the file lists them."""

    services: tuple[Service, ...] = ()
    wall: WallConfig = field(default_factory=WallConfig)
    # Alert labels whose value may name a service, tried in order (`[alerts]`).
    alert_labels: tuple[str, ...] = ("service", "job")
    business_services: tuple[BusinessService, ...] = ()
    segments: tuple[Segment, ...] = ()
    # What revenue is counted in, unless a segment says (`[impact] currency`).
    currency: str = ""

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(s.id for s in self.services)

    def get(self, service_id: str) -> Service | None:
        return next((s for s in self.services if s.id == service_id), None)

    def business(self, business_id: str) -> BusinessService | None:
        return next((b for b in self.business_services if b.id == business_id), None)

    def segment(self, segment_id: str) -> Segment | None:
        return next((s for s in self.segments if s.id == segment_id), None)

    @property
    def monitored(self) -> tuple[Service, ...]:
        """Services with at least one metric: the wall's tiles."""
        return tuple(s for s in self.services if s.metrics)


def catalogue_from_mapping(data: Mapping[str, Any]) -> Catalogue:
    """Build a catalogue from parsed TOML: `[[service]]` tables, optional
    `[[business_service]]` and `[[segment]]` tables, `[impact]`, `[wall]` and
    `[alerts]`. Every reference must name an entry that exists, and the
    dependencies between services must not go round in a circle."""
    unknown = _unknown(data, TOP_KEYS)
    if unknown is not None:
        raise CatalogueError(
            f"unknown table or key {unknown!r} (expected [[service]], "
            "[[business_service]] and [[segment]] tables, and optional [impact], "
            "[wall] and [alerts])",
            key=unknown,
        )
    services = _entries(data, "service", _service)
    segments = _entries(data, "segment", _segment)
    business = _entries(data, "business_service", _business)
    _check_references(services, business, segments)
    _check_cycles(services)
    return Catalogue(
        services,
        _wall(data.get("wall", {})),
        _alert_labels(data),
        business,
        segments,
        _currency(data),
    )


class _Entry(Protocol):
    @property
    def id(self) -> str: ...


E = TypeVar("E", bound=_Entry)


def _entries(
    data: Mapping[str, Any], table: str, build: Callable[[object, int], E]
) -> tuple[E, ...]:
    """The `[[table]]` entries in file order, each id used once."""
    raw = data.get(table, [])
    if not isinstance(raw, list):
        raise CatalogueError(
            f"{table!r} must be a list of [[{table}]] tables", key=table
        )
    found: list[E] = []
    for number, entry in enumerate(raw, start=1):
        built = build(entry, number)
        if any(e.id == built.id for e in found):
            raise CatalogueError(
                f"{_WORDS[table]} id {built.id!r} is used twice", number, table=table
            )
        found.append(built)
    return tuple(found)


_WORDS = {
    "service": "service",
    "business_service": "business service",
    "segment": "segment",
}


def _alert_labels(data: Mapping[str, Any]) -> tuple[str, ...]:
    raw = data.get("alerts", {})
    if not isinstance(raw, dict):
        raise CatalogueError("[alerts] must be a table", key="alerts")
    unknown = _unknown(raw, frozenset({"service_labels"}))
    if unknown is not None:
        raise CatalogueError(
            f"[alerts]: unknown key {unknown!r} (known: service_labels)", key=unknown
        )
    labels = raw.get("service_labels", ["service", "job"])
    if (
        not isinstance(labels, list)
        or not labels
        or not all(isinstance(x, str) and _ID.match(x) for x in labels)
    ):
        raise CatalogueError(
            "[alerts]: service_labels must be a list of label names, like "
            '["service", "job"]',
            key="service_labels",
        )
    return tuple(labels)


def _service(entry: object, number: int) -> Service:
    if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
        raise CatalogueError(f"service #{number} needs an 'id' string", number)
    sid = entry["id"].strip()
    if not _ID.match(sid):
        raise CatalogueError(f"service id {sid!r} must be one word", number, key="id")
    unknown = _unknown(entry, SERVICE_KEYS)
    if unknown is not None:
        raise CatalogueError(
            f"service {sid!r}: unknown key {unknown!r} (known: "
            f"{_known_keys(SERVICE_KEYS)})",
            number,
            key=unknown,
        )
    tier = entry.get("tier", 3)
    if not isinstance(tier, int) or isinstance(tier, bool) or not 1 <= tier <= 4:
        raise CatalogueError(
            f"service {sid!r}: tier must be 1 to 4, not {tier!r}", number, key="tier"
        )
    raw_metrics = entry.get("metric", [])
    if not isinstance(raw_metrics, list):
        raise CatalogueError(
            f"service {sid!r}: 'metric' must be [[service.metric]] tables", number
        )
    metrics: list[Metric] = []
    for index, raw in enumerate(raw_metrics, start=1):
        try:
            metric = _metric(raw, index)
        except CatalogueError as exc:
            raise CatalogueError(
                f"service {sid!r}: {exc}", number, index, key=exc.key
            ) from None
        except DomainError as exc:
            raise CatalogueError(f"service {sid!r}: {exc}", number, index) from None
        if any(m.id == metric.id for m in metrics):
            raise CatalogueError(
                f"service {sid!r}: metric id {metric.id!r} is used twice", number, index
            )
        metrics.append(metric)
    name = str(entry.get("name", sid))
    owner = str(entry.get("owner", ""))
    hard, soft = (
        _id_list(entry, key, f"service {sid!r}", number, "service")
        for key in ("depends_on", "soft_depends_on")
    )
    both = next((d for d in hard if d in soft), None)
    if both is not None:
        raise CatalogueError(
            f"service {sid!r}: {both!r} is both in depends_on and soft_depends_on",
            number,
            key="soft_depends_on",
        )
    return Service(sid, name, owner, tier, tuple(metrics), hard, soft)


def _metric(raw: object, index: int) -> Metric:
    if not isinstance(raw, dict):
        raise DomainError(f"metric #{index} must be a table")
    mid = raw.get("id")
    if not isinstance(mid, str) or not _ID.match(mid.strip()):
        raise CatalogueError(f"metric #{index} needs a one-word 'id'", key="id")
    unknown = _unknown(raw, METRIC_KEYS)
    if unknown is not None:
        raise CatalogueError(
            f"metric {mid!r}: unknown key {unknown!r} (known: "
            f"{_known_keys(METRIC_KEYS)})",
            key=unknown,
        )
    panel = raw.get("panel", True)
    if not isinstance(panel, bool):
        raise CatalogueError(
            f"metric {mid!r}: panel must be true or false, not {panel!r}", key="panel"
        )
    expr = raw.get("expr")
    if not isinstance(expr, str) or not expr.strip():
        raise DomainError(f"metric {mid!r} needs an 'expr' (a PromQL expression)")
    bad = raw.get("bad", "high")
    if bad not in ("high", "low"):
        raise DomainError(f"metric {mid!r}: bad must be 'high' or 'low', not {bad!r}")
    levels = {key: _number(raw, key, mid) for key in ("warning", "critical")}
    try:
        thresholds = Thresholds(
            levels["warning"], levels["critical"], high_is_bad=bad == "high"
        )
    except DomainError as exc:
        raise DomainError(f"metric {mid!r}: {exc}") from None
    scale = _number(raw, "scale", mid)
    return Metric(
        id=mid.strip(),
        name=str(raw.get("name", mid)),
        expr=expr.strip(),
        unit=str(raw.get("unit", "")),
        thresholds=thresholds,
        panel=panel,
        scale=1.0 if scale is None else scale,
    )


def _number(raw: Mapping[str, Any], key: str, mid: str) -> float | None:
    value = raw.get(key)
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
    ):
        raise CatalogueError(
            f"metric {mid!r}: {key} must be a finite number, not {value!r}", key=key
        )
    return float(value)


# --- business services, segments and the dependency graph -------------------------


def _entry_id(entry: object, number: int, table: str) -> tuple[dict[str, Any], str]:
    word = _WORDS[table]
    if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
        raise CatalogueError(
            f"{word} #{number} needs an 'id' string", number, table=table
        )
    ident = entry["id"].strip()
    if not _ID.match(ident):
        raise CatalogueError(
            f"{word} id {ident!r} must be one word", number, key="id", table=table
        )
    return entry, ident


def _check_keys(
    entry: Mapping[str, Any], known: frozenset[str], what: str, number: int, table: str
) -> None:
    unknown = _unknown(entry, known)
    if unknown is not None:
        raise CatalogueError(
            f"{what}: unknown key {unknown!r} (known: {_known_keys(known)})",
            number,
            key=unknown,
            table=table,
        )


def _id_list(
    entry: Mapping[str, Any], key: str, what: str, number: int, table: str
) -> tuple[str, ...]:
    """A list of ids, like ["core-banking", "identity"], each once."""
    raw = entry.get(key, [])
    if not isinstance(raw, list) or not all(
        isinstance(x, str) and _ID.match(x.strip()) for x in raw
    ):
        raise CatalogueError(
            f'{what}: {key} must be a list of ids, like ["core-banking"]',
            number,
            key=key,
            table=table,
        )
    ids = tuple(x.strip() for x in raw)
    twice = next((x for i, x in enumerate(ids) if x in ids[:i]), None)
    if twice is not None:
        raise CatalogueError(
            f"{what}: {twice!r} is listed twice in {key}", number, key=key, table=table
        )
    return ids


def _business(entry: object, number: int) -> BusinessService:
    table = "business_service"
    raw, bid = _entry_id(entry, number, table)
    what = f"business service {bid!r}"
    _check_keys(raw, BUSINESS_KEYS, what, number, table)
    services, soft, segments = (
        _id_list(raw, key, what, number, table)
        for key in ("services", "soft_services", "segments")
    )
    if not services and not soft:
        raise CatalogueError(
            f"{what}: name the technical services it is built from "
            '(services = ["..."])',
            number,
            table=table,
        )
    both = next((x for x in services if x in soft), None)
    if both is not None:
        raise CatalogueError(
            f"{what}: {both!r} is both in services and soft_services",
            number,
            key="soft_services",
            table=table,
        )
    name = str(raw.get("name", bid))
    owner = str(raw.get("owner", ""))
    return BusinessService(bid, name, services, soft, segments, owner)


def _segment(entry: object, number: int) -> Segment:
    table = "segment"
    raw, sid = _entry_id(entry, number, table)
    what = f"segment {sid!r}"
    _check_keys(raw, SEGMENT_KEYS, what, number, table)
    customers = _customers(raw.get("customers"), what, number, table)
    revenue = _revenue(raw.get("revenue_per_hour"), what, number, table)
    currency = _currency_text(raw.get("currency", ""), what, number, table)
    name = str(raw.get("name", sid))
    return Segment(sid, name, customers, revenue, currency)


def _customers(value: object, what: str, number: int, table: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        problem = "must be a whole number (1200000, or 1_200_000)"
    elif value < 0:
        problem = "must be 0 or more"
    elif value > MAX_CUSTOMERS:
        problem = f"must be at most {MAX_CUSTOMERS:_}"
    else:
        return value
    raise CatalogueError(
        f"{what}: customers {problem}, not {value!r}",
        number,
        key="customers",
        table=table,
    )


def _revenue(value: object, what: str, number: int, table: str) -> float | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or (isinstance(value, float) and not math.isfinite(value))
        or value < 0
    ):
        problem = "must be a number of at least 0"
    elif value > MAX_REVENUE_PER_HOUR:
        problem = f"must be at most {MAX_REVENUE_PER_HOUR:_.0f}"
    else:
        return float(value)
    raise CatalogueError(
        f"{what}: revenue_per_hour {problem}, not {value!r}",
        number,
        key="revenue_per_hour",
        table=table,
    )


def _currency_text(value: object, what: str, number: int, table: str) -> str:
    if not isinstance(value, str) or len(value.strip()) > 8 or " " in value.strip():
        raise CatalogueError(
            f'{what}: currency must be a short code like "EUR", not {value!r}',
            number,
            key="currency",
            table=table,
        )
    return value.strip()


def _currency(data: Mapping[str, Any]) -> str:
    raw = data.get("impact", {})
    if not isinstance(raw, dict):
        raise CatalogueError("[impact] must be a table", key="impact")
    unknown = _unknown(raw, frozenset({"currency"}))
    if unknown is not None:
        raise CatalogueError(
            f"[impact]: unknown key {unknown!r} (known: currency)",
            key=unknown,
            table="impact",
        )
    value = raw.get("currency", "")
    if not isinstance(value, str) or len(value.strip()) > 8 or " " in value.strip():
        raise CatalogueError(
            f'[impact]: currency must be a short code like "EUR", not {value!r}',
            key="currency",
            table="impact",
        )
    return value.strip()


def _check_references(
    services: Sequence[Service],
    business: Sequence[BusinessService],
    segments: Sequence[Segment],
) -> None:
    """Every id a dependency, business service or segment list names exists."""
    service_ids = [s.id for s in services]
    segment_ids = [s.id for s in segments]
    for number, service in enumerate(services, start=1):
        for key, ids in (
            ("depends_on", service.depends_on),
            ("soft_depends_on", service.soft_depends_on),
        ):
            _refer(ids, service_ids, f"service {service.id!r}", key, number, "service")
    for number, entry in enumerate(business, start=1):
        what = f"business service {entry.id!r}"
        for key, ids, known in (
            ("services", entry.services, service_ids),
            ("soft_services", entry.soft_services, service_ids),
            ("segments", entry.segments, segment_ids),
        ):
            _refer(ids, known, what, key, number, "business_service")


def _refer(
    ids: Sequence[str],
    known: Sequence[str],
    what: str,
    key: str,
    number: int,
    table: str,
) -> None:
    missing = next((x for x in ids if x not in known), None)
    if missing is None:
        return
    kind = "segment" if key == "segments" else "service"
    listed = ", ".join(known) or "none"
    raise CatalogueError(
        f"{what}: {key} names {missing!r}, which is no {kind} in this catalogue "
        f"({kind}s: {listed})",
        number,
        key=key,
        table=table,
    )


def _check_cycles(services: Sequence[Service]) -> None:
    dependency_order(services)


def dependency_order(services: Sequence[Service]) -> tuple[str, ...]:
    """Service ids with each one after everything it depends on (file order
    where free). Refuses a service that depends on itself, directly or round a
    circle, pointing at the dependency that closes the circle."""
    numbers = {s.id: n for n, s in enumerate(services, start=1)}
    by_id = {s.id: s for s in services}
    done: dict[str, None] = {}
    for service in services:
        if service.id not in done:
            _walk(service.id, [], by_id, numbers, done)
    return tuple(done)


def _walk(
    sid: str,
    path: list[str],
    by_id: Mapping[str, Service],
    numbers: Mapping[str, int],
    done: dict[str, None],
) -> None:
    """Depth first from `sid`, `path` the services above it."""
    path.append(sid)
    for target, kind in by_id[sid].edges:
        key = "depends_on" if kind == HARD else "soft_depends_on"
        if target not in by_id:
            raise CatalogueError(
                f"service {sid!r}: {key} names {target!r}, which is no service",
                numbers[sid],
                key=key,
            )
        if target in path:
            circle = " \u2192 ".join([*path[path.index(target) :], target])
            raise CatalogueError(
                f"service {sid!r}: dependency cycle {circle} (a service cannot "
                "depend on itself, even through others)",
                numbers[sid],
                key=key,
            )
        if target not in done:
            _walk(target, path, by_id, numbers, done)
    path.pop()
    done[sid] = None


_WALL_LIMITS: dict[str, tuple[type, float, float]] = {
    "refresh_seconds": (int, 1, 3600),
    "history_hours": (float, 0.1, 24 * 31),
    "scrape_interval": (int, 1, 3600),
    "stale_factor": (float, 1, 100),
    "page_seconds": (int, 3, 3600),
    "tiles_per_page": (int, 1, 96),
    "step_seconds": (int, 1, 86400),
}


def _wall(raw: object) -> WallConfig:
    if not isinstance(raw, dict):
        raise CatalogueError("[wall] must be a table")
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in _WALL_LIMITS:
            raise CatalogueError(f"[wall]: unknown setting {key!r}")
        kind, low, high = _WALL_LIMITS[key]
        number_ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not number_ok or (kind is int and not isinstance(value, int)):
            raise CatalogueError(f"[wall]: {key} must be a {kind.__name__}")
        if not low <= value <= high:
            raise CatalogueError(f"[wall]: {key} must be from {low:g} to {high:g}")
        values[key] = kind(value)
    return WallConfig(**values)


def locate(text: str, error: CatalogueError) -> int | None:
    """The line (from 1) of what an error is about: the key inside the entry's or
    metric's table when known, else the table's header."""
    lines = text.splitlines()
    if error.service:
        header = _table_line(lines, error.service, error.metric, error.table)
    elif error.table != "service":  # a [table] of settings, like [impact]
        header = _top_line(lines, error.table)
    else:
        return _top_line(lines, error.key) if error.key else None
    if header is None or not error.key:
        return header
    for number in range(header + 1, len(lines) + 1):
        line = lines[number - 1].strip()
        if line.startswith("["):
            break
        if line.split("=", 1)[0].strip() == error.key:
            return number
    return header


def _table_line(
    lines: list[str], service: int, metric: int, table: str = "service"
) -> int | None:
    services = metrics = 0
    found: int | None = None
    for number, line in enumerate(lines, start=1):
        header = "".join(line.split("#", 1)[0].split())
        if header == f"[[{table}]]":
            services += 1
            metrics = 0
            if services == service:
                found = number
                if not metric:
                    return number
        elif header == f"[[{table}.metric]]" and services == service:
            metrics += 1
            if metrics == metric:
                return number
    return found


def _top_line(lines: list[str], key: str) -> int | None:
    for number, line in enumerate(lines, start=1):
        name = line.strip().strip("[]").split("=", 1)[0].strip()
        if name == key or name.startswith(key + "."):
            return number
    return None
