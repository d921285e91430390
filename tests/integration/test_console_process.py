"""The console as a real process (offscreen): one per data folder, a second
start showing the first; a crash logged with its traceback, shown, and the
store left sound; SIGTERM closing it cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mimdesk.ui.instance import LOCK_FILE

from .conftest import Run

START_S = 60.0
OPEN = "console open on"

# Takes the console lock of a data folder and never answers on the socket: a
# console that hangs.
HOLDER = """
import sys
from PySide6.QtCore import QLockFile
lock = QLockFile(sys.argv[1])
assert lock.tryLock(0)
print("held", flush=True)
sys.stdin.read()
"""

# The console, with faults injected once it runs: a slot that raises, a thread
# that raises, a note recorded, then "Quit MIMDesk" chosen in the error dialog.
CRASHING = """
import sys, threading
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox
import mimdesk.ui.main as main
from mimdesk import cli

real = main.run_console

def slot_fails():
    raise RuntimeError("forced failure in a slot")

def thread_fails(ctx):
    ctx.store.declare(title="Before the crash", severity=2, services=[],
                      detected_at=None, actor="test").result()
    def work():
        raise ZeroDivisionError("forced failure in a thread")
    threading.Thread(target=work, name="doomed-worker").start()

def choose_quit():
    box = next(w for w in QApplication.topLevelWidgets()
               if w.objectName() == "CrashDialog" and w.isVisible())
    print("dialog:", box.text().replace("\\n", " "), flush=True)
    print("details:", box.informativeText().replace("\\n", " "), flush=True)
    next(b for b in box.buttons() if b.text() == "Quit MIMDesk").click()

def run(ctx, **kw):
    QTimer.singleShot(300, slot_fails)
    QTimer.singleShot(600, lambda: thread_fails(ctx))
    QTimer.singleShot(1500, choose_quit)
    return real(ctx, **kw)

main.run_console = run
sys.exit(cli.main(sys.argv[1:]))
"""

# The first start on a desktop: the Connections dialog is filled in and saved,
# then the console opens on what was saved.
FIRST_START = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from mimdesk import cli
from mimdesk.ui import first_run

first_run.HEADLESS = ()  # as on a desktop, though drawn offscreen
shown = first_run.run

def fill():
    dialog = next(w for w in QApplication.topLevelWidgets()
                  if w.objectName() == "ConnectionsDialog" and w.isVisible())
    dialog.prometheus_url.setText(sys.argv[1])
    dialog.save_button.click()

def run(config_file):
    QTimer.singleShot(300, fill)
    return shown(config_file)

first_run.run = run
sys.exit(cli.main(sys.argv[2:]))
"""


def console_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIMDESK_")}
    return env | {"QT_QPA_PLATFORM": "offscreen", "PYTHONIOENCODING": "utf-8"}


def log_text(data_dir: Path) -> str:
    path = data_dir / "logs" / "mimdesk.log"
    return path.read_text(encoding="utf-8") if path.exists() else ""


def wait_for(
    condition: Callable[[], bool], what: str, timeout: float = START_S
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.fixture
def consoles(
    data_dir: Path, config: Path
) -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Starts consoles on this test's data folder (or another) and waits until
    each has opened; any still running at the end is stopped."""
    started: list[subprocess.Popen[str]] = []
    config.write_text("")  # no first-start dialog

    def start(*extra: str, folder: Path | None = None) -> subprocess.Popen[str]:
        folder = folder or data_dir
        opened = log_text(folder).count(OPEN)
        command = [sys.executable, "-m", "mimdesk", "--data-dir", str(folder),
                   "--config", str(config), *extra]  # fmt: skip
        process = subprocess.Popen(
            command, env=console_env(), text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        started.append(process)
        wait_for(lambda: log_text(folder).count(OPEN) > opened or
                 process.poll() is not None, "the console to open")  # fmt: skip
        assert process.poll() is None, process.communicate()
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate()


def second_start(data_dir: Path, config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mimdesk", "--data-dir", str(data_dir),
         "--config", str(config)],
        env=console_env(), capture_output=True, text=True, timeout=START_S,
        check=False,
    )  # fmt: skip


def stop(process: subprocess.Popen[str]) -> int:
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=30)
    return process.returncode


@pytest.mark.slow
def test_a_second_start_shows_the_first_console_and_exits_0(
    consoles, mimdesk: Run, data_dir: Path, config: Path
) -> None:
    first = consoles()

    second = second_start(data_dir, config)
    declared = mimdesk("incident", "declare", "--title", "Beside it", "--severity", "3")

    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == (
        f"MIMDesk is already open on {data_dir} (process {first.pid} on "
        f"{os.uname().nodename}); its window has been brought to the front."
    )
    assert "console: another start asked for this window" in log_text(data_dir)
    assert log_text(data_dir).count(OPEN) == 1  # the second never opened
    assert declared.returncode == 0, declared.stderr  # commands run beside it
    assert first.poll() is None
    assert stop(first) == 0
    assert "store closed" in log_text(data_dir)
    assert not (data_dir / LOCK_FILE).exists()
    assert mimdesk("journal", "verify").returncode == 0


@pytest.mark.slow
def test_the_demo_console_runs_beside_the_real_one(consoles, data_dir: Path) -> None:
    real = consoles()

    demo = consoles("--demo")

    assert real.poll() is None
    assert demo.poll() is None
    assert (data_dir / "demo" / LOCK_FILE).exists()


@pytest.mark.slow
def test_a_killed_console_leaves_a_stale_lock_the_next_start_takes(
    consoles, data_dir: Path, mimdesk: Run
) -> None:
    first = consoles()
    first.kill()
    first.communicate()
    assert (data_dir / LOCK_FILE).exists()  # left behind, with a dead process

    again = consoles()

    assert again.poll() is None
    assert log_text(data_dir).count(OPEN) == 2
    assert stop(again) == 0
    assert mimdesk("journal", "verify").returncode == 0


@pytest.mark.slow
def test_a_holder_that_does_not_answer_is_refused_with_why(
    data_dir: Path, config: Path
) -> None:
    data_dir.mkdir(parents=True)
    config.write_text("")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(data_dir / LOCK_FILE)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"

        refused = second_start(data_dir, config)
    finally:
        holder.communicate("")

    assert refused.returncode == 1
    assert refused.stderr.startswith(
        f"error: a MIMDesk console already has {data_dir} open (process "
        f"{holder.pid} on "
    )
    assert "did not answer within 3 s" in refused.stderr
    assert not (data_dir / "mimdesk.sqlite").exists()  # it never opened the store


@pytest.mark.slow
def test_a_crash_is_logged_shown_and_quitting_leaves_the_store_sound(
    data_dir: Path, config: Path, mimdesk: Run
) -> None:
    config.write_text("")

    done = subprocess.run(
        [sys.executable, "-c", CRASHING, "--data-dir", str(data_dir),
         "--config", str(config), "--log-level", "debug"],
        env=console_env(), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip

    log = log_text(data_dir)
    assert done.returncode == 1, done.stderr
    assert "RuntimeError: forced failure in a slot (in MainThread)" in done.stdout
    assert f"The details are in the log: {data_dir / 'logs' / 'mimdesk.log'}" in (
        done.stdout
    )
    assert "uncaught exception in MainThread\nTraceback (most recent call last):" in log
    assert ", in slot_fails\nRuntimeError: forced failure in a slot" in log
    assert "uncaught exception in doomed-worker\nTraceback" in log
    assert ", in work\nZeroDivisionError: forced failure in a thread" in log
    assert "DEBUG" in log  # --log-level debug reached the file
    assert "quitting after an unexpected error, as the operator chose" in log
    assert "store closed" in log
    verified = mimdesk("journal", "verify")
    assert verified.returncode == 0, verified.stdout
    assert "2 events, chain intact" in verified.stdout
    assert mimdesk("store", "check").returncode == 0


@pytest.mark.slow
def test_the_first_start_saves_connections_and_the_console_uses_them(
    data_dir: Path, config: Path
) -> None:
    url = "http://127.0.0.1:9"
    process = subprocess.Popen(
        [sys.executable, "-c", FIRST_START, url, "--data-dir", str(data_dir),
         "--config", str(config)],
        env=console_env(), text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        wait_for(lambda: OPEN in log_text(data_dir), "the console to open")
    finally:
        code = stop(process)

    assert code == 0
    assert config.read_text().endswith(f'[prometheus]\nurl = "{url}"\n')
    log = log_text(data_dir)
    assert f"settings: {config} written (prometheus.url)" in log
    assert f"health source: Prometheus at {url}" in log
