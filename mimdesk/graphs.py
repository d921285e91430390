"""Health graphs for reports: each impacted service's panel metrics over the
incident window, fetched from a range source and drawn as PNG images.

Fetching needs no Qt; drawing loads it (mimdesk.ui.graph_image) only when
there is something to draw, so `mimdesk report` stays Qt-free until then.
A report never fails because of its graphs: what went wrong is returned as
the reason they are unavailable.
"""

from __future__ import annotations

import base64
import logging
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, Protocol

from mimdesk.connectors.errors import ConnectorError
from mimdesk.connectors.errors import reason as connector_reason
from mimdesk.connectors.prometheus import QueryResult
from mimdesk.domain.catalogue import Catalogue, Metric
from mimdesk.domain.incident import Incident
from mimdesk.domain.lifecycle import Status
from mimdesk.domain.series import Series

log = logging.getLogger(__name__)

MAX_SERVICES = 8
POINTS = 300  # about this many samples across the window
MIN_STEP = 15
WIDTH, HEIGHT = 1600, 520  # pixels; shown 170 mm wide on A4


class RangeSource(Protocol):
    def query_range(
        self, expr: str, start: float, end: float, step: int
    ) -> QueryResult: ...


@dataclass(frozen=True)
class Panel:
    """One metric of one service over the window, ready to draw."""

    service: str
    service_name: str
    metric: Metric
    series: tuple[Series, ...]
    problem: str = ""  # why this metric has no data, when it has none

    @property
    def title(self) -> str:
        return f"{self.service_name} \u2014 {self.metric.name}"


@dataclass(frozen=True)
class Mark:
    """A moment drawn across every graph (a milestone)."""

    at: datetime
    label: str


def window(
    started: datetime, ended: datetime, *, now: datetime
) -> tuple[datetime, datetime]:
    """The graphs' window: the incident with a margin either side, so the
    normal level before it shows; never past `now`."""
    span = max(ended - started, timedelta(minutes=1))
    margin = max(span / 10, timedelta(minutes=10))
    return started - margin, min(ended + margin, now)


def step_for(start: float, end: float) -> int:
    return max(MIN_STEP, math.ceil((end - start) / POINTS))


def fetch_panels(
    catalogue: Catalogue,
    source: RangeSource,
    services: Iterable[str],
    start: datetime,
    end: datetime,
) -> list[Panel]:
    """Each named service's panel metrics over [start, end]. A failure of the
    source itself (unreachable, refused, credentials) is raised as the
    ConnectorError; a failing query only leaves its panel without data."""
    first, last = start.timestamp(), end.timestamp()
    step = step_for(first, last)
    panels: list[Panel] = []
    for service_id in list(dict.fromkeys(services))[:MAX_SERVICES]:
        service = catalogue.get(service_id)
        if service is None:
            continue
        for metric in service.panels:
            try:
                found = source.query_range(metric.expr, first, last, step)
            except ConnectorError as exc:
                if exc.source_level or exc.transient:
                    raise
                log.warning("graph of %s/%s: %s", service_id, metric.id, exc.message)
                panels.append(Panel(service.id, service.name, metric, (), exc.message))
                continue
            panels.append(Panel(service.id, service.name, metric, found.series))
    return panels


def health_graphs(
    catalogue: Catalogue,
    source: RangeSource | None,
    services: Sequence[str],
    start: datetime,
    end: datetime,
    *,
    zone: tzinfo,
    marks: Sequence[Mark] = (),
    unavailable: str = "",
) -> dict[str, Any]:
    """The graphs section of a report: {"available", "reason", "start", "end",
    "images": [{"service", "title", "unit", "png" (base64), "width",
    "height", "problem"}]}. `unavailable` (or no source) says why there are
    none without asking anything."""
    if source is None or unavailable:
        return unavailable_graphs(unavailable or "no monitoring source configured")
    if not any(_has_panels(catalogue, s) for s in services):
        return unavailable_graphs("no impacted service has a metric to draw")
    try:
        panels = fetch_panels(catalogue, source, services, start, end)
    except ConnectorError as exc:
        log.warning("report graphs unavailable: %s", exc.message)
        return unavailable_graphs(connector_reason(exc))
    try:
        from mimdesk.ui.graph_image import draw_panel

        images = [
            _image(p, draw_panel(p, start, end, zone=zone, marks=marks)) for p in panels
        ]
    except Exception as exc:  # a report must come out without its graphs
        log.exception("report graphs could not be drawn")
        return unavailable_graphs(f"they could not be drawn ({exc})")
    return {"available": True, "reason": "", "images": images}


def _has_panels(catalogue: Catalogue, service_id: str) -> bool:
    service = catalogue.get(service_id)
    return service is not None and bool(service.panels)


def unavailable_graphs(reason: str) -> dict[str, Any]:
    return {"available": False, "reason": reason, "images": []}


def _image(panel: Panel, png: bytes) -> dict[str, Any]:
    return {
        "service": panel.service,
        "metric": panel.metric.id,
        "title": panel.title,
        "unit": panel.metric.unit,
        "png": base64.b64encode(png).decode("ascii"),
        "width": WIDTH,
        "height": HEIGHT,
        "problem": panel.problem,
        "file": None,
    }


# --- for an incident ---------------------------------------------------------


def incident_window(incident: Incident, now: datetime) -> tuple[datetime, datetime]:
    """The graphs' window for an incident: from when impact began (or it was
    detected) to its resolution (or now), with margins."""
    began = min(incident.impact_started_at or incident.detected_at,
                incident.detected_at)  # fmt: skip
    ended = incident.reached(Status.RESOLVED) or incident.reached(Status.CLOSED)
    return window(began, ended or now, now=now)


def milestone_marks(incident: Incident) -> list[Mark]:
    """The milestones after detection, drawn across every graph."""
    return [
        Mark(m.at, status.value)
        for status, m in incident.milestones.items()
        if m.at is not None and status is not Status.CLOSED
    ]


def incident_graphs(
    catalogue: Catalogue,
    source: RangeSource | None,
    incident: Incident,
    *,
    zone: tzinfo,
    now: datetime,
    unavailable: str = "",
) -> dict[str, Any]:
    """The graphs section of `incident`'s report (see `health_graphs`)."""
    start, end = incident_window(incident, now)
    return health_graphs(
        catalogue, source, incident.services, start, end, zone=zone,
        marks=milestone_marks(incident), unavailable=unavailable,
    )  # fmt: skip


def write_image_files(graphs: dict[str, Any], folder: Path) -> None:
    """Write each graph as a PNG in `folder` and note its path (relative to
    the folder's parent) in the graph's "file", for a Markdown report."""
    if not graphs.get("images"):
        return
    folder.mkdir(parents=True, exist_ok=True)
    for n, image in enumerate(graphs["images"], 1):
        name = _safe(f"{n:02d}-{image['service']}-{image['metric']}") + ".png"
        (folder / name).write_bytes(base64.b64decode(image["png"]))
        image["file"] = f"{folder.name}/{name}"


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "graph"
