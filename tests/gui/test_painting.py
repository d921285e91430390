"""Painting for a long time must not wear anything down (see ENVIRONMENT.md).

PySide6 6.12.0 on CPython 3.11 loses a reference to None on every void QPainter
call, so a wall that paints for hours dies with 'deallocating None'.
"""

from __future__ import annotations

import sys

import numpy as np
import pyqtgraph as pg
import PySide6
import pytest
from PySide6.QtWidgets import QVBoxLayout, QWidget

pytestmark = pytest.mark.gui

PAINTS = 200


def test_supported_versions_exclude_the_crashing_pair() -> None:
    if sys.version_info < (3, 12):
        assert PySide6.__version_info__[:2] < (6, 12), "PySide6 >= 6.12 on 3.11"


def test_none_refcount_survives_many_paints(make_console, qtbot) -> None:
    window = make_console()
    wall = QWidget()
    qtbot.addWidget(wall)
    layout = QVBoxLayout(wall)
    x = np.arange(720, dtype=float)
    for panel in range(6):
        plot = pg.PlotWidget(title=f"panel {panel}")
        for series in range(3):
            plot.plot(x, np.sin(x / (20 + series)) + panel, pen=pg.mkPen(width=2))
        layout.addWidget(plot)
    wall.resize(1280, 1600)
    wall.show()
    qtbot.waitExposed(wall)
    for _ in range(5):  # warm caches before measuring
        wall.grab()
        window.grab()

    before = sys.getrefcount(None)
    for _ in range(PAINTS):
        wall.grab()
        window.grab()
    after = sys.getrefcount(None)

    # A leak drops it by thousands per paint; allow unrelated small churn.
    assert after >= before - 100, f"None lost {before - after} references"
