"""View > Response metrics…: the figures of `mimdesk metrics` with two charts,
the duration spreads (median and 90th percentile) and incidents by severity."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDialog, QLabel, QVBoxLayout, QWidget

from mimdesk.domain import metrics as model
from mimdesk.domain.times import format_ago
from mimdesk.ui.theme import Theme

if TYPE_CHECKING:
    import pyqtgraph as pg

    from mimdesk.ui.console import ConsoleContext

LABELS = ("acknowledge", "mobilise", "mitigate", "resolve")


class _Console(Protocol):
    @property
    def ctx(self) -> ConsoleContext: ...
    @property
    def theme(self) -> Theme: ...

    def _action(
        self, menu: Any, text: str, shortcut: str | None, slot: Callable[[], object]
    ) -> QAction: ...
    def window(self) -> QWidget: ...


def summary_text(found: model.Metrics, *, demo: bool) -> str:
    def span(value: Any) -> str:
        return "-" if value is None else format_ago(value)

    which = "DEMO ones included" if demo else "DEMO ones left out"
    lines = [f"{found.incidents} incident(s), {which}"]
    for label, s in zip(LABELS, found.spreads.values(), strict=True):
        lines.append(
            f"time to {label}: median {span(s.median)}, 90th percentile "
            f"{span(s.p90)} ({s.count})"
        )
    lines.append(f"targets met: {found.targets_met} of {found.targets_judged}")
    lines.append(f"update cadence kept: {found.cadence_kept} of {found.cadence_judged}")
    return "\n".join(lines)


def _bars(theme: Theme, found: model.Metrics) -> pg.PlotWidget:
    import pyqtgraph as pg  # loaded when the metrics are shown

    """Median and 90th percentile of each duration, in minutes."""
    plot = pg.PlotWidget(background=theme.panel)
    plot.setObjectName("metrics-durations")
    plot.setMenuEnabled(False)
    plot.setMouseEnabled(x=False, y=False)
    plot.setTitle("Minutes: median (left), 90th percentile (right)")
    spreads = list(found.spreads.values())
    for offset, pick, colour in ((-0.2, "median", theme.accent),
                                 (0.2, "p90", theme.warning)):  # fmt: skip
        heights = [
            (getattr(s, pick).total_seconds() / 60 if getattr(s, pick) else 0)
            for s in spreads
        ]
        xs = [n + offset for n in range(len(spreads))]
        plot.addItem(pg.BarGraphItem(x=xs, height=heights, width=0.38, brush=colour))
    plot.getAxis("bottom").setTicks([list(enumerate(LABELS))])
    return plot


def _severities(theme: Theme, found: model.Metrics) -> pg.PlotWidget:
    import pyqtgraph as pg  # loaded when the metrics are shown

    plot = pg.PlotWidget(background=theme.panel)
    plot.setObjectName("metrics-severity")
    plot.setMenuEnabled(False)
    plot.setMouseEnabled(x=False, y=False)
    plot.setTitle("Incidents by severity")
    levels = [1, 2, 3, 4]
    brushes = [theme.severity[n - 1] for n in levels]
    counts = [found.by_severity.get(n, 0) for n in levels]
    plot.addItem(pg.BarGraphItem(x=levels, height=counts, width=0.6, brushes=brushes))
    plot.getAxis("bottom").setTicks([[(n, f"SEV{n}") for n in levels]])
    return plot


class MetricsDialog(QDialog):
    """The metrics over every incident in the store (no signals)."""

    def __init__(
        self, theme: Theme, found: model.Metrics, parent: QWidget, *, demo: bool
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Response metrics")
        self.summary = QLabel(summary_text(found, demo=demo))
        self.summary.setObjectName("metrics-summary")
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(_bars(theme, found))
        layout.addWidget(_severities(theme, found))
        self.resize(640, 640)


class MetricsAction(QObject):
    """The View menu's entry that opens the metrics."""

    def __init__(self, console: _Console, menu: Any) -> None:
        super().__init__(console.window())
        self.console = console
        self.dialog: MetricsDialog | None = None
        self.action = console._action(menu, "Response &metrics\u2026", None, self.show)

    def found(self, now: datetime) -> model.Metrics:
        # FIXME(metrics): every journal is read on the GUI thread; many years of
        # incidents would want a worker and a cache.
        store, ctx = self.console.ctx.store, self.console.ctx
        chosen = model.chosen(
            store.incidents(limit=100_000), since=None, include_demo=ctx.demo
        )
        journals = [(i, store.timeline(i.id)) for i in chosen]
        return model.metrics(journals, ctx.targets, now)

    def show(self) -> None:
        found = self.found(self.console.ctx.clock.now())
        if self.dialog is not None:
            self.dialog.close()
        self.dialog = MetricsDialog(
            self.console.theme, found, self.console.window(), demo=self.console.ctx.demo
        )
        self.dialog.show()
