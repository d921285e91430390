"""One health graph drawn to a PNG for printed reports: the metric's series
over a window, warning and critical lines, milestones, a time axis in the
chosen zone. White paper, dark ink; a gap in the data stays a gap.

Drawn with QPainter on a QImage, so it needs no window and no screen.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, tzinfo
from itertools import pairwise
from typing import TYPE_CHECKING

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QPointF, QRectF, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QImage,
    QPainter,
    QPainterPath,
    QPen,
)

from mimdesk.domain.health import format_value
from mimdesk.domain.series import break_gaps
from mimdesk.domain.times import zone_abbreviation
from mimdesk.ui.pdf import ensure_app
from mimdesk.ui.wall_data import time_ticks

if TYPE_CHECKING:
    from mimdesk.graphs import Mark, Panel

INK = QColor("#111111")
GRID = QColor("#d9d9d9")
FRAME = QColor("#777777")
WARNING = QColor("#c77700")
CRITICAL = QColor("#b00000")
MARK = QColor("#555555")
LINES = ("#1d4e89", "#2a9d8f", "#6a4c93", "#e76f51", "#264653", "#8d6e63")
MAX_LINES = len(LINES)
BASE_WIDTH = 640  # the logical width the fonts are sized for


def draw_panel(
    panel: Panel,
    start: datetime,
    end: datetime,
    *,
    zone: tzinfo,
    marks: Sequence[Mark] = (),
    width: int = 1600,
    height: int = 520,
) -> bytes:
    """The panel as PNG bytes, `width` by `height` pixels."""
    ensure_app()
    image = QImage(width, height, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    try:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        _Graph(painter, panel, width, height).draw(
            start.timestamp(), end.timestamp(), zone, marks
        )
    finally:
        painter.end()
    return _png(image)


def _png(image: QImage) -> bytes:
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    # The stubs say bytes; PySide6 itself takes only a str here.
    image.save(buffer, "PNG")  # type: ignore[call-overload]
    buffer.close()
    return bytes(data.data())


def nice_step(span: float, most: int) -> float:
    """A round step (1, 2 or 5 times a power of ten) giving at most `most` ticks."""
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / max(1, most)
    power = 10.0 ** math.floor(math.log10(raw))
    return next((m * power for m in (1, 2, 5, 10) if m * power >= raw), 10 * power)


class _Graph:
    """Lays out and paints one graph on `painter` (sizes in image pixels)."""

    def __init__(self, painter: QPainter, panel: Panel, width: int, height: int):
        self.p, self.panel = painter, panel
        self.s = width / BASE_WIDTH
        self.w, self.h = width, height
        self.font = QFont()
        self.font.setPixelSize(round(10 * self.s))
        self.bold = QFont(self.font)
        self.bold.setPixelSize(round(11.5 * self.s))
        self.bold.setBold(True)
        scale = panel.metric.scale
        self.lines = [
            (t, [v * scale if math.isfinite(v) else math.nan for v in vals])
            for t, vals in self._series()
        ]
        thresholds = panel.metric.thresholds
        self.levels = [
            (level * scale, name, colour)
            for level, name, colour in (
                (thresholds.warning, "warning", WARNING),
                (thresholds.critical, "critical", CRITICAL),
            )
            if level is not None and math.isfinite(level)
        ]

    def _series(self) -> list[tuple[list[float], list[float]]]:
        out = []
        for series in self.panel.series[:MAX_LINES]:
            times, values = list(series.times), list(series.values)
            step = min(
                (b - a for a, b in pairwise(times) if b > a),
                default=60.0,
            )
            out.append(break_gaps(times, values, step))
        return out

    def draw(
        self, start: float, end: float, zone: tzinfo, marks: Sequence[Mark]
    ) -> None:
        s = self.s
        self.plot = QRectF(58 * s, 30 * s, self.w - 58 * s - 70 * s, self.h - 58 * s)
        self.x0, self.x1 = start, max(end, start + 1)
        self.y0, self.y1 = self._y_range()
        self._title()
        self._grid_and_axes(zone)
        self._thresholds()
        self._marks(marks)
        self._data()
        self.p.setPen(QPen(FRAME, 1 * s))
        self.p.setBrush(Qt.BrushStyle.NoBrush)
        self.p.drawRect(self.plot)

    def _y_range(self) -> tuple[float, float]:
        values = [v for _, vals in self.lines for v in vals if math.isfinite(v)]
        values += [level for level, _, _ in self.levels]
        if not values:
            return 0.0, 1.0
        low, high = min(values), max(values)
        if low == high:
            pad = abs(low) * 0.1 or 1.0
            return low - pad, high + pad
        pad = (high - low) * 0.08
        low = 0.0 if low >= 0 and low - pad < 0 else low - pad
        return low, high + pad

    def x(self, t: float) -> float:
        share = (t - self.x0) / (self.x1 - self.x0)
        return self.plot.left() + share * self.plot.width()

    def y(self, v: float) -> float:
        share = (v - self.y0) / (self.y1 - self.y0)
        return self.plot.bottom() - share * self.plot.height()

    def _title(self) -> None:
        p, s = self.p, self.s
        p.setPen(INK)
        p.setFont(self.bold)
        unit = self.panel.metric.unit
        title = self.panel.title + (f" ({unit})" if unit else "")
        p.drawText(QPointF(self.plot.left(), 20 * s), title)
        if len(self.panel.series) > 1:
            self._legend()

    def _legend(self) -> None:
        p, s = self.p, self.s
        p.setFont(self.font)
        x = self.plot.right()
        for n, series in reversed(list(enumerate(self.panel.series[:MAX_LINES]))):
            text = series.name[:28] or f"series {n + 1}"
            x -= p.fontMetrics().horizontalAdvance(text) + 22 * s
            p.setPen(QPen(QColor(LINES[n]), 2.5 * s))
            p.drawLine(QPointF(x, 16 * s), QPointF(x + 12 * s, 16 * s))
            p.setPen(INK)
            p.drawText(QPointF(x + 15 * s, 20 * s), text)

    def _grid_and_axes(self, zone: tzinfo) -> None:
        p, s, plot = self.p, self.s, self.plot
        p.setFont(self.font)
        step = nice_step(self.y1 - self.y0, 5)
        value = math.ceil(self.y0 / step) * step
        while value <= self.y1 + step * 1e-9:
            y = self.y(value)
            p.setPen(QPen(GRID, 1 * s))
            p.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
            p.setPen(INK)
            label = format_value(round(value, 10), self.panel.metric.unit)
            box = QRectF(0, y - 8 * s, plot.left() - 5 * s, 16 * s)
            p.drawText(box, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                       label)  # fmt: skip
            value += step
        for instant, text in time_ticks(self.x0, self.x1, zone, 8):
            x = self.x(instant)
            p.setPen(QPen(GRID, 1 * s))
            p.drawLine(QPointF(x, plot.top()), QPointF(x, plot.bottom()))
            p.setPen(INK)
            box = QRectF(x - 40 * s, plot.bottom() + 3 * s, 80 * s, 14 * s)
            p.drawText(box, Qt.AlignmentFlag.AlignHCenter, text)
        moment = datetime.fromtimestamp(self.x0, UTC)
        zone_text = f"time ({zone_abbreviation(moment, zone)}, {zone})"
        box = QRectF(plot.left(), plot.bottom() + 16 * s, plot.width(), 14 * s)
        p.drawText(box, Qt.AlignmentFlag.AlignRight, zone_text)

    def _thresholds(self) -> None:
        p, s = self.p, self.s
        for level, name, colour in self.levels:
            y = self.y(level)
            pen = QPen(colour, 1.6 * s, Qt.PenStyle.DashLine)
            p.setPen(pen)
            p.drawLine(QPointF(self.plot.left(), y), QPointF(self.plot.right(), y))
            p.setFont(self.font)
            p.setPen(colour)
            p.drawText(QPointF(self.plot.right() + 4 * s, y + 4 * s), name)

    def _marks(self, marks: Sequence[Mark]) -> None:
        p, s = self.p, self.s
        p.setFont(self.font)
        ends: list[float] = []  # where the label on each row ends
        for mark in sorted(marks, key=lambda m: m.at):
            t = mark.at.timestamp()
            if not self.x0 <= t <= self.x1:
                continue
            x = self.x(t)
            p.setPen(QPen(MARK, 1 * s, Qt.PenStyle.DotLine))
            p.drawLine(QPointF(x, self.plot.top()), QPointF(x, self.plot.bottom()))
            # A label too close to the one before goes on the next row down.
            row = next((n for n, end in enumerate(ends) if end < x), len(ends))
            if row == len(ends):
                ends.append(0.0)
            ends[row] = x + 6 * s + p.fontMetrics().horizontalAdvance(mark.label)
            p.setPen(MARK)
            p.drawText(QPointF(x + 3 * s, self.plot.top() + (11 + 11 * row) * s),
                       mark.label)  # fmt: skip

    def _data(self) -> None:
        p, s = self.p, self.s
        if not any(math.isfinite(v) for _, vals in self.lines for v in vals):
            p.setPen(MARK)
            p.setFont(self.bold)
            why = self.panel.problem or "no data in this window"
            p.drawText(self.plot, Qt.AlignmentFlag.AlignCenter, why)
            return
        p.save()
        p.setClipRect(self.plot)
        p.setBrush(Qt.BrushStyle.NoBrush)
        for n, (times, values) in enumerate(self.lines):
            p.setPen(QPen(QColor(LINES[n]), 2.2 * s))
            p.drawPath(self._path(times, values))
        p.restore()

    def _path(self, times: Sequence[float], values: Sequence[float]) -> QPainterPath:
        """One line, lifted at every NaN so a gap is drawn as a gap; a lone
        sample between gaps is a dot."""
        path = QPainterPath()
        drawing = False
        for n, (t, v) in enumerate(zip(times, values, strict=True)):
            if not math.isfinite(v):
                drawing = False
                continue
            point = QPointF(self.x(t), self.y(v))
            if drawing:
                path.lineTo(point)
                continue
            path.moveTo(point)
            drawing = True
            following = values[n + 1] if n + 1 < len(values) else math.nan
            if not math.isfinite(following):
                path.addEllipse(point, 1.5 * self.s, 1.5 * self.s)
        return path
