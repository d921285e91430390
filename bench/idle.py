"""Idle wallboard: CPU use of one core over N seconds with the 1 Hz clock ticking and
a new state every 15 s, against a bare window with a 1 Hz clock label, same run.

Prints both and the ratio; target: the wallboard under 2% of one core.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import UTC

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QLabel

from mimdesk.clock import MonotonicClock
from mimdesk.ui.health_feed import HealthFeed
from mimdesk.ui.theme import DARK, apply_theme
from mimdesk.ui.wallboard import WallBoard

sys.path.insert(0, os.path.dirname(__file__))
from wall import CONFIG, state

TARGET_PCT = 2.0
REFRESH_S = 15


def _cpu_pct(app: QApplication, seconds: float) -> float:
    """Share of one core the process used while the event loop ran `seconds`."""
    cpu, wall = time.process_time(), time.monotonic()
    QTimer.singleShot(int(seconds * 1000), app.quit)
    app.exec()
    return (time.process_time() - cpu) / (time.monotonic() - wall) * 100


def bare(app: QApplication, seconds: float) -> float:
    label = QLabel()
    label.resize(1920, 1080)
    tick = QTimer()
    tick.timeout.connect(lambda: label.setText(time.strftime("%H:%M:%S")))
    tick.start(1000)
    label.show()
    pct = _cpu_pct(app, seconds)
    tick.stop()
    label.close()
    return pct


def board(app: QApplication, seconds: float) -> float:
    states = [state(phase / 3, tiles=24) for phase in range(4)]
    feed = HealthFeed(states[0])
    wall = WallBoard(feed, DARK, UTC, CONFIG, MonotonicClock())
    wall.resize(1920, 1080)
    wall.show()
    turn = iter(range(1, 1_000_000))
    refresh = QTimer()
    refresh.timeout.connect(lambda: feed.publish(states[next(turn) % len(states)]))
    refresh.start(REFRESH_S * 1000)
    _cpu_pct(app, 2.0)  # first paints and layout settle before measuring
    pct = _cpu_pct(app, seconds)
    refresh.stop()
    wall.close()
    return pct


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--baseline-seconds", type=float, default=15.0)
    args = parser.parse_args()
    app = QApplication(sys.argv[:1])
    apply_theme(app, DARK)
    base = bare(app, args.baseline_seconds)
    mine = board(app, args.seconds)
    verdict = "PASS" if mine < TARGET_PCT else "ABOVE TARGET"
    print(
        f"idle: bare 1 Hz clock window {base:.2f}% of one core "
        f"({args.baseline_seconds:.0f} s)"
    )
    print(
        f"idle: wallboard, 1 Hz clock, {REFRESH_S} s refresh {mine:.2f}% "
        f"({args.seconds:.0f} s)"
    )
    print(
        f"idle: ratio {mine / max(base, 0.01):.1f}; wallboard {verdict} "
        f"(target < {TARGET_PCT:.0f}%)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
