"""A tile's graph: two metrics, thresholds, gaps, stale stretches, off-scale marks.

Every item is made once; a refresh only calls setData/setValue, so a wall that
refreshes for weeks keeps the same scene (see case C24).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import tzinfo
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics

from mimdesk.domain.series import Series
from mimdesk.domain.wall import MetricView
from mimdesk.ui.theme import Theme
from mimdesk.ui.wall_data import (
    panel_data,
    scaled_levels,
    time_ticks,
    y_range,
)

log = logging.getLogger(__name__)

# Room kept above and below the data, as a share of its range; off-scale marks
# sit in the top and bottom half of it.
Y_PAD = 0.08
# Roughly how wide a tick label is, in points, to decide how many fit.
TICK_LABEL_PT = 56
TICK_PT = 10.5
# The widest y tick label an axis keeps room for (format_value keeps 4 digits).
AXIS_SAMPLE = "-888.8k  "


class ZoneAxis(pg.AxisItem):  # type: ignore[misc]
    """A time axis labelled in a chosen zone (abbreviation shown where it changes)."""

    def __init__(self, zone: tzinfo) -> None:
        super().__init__(orientation="bottom")
        self.zone = zone
        self.font_pt = TICK_PT
        self._labels: dict[float, str] = {}

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list[Any]:
        most = int(size / (TICK_LABEL_PT * self.font_pt / TICK_PT)) or 1
        ticks = time_ticks(minVal, maxVal, self.zone, most)
        self._labels = dict(ticks)
        return [(0, [t for t, _ in ticks])]

    def tickStrings(
        self, values: list[float], scale: float, spacing: float
    ) -> list[str]:
        return [self._labels.get(v, "") for v in values]


class _Panel:
    """The items of one metric in one view box: line, stale line, marks, levels.

    The lines are PlotCurveItems: this class sets the ranges itself, so the
    bookkeeping a PlotDataItem does on every setData would buy nothing. Items
    with nothing to draw are hidden rather than given empty data."""

    def __init__(self, box: pg.ViewBox, style: Qt.PenStyle) -> None:
        self.fresh = pg.PlotCurveItem(connect="finite")
        self.stale = pg.PlotCurveItem(connect="finite")
        self.marks = pg.ScatterPlotItem(pen=None)
        self.levels = [pg.InfiniteLine(angle=0, movable=False) for _ in range(2)]
        self.box, self.style = box, style
        self.data = panel_data((), scale=1.0, stale_limit=0.0)
        # What `data` was made from, to skip the work when a refresh repeats it.
        self._source: tuple[tuple[Series, ...], float, float] = ((), 1.0, 0.0)
        self._marked: tuple[float, float] | None = None
        for item in (*self.levels, self.fresh, self.stale, self.marks):
            box.addItem(item)
        for item in (self.stale, self.marks):
            item.setVisible(False)

    def set_look(self, theme: Theme, scale: float, colour: str) -> None:
        """Pens for a theme; lines thicken with the type so a 4K wall reads them.

        Whole pixels: a line 2 px wide costs Qt's raster engine twice the time of a
        1 px one (see bench/wall.py), so 1080p draws 1 px lines."""
        width = max(1, round(scale))
        faded = QColor(colour)
        faded.setAlphaF(0.55)
        self.fresh.setPen(pg.mkPen(colour, width=width))
        self.stale.setPen(pg.mkPen(faded, width=width, style=Qt.PenStyle.DashLine))
        self.marks.setBrush(pg.mkBrush(colour))
        self.marks.setSize(round(11 * scale))
        for line, level_colour in zip(
            self.levels, (theme.warning, theme.danger), strict=True
        ):
            line.setPen(pg.mkPen(level_colour, width=width, style=self.style))

    def show(self, view: MetricView | None, stale_limit: float) -> None:
        """Draw `view` (nothing for None); only what changed is set again."""
        series = view.series if view else ()
        scale = view.metric.scale if view else 1.0
        if not self._drawn(series, scale, stale_limit):
            self.data = panel_data(series, scale=scale, stale_limit=stale_limit)
            self._source = (series, scale, stale_limit)
            self._draw_lines()
        levels = (
            scaled_levels(view.metric.thresholds, view.metric.scale) if view else ()
        )
        self._show_levels(levels)
        low, high = y_range(self.data.low, self.data.high, levels)
        pad = (high - low) * Y_PAD
        self._mark(low - pad / 2, high + pad / 2)
        if self.box.viewRange()[1] != [low - pad, high + pad]:
            self.box.setYRange(low - pad, high + pad, padding=0)
            # Move the items now: left to the paint, the move would ask for a
            # second repaint of the tile right after the first.
            self.box.updateMatrix()
        shown = view is not None
        _visible(self.fresh, shown)
        _visible(self.stale, shown and self.data.stale.size > 0)
        _visible(self.marks, shown and self._marked is not None)

    def _drawn(self, series: tuple[Series, ...], scale: float, limit: float) -> bool:
        """Whether `data` already holds these very series (a repeated refresh)."""
        drawn, drawn_scale, drawn_limit = self._source
        return (
            len(drawn) == len(series)
            and all(a is b for a, b in zip(drawn, series, strict=True))
            and (drawn_scale, drawn_limit) == (scale, limit)
        )

    def _draw_lines(self) -> None:
        data = self.data
        # Without a NaN the path is one polygon, the cheapest Qt draws.
        whole = not np.isnan(data.fresh).any()
        self.fresh.setData(
            data.x,
            data.fresh,
            connect="all" if whole else "finite",
            skipFiniteCheck=whole,
        )
        if data.stale.size:
            self.stale.setData(data.x, data.stale)
        self._marked = None

    def _show_levels(self, levels: tuple[float | None, ...]) -> None:
        for line, level in zip(self.levels, (*levels, None, None), strict=False):
            _visible(line, level is not None)
            if level is not None and line.value() != level:
                line.setValue(level)

    def _mark(self, bottom: float, top: float) -> None:
        """Triangles at the edge for +/-inf; set again only when they move."""
        data = self.data
        if not (data.top.size or data.bottom.size) or self._marked == (bottom, top):
            return
        self._marked = (bottom, top)
        xs = [*data.top.tolist(), *data.bottom.tolist()]
        ys = [top] * data.top.size + [bottom] * data.bottom.size
        symbols = ["t1"] * data.top.size + ["t"] * data.bottom.size
        self.marks.setData(x=xs, y=ys, symbol=symbols)


def _visible(item: pg.GraphicsObject, visible: bool) -> None:
    if item.isVisible() != visible:
        item.setVisible(visible)


class HealthPlot(pg.PlotWidget):  # type: ignore[misc]
    """The graph of a tile: the first metric on the left axis, the second on the
    right, the last `hours` hours along the bottom in `zone`."""

    def __init__(self, theme: Theme, zone: tzinfo, colours: Sequence[str]) -> None:
        """`colours`: the first and the second metric's line colour."""
        self.axis = ZoneAxis(zone)
        super().__init__(axisItems={"bottom": self.axis}, background=theme.panel)
        plot = self.getPlotItem()
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.setMouseEnabled(x=False, y=False)
        plot.disableAutoRange()
        self.second = pg.ViewBox(enableMouse=False)
        self.second.disableAutoRange()
        plot.scene().addItem(self.second)
        plot.getAxis("right").linkToView(self.second)
        self.second.setXLink(plot)
        plot.getViewBox().sigResized.connect(self._on_box_resized)
        for name in ("left", "right", "bottom"):
            # No axis shows a label, so SI scaling never shows either; left on,
            # every range change would re-lay out the hidden label's HTML.
            plot.getAxis(name).enableAutoSIPrefix(False)
        boxes = (plot.getViewBox(), self.second)
        styles = (Qt.PenStyle.DashLine, Qt.PenStyle.DotLine)
        self.panels = [
            _Panel(box, style) for box, style in zip(boxes, styles, strict=True)
        ]
        self.set_look(theme, 1.0, colours)

    def sizeHint(self) -> QSize:
        # pyqtgraph asks for 600x480; a tile's graph takes what the grid gives.
        return QSize(320, 140)

    def _on_box_resized(self) -> None:
        self.second.setGeometry(self.getPlotItem().getViewBox().sceneBoundingRect())

    def set_look(self, theme: Theme, scale: float, colours: Sequence[str]) -> None:
        """Colours, pens and tick type for a theme and text scale."""
        self.setBackground(theme.panel)
        for panel, colour in zip(self.panels, colours, strict=True):
            panel.set_look(theme, scale, colour)
        font = QFont()
        font.setPointSizeF(TICK_PT * scale)
        self.axis.font_pt = TICK_PT * scale
        for name in ("left", "right", "bottom"):
            axis = self.getPlotItem().getAxis(name)
            axis.setPen(pg.mkPen(theme.border))
            axis.setTextPen(pg.mkPen(theme.muted))
            axis.setTickFont(font)
            axis.setStyle(tickTextOffset=round(4 * scale))
        # Room for the labels up front: pyqtgraph only widens an axis a paint
        # after its labels stopped fitting, and a wall may be grabbed before that.
        metrics = QFontMetrics(font)
        plot = self.getPlotItem()
        plot.getAxis("bottom").setHeight(metrics.height() + round(12 * scale))
        for name in ("left", "right"):
            plot.getAxis(name).setWidth(metrics.horizontalAdvance(AXIS_SAMPLE))

    def show_panels(
        self,
        views: Sequence[MetricView],
        *,
        start: float,
        end: float,
        stale_limit: float,
    ) -> None:
        """Draw `views` (at most two) over [start, end]."""
        plot = self.getPlotItem()
        box = plot.getViewBox()
        if box.viewRange()[0] != [start, end]:
            box.setXRange(start, end, padding=0)
            for linked in (box, self.second):
                linked.updateMatrix()
        for index, panel in enumerate(self.panels):
            panel.show(views[index] if index < len(views) else None, stale_limit)
        right = plot.getAxis("right")
        if right.isVisible() != (len(views) > 1):
            plot.showAxis("right", show=len(views) > 1)
