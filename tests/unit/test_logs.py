"""The log file: its level, its rotation settings, and uncaught exceptions kept
in it with their tracebacks, from the main thread and from any other."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from mimdesk import logs


@pytest.fixture
def log_dir(tmp_path: Path) -> Iterator[Path]:
    """A log folder; the root logger is put back as it was afterwards."""
    root = logging.getLogger()
    level = root.level
    yield tmp_path / "logs"
    logs.close()
    root.setLevel(level)


def _text(log_dir: Path) -> str:
    for handler in logs._installed:
        handler.flush()
    return (log_dir / logs.LOG_FILE).read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("option", "variable", "level", "problem"),
    [
        (None, None, logging.INFO, ""),
        ("debug", None, logging.DEBUG, ""),
        ("ERROR", "debug", logging.ERROR, ""),  # the option wins
        (None, "warning", logging.WARNING, ""),
        (None, " Debug ", logging.DEBUG, ""),
        (None, "verbose", logging.INFO, "'verbose' is not one of debug, info"),
    ],
)
def test_the_level_comes_from_the_option_then_the_environment(
    option: str | None, variable: str | None, level: int, problem: str
) -> None:
    environ = {logs.LEVEL_VARIABLE: variable} if variable else {}

    chosen, said = logs.chosen_level(option, environ)

    assert chosen == level
    assert problem in said
    assert bool(said) == bool(problem)


def test_debug_lines_reach_the_file_only_at_debug(log_dir: Path) -> None:
    logs.configure(log_dir, level=logging.INFO, console=False)
    logging.getLogger("mimdesk.test").debug("hidden detail")
    logging.getLogger("mimdesk.test").info("kept line")
    at_info = _text(log_dir)

    logs.configure(log_dir, level=logging.DEBUG, console=False)
    logging.getLogger("mimdesk.test").debug("shown detail")

    assert "kept line" in at_info
    assert "hidden detail" not in at_info
    assert "shown detail" in _text(log_dir)


def test_error_level_keeps_warnings_on_stderr_but_not_in_the_file(
    log_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logs.configure(log_dir, level=logging.ERROR, console=True)

    logging.getLogger("mimdesk.test").warning("disk nearly full")

    assert "disk nearly full" in capsys.readouterr().err
    assert "disk nearly full" not in _text(log_dir)


def test_configuring_twice_writes_each_line_once(log_dir: Path) -> None:
    logs.configure(log_dir, console=False)
    logs.configure(log_dir, console=False)

    logging.getLogger("mimdesk.test").info("only once")

    assert _text(log_dir).count("only once") == 1


def test_the_file_rotates_at_5_mb_keeping_five(log_dir: Path) -> None:
    logs.configure(log_dir, console=False)

    (handler,) = [h for h in logs._installed if hasattr(h, "maxBytes")]

    assert (handler.maxBytes, handler.backupCount) == (5_000_000, 5)


def test_an_unwritable_log_folder_is_none_not_a_crash(log_dir: Path) -> None:
    log_dir.parent.mkdir(parents=True, exist_ok=True)
    log_dir.write_text("a file where the folder should be")

    assert logs.configure(log_dir, console=False) is None


def _fail_in_thread() -> None:
    def work() -> None:
        raise ZeroDivisionError("thread went wrong")

    thread = threading.Thread(target=work, name="doomed-worker")
    thread.start()
    thread.join()


def test_a_thread_crash_is_logged_with_its_traceback_and_reported(
    log_dir: Path,
) -> None:
    logs.configure(log_dir, console=False)
    reported: list[logs.Crash] = []
    restore = logs.install_excepthooks(reported.append)
    try:
        _fail_in_thread()
    finally:
        restore()

    text = _text(log_dir)
    assert (
        "CRITICAL mimdesk.logs [doomed-worker] uncaught exception in doomed-worker"
        in text
    )
    assert "Traceback (most recent call last):" in text
    assert 'raise ZeroDivisionError("thread went wrong")' in text
    assert [c.summary for c in reported] == [
        "ZeroDivisionError: thread went wrong (in doomed-worker)"
    ]


def test_a_main_thread_crash_is_logged_and_the_hooks_are_put_back(
    log_dir: Path,
) -> None:
    logs.configure(log_dir, console=False)
    before = sys.excepthook, threading.excepthook
    reported: list[logs.Crash] = []
    restore = logs.install_excepthooks(reported.append)
    try:
        raise RuntimeError("slot failed")
    except RuntimeError:
        sys.excepthook(*sys.exc_info())  # what Qt does for a failing slot
    finally:
        restore()

    assert (sys.excepthook, threading.excepthook) == before
    assert "RuntimeError: slot failed" in _text(log_dir)
    assert reported[0].summary == "RuntimeError: slot failed (in MainThread)"


def test_a_report_that_fails_is_logged_not_raised(log_dir: Path) -> None:
    logs.configure(log_dir, console=False)

    def broken(_crash: logs.Crash) -> None:
        raise OSError("no screen")

    restore = logs.install_excepthooks(broken)
    try:
        _fail_in_thread()
    finally:
        restore()

    text = _text(log_dir)
    assert "thread went wrong" in text
    assert "the crash could not be shown" in text


def test_the_command_line_says_one_line_and_where_the_traceback_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = logs.cli_report(tmp_path / "mimdesk.log")

    report(logs.Crash("MainThread", "KeyError", "'x'"))

    assert capsys.readouterr().err == (
        f"error: unexpected KeyError: 'x' (in MainThread); the traceback is in "
        f"{tmp_path / 'mimdesk.log'}\n"
    )
