"""The service catalogue: services, the PromQL that shows their health, and how the
wall draws them. Read from TOML the operator owns (see resources/catalogues/)."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mimdesk.domain.errors import DomainError
from mimdesk.domain.health import Thresholds

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")


class CatalogueError(DomainError):
    """A mistake in the catalogue, with where it is (service and metric number,
    counted from 1 in file order) so the loader can name the line."""

    def __init__(
        self, text: str, service: int = 0, metric: int = 0, key: str = ""
    ) -> None:
        super().__init__(text)
        self.service = service
        self.metric = metric
        self.key = key


# What each table may hold: a misspelt key ("critcal") would otherwise switch a
# threshold off without a word.
TOP_KEYS = frozenset({"service", "wall", "alerts"})
SERVICE_KEYS = frozenset({"id", "name", "owner", "tier", "metric"})
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

    @property
    def panels(self) -> tuple[Metric, ...]:
        return tuple(m for m in self.metrics if m.panel)[:2]


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

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(s.id for s in self.services)

    def get(self, service_id: str) -> Service | None:
        return next((s for s in self.services if s.id == service_id), None)

    @property
    def monitored(self) -> tuple[Service, ...]:
        """Services with at least one metric: the wall's tiles."""
        return tuple(s for s in self.services if s.metrics)


def catalogue_from_mapping(data: Mapping[str, Any]) -> Catalogue:
    """Build a catalogue from parsed TOML (`[[service]]` tables, optional `[wall]`)."""
    unknown = _unknown(data, TOP_KEYS)
    if unknown is not None:
        raise CatalogueError(
            f"unknown table or key {unknown!r} (expected [[service]] tables and "
            "an optional [wall])",
            key=unknown,
        )
    entries = data.get("service", [])
    if not isinstance(entries, list):
        raise CatalogueError("'service' must be a list of [[service]] tables")
    services: list[Service] = []
    for number, entry in enumerate(entries, start=1):
        service = _service(entry, number)
        if any(s.id == service.id for s in services):
            raise CatalogueError(f"service id {service.id!r} is used twice", number)
        services.append(service)
    return Catalogue(tuple(services), _wall(data.get("wall", {})), _alert_labels(data))


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
    return Service(sid, name, owner, tier, tuple(metrics))


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
    """The line (from 1) of what an error is about: the key inside the service or
    metric table when known, else the table's header."""
    if not error.service:
        return _top_line(text.splitlines(), error.key) if error.key else None
    header = _table_line(text.splitlines(), error.service, error.metric)
    if header is None or not error.key:
        return header
    lines = text.splitlines()
    for number in range(header + 1, len(lines) + 1):
        line = lines[number - 1].strip()
        if line.startswith("["):
            break
        if line.split("=", 1)[0].strip() == error.key:
            return number
    return header


def _table_line(lines: list[str], service: int, metric: int) -> int | None:
    services = metrics = 0
    found: int | None = None
    for number, line in enumerate(lines, start=1):
        header = line.strip()
        if header.startswith("[[service]]"):
            services += 1
            metrics = 0
            if services == service:
                found = number
                if not metric:
                    return number
        elif header.startswith("[[service.metric]]") and services == service:
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
