"""Health graphs in the post-incident report: drawn offscreen from a range
source, embedded in the HTML and the PDF, and never a reason for a report to fail."""

from __future__ import annotations

import base64
import math
import os
import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtGui import QColor, QImage

from mimdesk import graphs, postmortem
from mimdesk.connectors.errors import Unreachable
from mimdesk.connectors.prometheus import QueryResult
from mimdesk.domain.catalogue import Catalogue, Metric
from mimdesk.domain.directory import Directory
from mimdesk.domain.lifecycle import Status
from mimdesk.domain.series import Series
from mimdesk.domain.severity import SeverityScale
from mimdesk.domain.targets import DEFAULT_POLICY
from mimdesk.domain.times import parse_utc
from mimdesk.resources import resource
from mimdesk.settings import load_catalogue
from mimdesk.store.store import Store
from mimdesk.sync.demo import DemoSource
from mimdesk.ui.graph_image import LINES, draw_panel
from mimdesk.ui.pdf import write_html_pdf

T0 = parse_utc("2026-11-20T09:00:00Z")
NOW = T0 + timedelta(hours=3)
LONDON = ZoneInfo("Europe/London")


@pytest.fixture(autouse=True)
def _app(qapp: object) -> None:
    """The graphs are drawn by Qt."""


@pytest.fixture
def catalogue() -> Catalogue:
    loaded, problem = load_catalogue(resource("catalogues", "sample.toml"))
    assert not problem
    return loaded


def tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"{name} is missing (Debian package poppler-utils)")
        pytest.skip(f"{name} is not installed (poppler-utils)")
    return found


def decoded(png: bytes) -> QImage:
    image = QImage.fromData(png, "PNG")  # type: ignore[call-overload]
    assert not image.isNull()
    return image


def inked(image: QImage, x: int, colour: str) -> bool:
    """Whether column `x` holds a pixel close to `colour` (the line's ink)."""
    want = QColor(colour)
    for y in range(image.height()):
        got = image.pixelColor(x, y)
        if (
            abs(got.red() - want.red()) < 40
            and abs(got.green() - want.green()) < 40
            and abs(got.blue() - want.blue()) < 40
        ):
            return True
    return False


def test_a_graph_is_drawn_from_the_demo_source(catalogue: Catalogue) -> None:
    source = DemoSource(now=NOW.timestamp)
    start, end = T0, T0 + timedelta(hours=2)

    panels = graphs.fetch_panels(catalogue, source, ["payments-api"], start, end)
    mark = graphs.Mark(T0 + timedelta(minutes=30), "declared")
    png = draw_panel(panels[0], start, end, zone=LONDON, marks=[mark])

    assert [p.metric.id for p in panels] == ["error_ratio", "latency_p95"]
    image = decoded(png)
    assert (image.width(), image.height()) == (graphs.WIDTH, graphs.HEIGHT)
    middle = image.width() // 2
    assert any(inked(image, x, LINES[0]) for x in range(middle - 20, middle + 20))
    white = QColor("white").rgb()
    assert image.pixel(5, 5) == white
    assert sum(
        1 for x in range(0, image.width(), 8) for y in range(0, image.height(), 8)
        if image.pixel(x, y) != white
    ) > 500  # fmt: skip


def test_a_gap_in_the_data_stays_a_gap(catalogue: Catalogue) -> None:
    start = T0.timestamp()
    times = tuple(start + 60 * n for n in range(101))
    values = tuple(math.nan if 40 <= n <= 60 else 1.0 + (n % 3) * 0.1
                   for n in range(101))  # fmt: skip
    metric = Metric("m", "Queue", "queue", unit="s")
    panel = graphs.Panel("svc", "Service", metric, (Series((), times, values),))
    end = T0 + timedelta(minutes=100)

    image = decoded(draw_panel(panel, T0, end, zone=LONDON))

    def x_at(minute: float) -> int:
        s = image.width() / 640
        left, right = 58 * s, image.width() - 70 * s
        return round(left + (right - left) * minute / 100)

    assert inked(image, x_at(20), LINES[0])
    assert inked(image, x_at(80), LINES[0])
    assert not any(inked(image, x_at(m), LINES[0]) for m in (45, 50, 55))


def declared(path: Path) -> str:
    """A resolved SEV1 on payments-api and card-gateway, in a new store."""
    moments = iter([T0 + timedelta(minutes=m) for m in (5, 20, 50, 90, 90)])
    now: list[datetime] = [T0]

    def clock() -> datetime:
        return now[-1]

    store = Store.open(path, clock=clock)
    try:
        now.append(next(moments))
        incident_id = store.declare(
            title="Card payments failing", severity=1,
            services=["payments-api", "card-gateway"], detected_at=T0, actor="dana",
        ).result()  # fmt: skip
        for status in (Status.MOBILISED, Status.MITIGATED, Status.RESOLVED):
            now.append(next(moments))
            store.change_status(incident_id, status, actor="dana").result()
    finally:
        store.close()
    return incident_id


def report(path: Path, catalogue: Catalogue, source: Any) -> dict[str, Any]:
    incident_id = declared(path)
    store = Store(path, read_only=True)
    try:
        incident, events, check = postmortem.from_store(store, incident_id)
    finally:
        store.close()
    drawn = graphs.incident_graphs(catalogue, source, incident, zone=LONDON, now=NOW)
    return postmortem.report_data(
        incident, events, scale=SeverityScale(), catalogue=catalogue,
        directory=Directory(), targets=DEFAULT_POLICY, verification=check,
        zone=LONDON, now=NOW, graphs=drawn,
    )  # fmt: skip


def test_the_report_embeds_the_graphs_in_html_and_pdf(
    tmp_path: Path, catalogue: Catalogue
) -> None:
    store_path = tmp_path / "mimdesk.sqlite"
    data = report(store_path, catalogue, DemoSource(now=NOW.timestamp))
    pdf = tmp_path / "report.pdf"

    html = postmortem.render_html(data)
    write_html_pdf(pdf, html, title="report")

    assert data["graphs"]["available"]
    titles = [i["title"] for i in data["graphs"]["images"]]
    assert titles == [
        "Payments API \u2014 5xx errors", "Payments API \u2014 p95 latency",
        "Card acquiring gateway \u2014 Availability",
        "Card acquiring gateway \u2014 p95 latency",
    ]  # fmt: skip
    assert html.count('<img src="data:image/png;base64,') == 4
    first = data["graphs"]["images"][0]["png"]
    assert decoded(base64.b64decode(first)).width() == graphs.WIDTH
    listed = subprocess.run(
        [tool("pdfimages"), "-list", str(pdf)], capture_output=True, text=True,
        check=True,
    ).stdout.splitlines()[2:]  # fmt: skip
    sizes = {(line.split()[3], line.split()[4]) for line in listed}
    assert sizes == {(str(graphs.WIDTH), str(graphs.HEIGHT))}
    assert len({line.split()[10] for line in listed}) == 4


def test_markdown_graphs_are_files_beside_the_report(
    tmp_path: Path, catalogue: Catalogue
) -> None:
    from mimdesk.cli_report import write_report

    data = report(tmp_path / "mimdesk.sqlite", catalogue, DemoSource(now=NOW.timestamp))
    output = tmp_path / "out" / "INC.md"
    output.parent.mkdir()

    write_report(data, "md", output)

    files = sorted(p.name for p in (tmp_path / "out" / "INC-graphs").iterdir())
    assert files[0] == "01-payments-api-error_ratio.png"
    assert len(files) == 4
    text = output.read_text(encoding="utf-8")
    link = "(INC-graphs/01-payments-api-error_ratio.png)"
    assert f"![Payments API \u2014 5xx errors]{link}" in text


class DeadSource:
    def query_range(
        self, expr: str, start: float, end: float, step: int
    ) -> QueryResult:
        raise Unreachable("connection refused")


def test_a_dead_source_leaves_a_report_that_says_graphs_are_unavailable(
    tmp_path: Path, catalogue: Catalogue
) -> None:
    data = report(tmp_path / "mimdesk.sqlite", catalogue, DeadSource())

    assert not data["graphs"]["available"]
    assert "Graphs unavailable: connection refused." in postmortem.render_html(data)
    assert "Graphs unavailable: connection refused." in postmortem.render_markdown(data)


def test_without_graphs_the_report_says_they_were_not_drawn(
    tmp_path: Path, catalogue: Catalogue
) -> None:
    data = report(tmp_path / "mimdesk.sqlite", catalogue, None)

    assert data["graphs"]["reason"] == "no monitoring source configured"
    assert "Graphs unavailable: no monitoring source configured." in (
        postmortem.render_markdown(data)
    )
