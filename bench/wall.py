"""Full wall refresh: MIMDesk's tiles against a bare pyqtgraph script doing the same
setData + repaint on 48 PlotWidgets, measured alternately in the same run.

Prints the median GUI-thread time per refresh of each and the ratio (target:
at most 1.3x). `--soak N` instead refreshes one page N times (10,000 for the
endurance check; `make bench` runs 2,000) and prints scene items after warm-up
and at the end, RSS growth and sys.getrefcount(None) before and after.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC
from functools import partial
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QApplication, QGridLayout, QWidget

from mimdesk.domain.catalogue import Catalogue, Metric, Service, WallConfig
from mimdesk.domain.health import Thresholds
from mimdesk.domain.series import Series
from mimdesk.domain.wall import Cached, Link, SourceState, WallState, build_wall
from mimdesk.ui.theme import DARK, apply_theme
from mimdesk.ui.wall_grid import WallGrid

TARGET = 1.3
TILES, POINTS, STEP = 48, 1440, 15
SIZE = (3840, 2160)
NOW = 1_796_306_400.0
CONFIG = WallConfig(history_hours=POINTS * STEP / 3600, scrape_interval=STEP)
METRICS = (
    Metric("errors", "Errors", "e", unit="%", thresholds=Thresholds(1, 5)),
    Metric("latency", "Latency", "l", unit="ms", thresholds=Thresholds(300, 800)),
)


def _series(phase: float, base: float) -> Series:
    times = tuple(NOW - STEP * (POINTS - 1 - i) for i in range(POINTS))
    values = tuple(base * (1 + 0.5 * math.sin(i / 50 + phase)) for i in range(POINTS))
    return Series((("instance", "a"),), times, values, times)


def state(phase: float, tiles: int = TILES) -> WallState:
    services = tuple(
        Service(f"svc-{n:02d}", f"Service {n:02d}", metrics=METRICS)
        for n in range(tiles)
    )
    catalogue = Catalogue(services, CONFIG)
    cached = {
        s.id: {
            "errors": Cached((_series(phase + n, 2.0),)),
            "latency": Cached((_series(phase - n, 400.0),)),
        }
        for n, s in enumerate(services)
    }
    source = SourceState("bench", Link.CONNECTED, False, NOW)
    return build_wall(catalogue, cached, source=source, now=NOW)


class Bare(QWidget):
    """48 PlotWidgets, two curves each: what pyqtgraph costs with nothing added."""

    def __init__(self) -> None:
        super().__init__()
        grid = QGridLayout(self)
        self.curves = []
        for n in range(TILES):
            plot = pg.PlotWidget()
            self.curves.append((plot.plot(), plot.plot()))
            grid.addWidget(plot, n // 8, n % 8)

    def show_arrays(self, arrays: list[tuple[np.ndarray, ...]]) -> None:
        for (first, second), (x, y1, y2) in zip(self.curves, arrays, strict=True):
            first.setData(x, y1)
            second.setData(x, y2)


def _arrays(wall: WallState) -> list[tuple[np.ndarray, ...]]:
    out = []
    for tile in wall.tiles:
        first, second = (v.series[0] for v in tile.panels)
        out.append(
            (np.array(first.times), np.array(first.values), np.array(second.values))
        )
    return out


def _refresh(widget: QWidget, show: Callable[[Any], None], data: Any) -> None:
    show(data)
    widget.grab()


def _timed(step: Callable[[], None]) -> float:
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def compare(rounds: int) -> None:
    states = [state(phase / 3) for phase in range(4)]
    arrays = [_arrays(s) for s in states]
    wall = WallGrid(DARK, UTC, CONFIG, per_page=TILES)
    bare = Bare()
    for widget in (wall, bare):
        widget.resize(*SIZE)
        widget.show()
    ours, theirs = [], []
    for n in range(rounds + 2):
        index = n % len(states)
        mine = _timed(partial(_refresh, wall, wall.show_state, states[index]))
        base = _timed(partial(_refresh, bare, bare.show_arrays, arrays[index]))
        if n >= 2:  # the first rounds build caches
            ours.append(mine)
            theirs.append(base)
    ours_s, bare_s = statistics.median(ours), statistics.median(theirs)
    ratio = ours_s / bare_s
    verdict = "PASS" if ratio <= TARGET else "ABOVE TARGET"
    print(f"wall: {TILES} tiles x 2 series x {POINTS} points, {SIZE[0]}x{SIZE[1]}")
    print(f"wall: bare pyqtgraph setData + repaint {bare_s * 1000:.0f} ms (median)")
    print(f"wall: mimdesk tiles refresh + repaint {ours_s * 1000:.0f} ms (median)")
    print(f"wall: ratio {ratio:.2f} (target <= {TARGET:.1f}) {verdict}")
    wall.close()
    bare.close()


def _rss_kb() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def soak(cycles: int, paint_every: int) -> None:
    states = [state(phase / 5, tiles=12) for phase in range(5)]
    wall = WallGrid(DARK, UTC, CONFIG, per_page=12)
    wall.resize(1920, 1080)
    wall.show()
    warm = min(100, cycles)
    items: list[int] = []
    for n in range(cycles):
        wall.show_state(states[n % len(states)])
        if n % paint_every == 0:
            wall.grab()
        if n + 1 == warm:
            items = [len(t.plot.scene().items()) for t in wall.tiles.values()]
            rss, nones = _rss_kb(), sys.getrefcount(None)
    wall.grab()
    end_items = [len(t.plot.scene().items()) for t in wall.tiles.values()]
    growth = (_rss_kb() - rss) / rss * 100
    fell = sys.getrefcount(None) - nones
    print(
        f"soak: {cycles} refreshes of 12 tiles x 2 x {POINTS} points "
        f"(painted 1 in {paint_every})"
    )
    print(
        f"soak: scene items after {warm}: {sum(items)}; at end: {sum(end_items)} "
        f"({'constant' if items == end_items else 'CHANGED'})"
    )
    print(f"soak: RSS growth after warm-up {growth:+.1f}% (target < 5%)")
    print(f"soak: sys.getrefcount(None) change {fell:+d} (must not fall by thousands)")
    wall.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--soak", type=int, metavar="N", help="refresh N times instead")
    parser.add_argument("--paint-every", type=int, default=10)
    args = parser.parse_args()
    app = QApplication(sys.argv[:1])
    apply_theme(app, DARK)
    if args.soak:
        soak(args.soak, args.paint_every)
    else:
        compare(args.rounds)
    app.processEvents()
    return 0


if __name__ == "__main__":
    sys.exit(main())
