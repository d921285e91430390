"""Cold start: `mimdesk` to its first painted window, against a bare PySide6 window
with one pyqtgraph plot, measured alternately in the same run.

Prints the median of each and the ratio; target: at most 2x the bare window.
MIMDesk's own modules are compiled to bytecode first, as in an installed copy.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BARE = """
import sys
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QMainWindow
import pyqtgraph as pg

class Quit(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint:
            QTimer.singleShot(0, app.quit)
        return False

app = QApplication(sys.argv[:1])
window = QMainWindow()
window.setCentralWidget(pg.PlotWidget())
window.resize(1480, 900)
quitter = Quit()
app.installEventFilter(quitter)  # the first paint of any widget
window.show()
app.exec()
"""

TARGET = 2.0


def _time(command: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, capture_output=True, timeout=120)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    # Both sides start from bytecode, as an installed MIMDesk (or the bundle)
    # does: pip compiled the libraries at install time, but an editable
    # checkout's own modules are compiled on every start when the environment
    # sets PYTHONDONTWRITEBYTECODE, which would time the compiler, not MIMDesk.
    package = Path(__file__).resolve().parents[1] / "mimdesk"
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], check=True)
    with tempfile.TemporaryDirectory() as tmp:
        data, shot = Path(tmp) / "data", Path(tmp) / "shot.png"
        app = [sys.executable, "-m", "mimdesk", "--demo", "--data-dir", str(data)]
        app += ["--screenshot", str(shot)]
        bare = [sys.executable, "-c", BARE]
        _time(app, env)  # first run creates and seeds the demo store
        bare_times, app_times = [], []
        for _ in range(args.runs):
            bare_times.append(_time(bare, env))
            app_times.append(_time(app, env))
    bare_s, app_s = statistics.median(bare_times), statistics.median(app_times)
    ratio = app_s / bare_s
    verdict = "PASS" if ratio <= TARGET else "ABOVE TARGET"
    print(f"startup: bare PySide6+pyqtgraph window {bare_s * 1000:.0f} ms (median)")
    print(f"startup: mimdesk console to first paint {app_s * 1000:.0f} ms (median)")
    print(f"startup: ratio {ratio:.2f} (target <= {TARGET:.1f}) {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
