"""Service tiles: words beside colours, honest graphs, a scene that does not grow."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from mimdesk.domain.alerts import AlertRecord
from mimdesk.domain.catalogue import Metric, Service
from mimdesk.domain.health import Health, MetricHealth, Thresholds
from mimdesk.domain.series import Series, parse_value
from mimdesk.domain.wall import MetricView, Tile
from mimdesk.ui.health_feed import HealthFeed
from mimdesk.ui.theme import DARK
from mimdesk.ui.wall_data import panel_data, time_ticks, y_range
from mimdesk.ui.wall_grid import WallGrid
from mimdesk.ui.wall_tile import HealthTile

from . import wall_states

pytestmark = pytest.mark.gui

CASES = Path(__file__).parent.parent / "fixtures" / "cases"
C01 = json.loads((CASES / "C01.json").read_text())
LONDON = ZoneInfo("Europe/London")


def _c01_series() -> Series:
    values = C01["response"]["body"]["data"]["result"][0]["values"]
    times = tuple(float(t) for t, _ in values)
    return Series(
        (("service", "svc-a"),), times, tuple(parse_value(v) for _, v in values)
    )


def _tile(
    health: Health = Health.OK,
    *,
    series: tuple[Series, ...] = (),
    thresholds: Thresholds | None = None,
    warnings: tuple[str, ...] = (),
    notes: tuple[str, ...] = (),
    headline: str = "1.5",
    detail: str = "",
) -> Tile:
    metric = Metric("errors", "Error ratio", "x", thresholds=thresholds or Thresholds())
    service = Service("svc-a", "Service A", metrics=(metric,))
    view = MetricView(metric, MetricHealth(health), series, warnings, "", notes)
    return Tile(service, health, (view,), headline, detail)


@pytest.fixture
def tile(qtbot) -> HealthTile:
    widget = HealthTile("svc-a", DARK, UTC, stale_limit=30, hours=1 / 60)
    qtbot.addWidget(widget)
    widget.resize(600, 320)
    widget.show()
    return widget


NOW = float(C01["request"]["params"]["end"])


def test_tile_is_named_for_its_service(tile) -> None:
    tile.show_tile(_tile(), demo=False, now=NOW)

    assert tile.objectName() == "HealthTile:svc-a"
    assert tile.name.text() == "Service A"


@pytest.mark.parametrize("health", list(Health))
def test_status_is_said_in_words_not_colour_alone(tile, health) -> None:
    tile.show_tile(_tile(health), demo=False, now=NOW)

    assert tile.status.isVisible()
    assert tile.status.text() == health.label


def test_headline_and_detail_are_shown(tile) -> None:
    shown = _tile(
        Health.NO_DATA, headline="no data", detail="No data (last 0.012, 3 min ago)"
    )
    tile.show_tile(shown, demo=False, now=NOW)

    assert tile.headline.text() == "no data"
    assert tile.detail.text() == "No data (last 0.012, 3 min ago)"


def test_c01_gaps_and_off_scale_marks() -> None:
    data = panel_data([_c01_series()], scale=1.0, stale_limit=60)

    gap_at = C01["expected"]["plot_gaps_at"][0]
    assert math.isnan(data.fresh[list(data.x).index(gap_at)])
    assert data.top.tolist() == C01["expected"]["offscale_markers_at"]["top"]
    assert data.bottom.tolist() == C01["expected"]["offscale_markers_at"]["bottom"]
    assert [data.low, data.high] == C01["expected"]["y_autoscale_range"]
    assert list(y_range(data.low, data.high)) == [0.0, 1.5]
    assert 0.0 not in [data.fresh[1], data.fresh[2], data.fresh[3]]  # never 0 for NaN


def test_c01_tile_axis_stays_finite(tile) -> None:
    tile.show_tile(_tile(series=(_c01_series(),)), demo=False, now=NOW)

    low, high = tile.plot.getPlotItem().getViewBox().viewRange()[1]
    assert math.isfinite(low)
    assert math.isfinite(high)
    assert -0.2 < low <= 0.0
    assert 1.5 <= high < 1.7
    marks = tile.plot.panels[0].marks
    assert len(marks.data) == 2  # one at the top, one at the bottom


def test_missing_scrapes_break_the_line() -> None:
    times = (0.0, 15.0, 30.0, 90.0, 105.0)
    series = Series((), times, (1.0, 2.0, 3.0, 4.0, 5.0))

    data = panel_data([series], scale=1.0, stale_limit=1e9)

    assert np.isnan(data.fresh[3])  # inserted between 30 and 90
    assert data.x[3] == 45.0


def test_stale_points_are_drawn_apart() -> None:
    times = (0.0, 15.0, 30.0, 45.0)
    sampled = (0.0, 15.0, 15.0, 15.0)  # a target that stopped after 15 s
    series = Series((), times, (1.0, 2.0, 2.0, 2.0), sampled)

    data = panel_data([series], scale=1.0, stale_limit=20)

    assert data.fresh[:3].tolist()[:2] == [1.0, 2.0]
    assert np.isnan(data.fresh[3])
    assert data.stale[3] == 2.0
    assert data.stale[2] == 2.0  # the dashed line joins the last fresh point


def test_thresholds_are_drawn_in_display_units(tile) -> None:
    levels = Thresholds(0.995, 0.99, high_is_bad=False)
    metric = Metric("a", "Availability", "x", unit="%", thresholds=levels, scale=100)
    view = MetricView(metric, MetricHealth(Health.OK))
    shown = Tile(
        Service("svc-a", "Service A", metrics=(metric,)), Health.OK, (view,), "99.9%"
    )

    tile.show_tile(shown, demo=False, now=NOW)

    lines = tile.plot.panels[0].levels
    assert [line.isVisible() for line in lines] == [True, True]
    assert [line.value() for line in lines] == [
        pytest.approx(99.5),
        pytest.approx(99.0),
    ]


def test_demo_label_only_for_demo_data(tile) -> None:
    tile.show_tile(_tile(), demo=True, now=NOW)
    assert tile.demo.isVisible()

    tile.show_tile(_tile(), demo=False, now=NOW)
    assert not tile.demo.isVisible()


def test_partial_badge_says_why(tile) -> None:
    warning = "partial response: store eu-2 unavailable"
    tile.show_tile(
        _tile(warnings=(warning,), notes=("resolution reduced to 60s",)),
        demo=False,
        now=NOW,
    )

    assert tile.partial.isVisible()
    assert tile.partial.text() == "PARTIAL DATA"
    assert tile.partial.toolTip() == warning
    assert "resolution reduced to 60s" in tile.notes.text()


def test_time_axis_follows_dst() -> None:
    start = datetime(2024, 10, 27, 0, 0, tzinfo=UTC).timestamp()

    ticks = time_ticks(start, start + 3 * 3600, LONDON, most=4)

    assert [label for _, label in ticks] == ["01:00", "01:00 GMT", "02:00", "03:00"]


def _items(grid: WallGrid) -> list[int]:
    return [len(tile.plot.scene().items()) for tile in grid.tiles.values()]


def test_c24_soak_keeps_the_scene(qtbot) -> None:
    grid = WallGrid(DARK, UTC, wall_states.CONFIG, per_page=4)
    qtbot.addWidget(grid)
    grid.resize(1200, 800)
    grid.show()
    for phase in range(5):  # warm-up
        grid.show_state(wall_states.state(4, points=120, phase=phase))
    grid.grab()
    items = _items(grid)
    curves = [tuple(p.fresh for p in t.plot.panels) for t in grid.tiles.values()]

    for phase in range(500):
        grid.show_state(wall_states.state(4, points=120, phase=phase / 7))
        if phase % 100 == 0:
            grid.grab()

    assert _items(grid) == items
    assert [
        tuple(p.fresh for p in t.plot.panels) for t in grid.tiles.values()
    ] == curves


# --- alerts on a tile ---------------------------------------------------------


def _firing(name: str, service: str, severity: str = "critical") -> AlertRecord:
    start = datetime(2026, 12, 3, 13, 55, tzinfo=UTC)
    labels = (("alertname", name), ("service", service), ("severity", severity))
    return AlertRecord(f"id-{name}", labels, "firing", start, None, start, start)


def test_a_firing_alert_is_said_on_its_tile_in_words(tile) -> None:
    alerted = replace(_tile(Health.CRITICAL), alerts=("HighErrorRate",))

    tile.show_tile(alerted, demo=False, now=NOW)

    assert tile.alert.isVisible()
    assert tile.alert.text() == "ALERT: HighErrorRate"
    assert tile.status.text() == "CRITICAL"
    assert DARK.danger in tile.alert.styleSheet()


def test_the_alert_line_goes_when_the_alert_resolves(tile) -> None:
    tile.show_tile(replace(_tile(), alerts=("A",)), demo=False, now=NOW)
    tile.show_tile(_tile(), demo=False, now=NOW)

    assert not tile.alert.isVisible()


def test_a_long_alert_line_keeps_the_tile_its_size(tile) -> None:
    names = tuple(f"VeryLongAlertNameNumber{n}" for n in range(12))
    before = tile.size()

    tile.show_tile(replace(_tile(), alerts=names), demo=False, now=NOW)

    assert tile.size() == before
    assert tile.alert.sizeHint().height() < tile.height() / 4


def test_the_health_feed_puts_firing_alerts_on_the_tiles(qtbot) -> None:
    feed = HealthFeed(wall_states.state(2))
    service = feed.latest.tiles[0].service.id

    with qtbot.waitSignal(feed.state_changed):
        feed.set_alerts([_firing("HighErrorRate", service)])
    first = feed.latest.tiles[0]
    with qtbot.waitSignal(feed.state_changed):  # the next poll keeps them on
        feed.publish(wall_states.state(2))

    assert first.alert_line == "ALERT: HighErrorRate"
    assert first.health is Health.CRITICAL
    assert feed.latest.tiles[0].alerts == ("HighErrorRate",)
    assert feed.latest.tiles[1].alerts == ()
