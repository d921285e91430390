"""A service tile: name, status in colour and words, headline value, graph."""

from __future__ import annotations

import logging
from datetime import tzinfo

from PySide6.QtCore import Qt
from PySide6.QtGui import QPainter, QPaintEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout

from mimdesk.domain.health import Health
from mimdesk.domain.wall import MetricView, Tile
from mimdesk.ui.theme import Theme, health_look, pill
from mimdesk.ui.wall_plot import HealthPlot

log = logging.getLogger(__name__)

PARTIAL = "PARTIAL DATA"


def panel_colours(theme: Theme) -> tuple[str, str]:
    """Line colours of a tile's first and second metric."""
    return theme.accent, theme.status_mitigated


def tile_stylesheet(theme: Theme, scale: float) -> str:
    """Type and frames for every tile under a widget; `scale` enlarges the type."""

    def pt(size: float) -> str:
        return f"{size * scale:.1f}pt"

    return f"""
    HealthTile {{ background: {theme.panel}; border: 1px solid {theme.border};
        border-radius: 6px; }}
    QLabel#TileName {{ font-size: {pt(14)}; font-weight: 700; }}
    QLabel#TileHeadline {{ font-size: {pt(22)}; font-weight: 700;
        font-family: "DejaVu Sans Mono", monospace; }}
    QLabel#TileDetail {{ font-size: {pt(11)}; color: {theme.text}; }}
    QLabel#TileNotes, QLabel#TileLegend {{ font-size: {pt(10)}; color: {theme.muted}; }}
    QLabel#TileStatus, QLabel#TileDemo, QLabel#TilePartial {{ font-size: {pt(11)}; }}
    QLabel#TileAlert {{ font-size: {pt(12)}; font-weight: 700; }}
    """


class ElidedLabel(QLabel):
    """One line of text, cut with '…' when the tile is narrower than it."""

    def __init__(self) -> None:
        super().__init__()
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        metrics = self.fontMetrics()
        text = metrics.elidedText(
            self.text(), Qt.TextElideMode.ElideRight, self.width()
        )
        painter.setPen(self.palette().windowText().color())
        painter.drawText(self.rect(), int(Qt.AlignmentFlag.AlignVCenter), text)
        painter.end()


def _set(label: QLabel, text: str, tip: str | None = None) -> None:
    """Change a label only if it differs: a refresh repaints what changed."""
    if label.text() != text:
        label.setText(text)
    if tip is not None and label.toolTip() != tip:
        label.setToolTip(tip)


def _label(name: str, wrap: bool = False) -> QLabel:
    label = QLabel()
    label.setObjectName(name)
    label.setWordWrap(wrap)
    return label


def _notes(views: tuple[MetricView, ...]) -> str:
    """Query errors, and what was changed to draw the data ("resolution ...")."""
    lines = [f"{v.metric.name}: {v.error}" for v in views if v.error]
    lines += [note for v in views for note in v.notes]
    return " · ".join(dict.fromkeys(lines))


class HealthTile(QFrame):
    """Shows one service's `Tile`; made once and refreshed with `show_tile`."""

    def __init__(
        self,
        service_id: str,
        theme: Theme,
        zone: tzinfo,
        *,
        stale_limit: float,
        hours: float,
    ) -> None:
        super().__init__()
        self.setObjectName(f"HealthTile:{service_id}")
        self.service_id = service_id
        self.theme, self.stale_limit, self.hours = theme, stale_limit, hours
        self.health: Health | None = None
        self.band = QFrame()
        self.band.setObjectName("StatusBand")
        self.name = ElidedLabel()
        self.name.setObjectName("TileName")
        self.status = _label("TileStatus")
        self.demo = _label("TileDemo")
        self.demo.setText("DEMO")
        self.partial = _label("TilePartial")
        self.partial.setText(PARTIAL)
        self.alert = ElidedLabel()
        self.alert.setObjectName("TileAlert")
        self.alert.hide()
        self.headline = _label("TileHeadline")
        self.detail = _label("TileDetail", wrap=True)
        self.notes = _label("TileNotes", wrap=True)
        self.legend = _label("TileLegend", wrap=True)
        self.plot = HealthPlot(theme, zone, panel_colours(theme))
        self._layout()
        self.set_look(theme, 1.0)

    def _layout(self) -> None:
        top = QHBoxLayout()
        top.addWidget(self.name, 1)
        for badge in (self.partial, self.demo, self.status):
            top.addWidget(badge)
        value = QHBoxLayout()
        value.setSpacing(12)
        value.addWidget(self.headline)
        value.addWidget(self.detail, 1)
        body = QVBoxLayout()
        body.setSpacing(2)
        body.addLayout(top)
        body.addWidget(self.alert)
        body.addLayout(value)
        body.addWidget(self.plot, 1)
        body.addWidget(self.legend)
        body.addWidget(self.notes)
        outer = QHBoxLayout(self)
        outer.setContentsMargins(0, 0, 6, 4)
        outer.addWidget(self.band)
        outer.addLayout(body, 1)
        self.band.setFixedWidth(10)

    def set_look(self, theme: Theme, scale: float) -> None:
        """Colours and type size (the type itself comes from tile_stylesheet)."""
        self.theme = theme
        self.plot.set_look(theme, scale, panel_colours(theme))
        self.demo.setStyleSheet(pill(theme.demo, compact=True))
        self.partial.setStyleSheet(pill(theme.warning, filled=False, compact=True))
        self.plot.setMinimumHeight(round(90 * scale))
        self._paint_status(force=True)

    def show_tile(self, tile: Tile, *, demo: bool, now: float) -> None:
        """Draw `tile` as of `now` (Unix seconds); `demo` marks invented data."""
        _set(self.name, tile.service.name, f"{tile.service.name} ({tile.service.id})")
        _set(self.headline, tile.headline or "\u2014")
        _set(self.detail, tile.detail)
        self.demo.setVisible(demo)
        warnings = [w for v in tile.metrics for w in v.warnings]
        self.partial.setVisible(tile.partial)
        _set(self.partial, PARTIAL, "\n".join(dict.fromkeys(warnings)))
        notes = _notes(tile.metrics)
        _set(self.notes, notes)
        self.notes.setVisible(bool(notes))
        _set(self.legend, self._legend(tile.panels))
        self._show_alerts(tile)
        self.health = tile.health
        self._paint_status()
        self.plot.show_panels(
            tile.panels,
            start=now - self.hours * 3600,
            end=now,
            stale_limit=self.stale_limit,
        )

    def _show_alerts(self, tile: Tile) -> None:
        """'ALERT: HighErrorRate', one line, cut if too long; in the warning or
        critical colour when the tile is, else in plain text colour."""
        line = tile.alert_line
        _set(self.alert, line, "\n".join(tile.alerts))
        self.alert.setVisible(bool(line))
        breached = tile.health in (Health.WARNING, Health.CRITICAL)
        colour = (
            health_look(self.theme, tile.health)[0] if breached else self.theme.text
        )
        style = f"color:{colour};"
        if self.alert.styleSheet() != style:
            self.alert.setStyleSheet(style)

    def _legend(self, views: tuple[MetricView, ...]) -> str:
        """Which line is which metric, as rich text in the lines' colours."""
        sides = (", left", ", right") if len(views) > 1 else ("",)
        parts = [
            f'<span style="color:{colour}">\u2501\u2501</span> {v.metric.name} '
            f"({v.metric.unit or 'value'}{side})"
            for v, colour, side in zip(
                views, panel_colours(self.theme), sides, strict=False
            )
        ]
        return " &nbsp;&nbsp; ".join(parts)

    def _paint_status(self, force: bool = False) -> None:
        if self.health is None:
            self.status.setVisible(False)
            return
        colour, filled = health_look(self.theme, self.health)
        style = pill(colour, filled=filled, compact=True)
        if force or self.status.styleSheet() != style:
            self.status.setStyleSheet(style)
            self.band.setStyleSheet(f"background:{colour}; border-radius:3px;")
        _set(self.status, self.health.label)
        self.status.setVisible(True)
