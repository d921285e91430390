"""Logging to a rotating file in the user's log folder (and warnings to stderr),
the chosen log level, and a record of every uncaught exception."""

from __future__ import annotations

import faulthandler
import logging
import logging.handlers
import os
import sys
import threading
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO

FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"
LOG_FILE = "mimdesk.log"
FAULT_FILE = "faults.log"
MAX_BYTES = 5_000_000
BACKUP_COUNT = 5
LEVEL_VARIABLE = "MIMDESK_LOG_LEVEL"
LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}

log = logging.getLogger(__name__)

# The handlers configure() added, so a second call replaces them.
_installed: list[logging.Handler] = []
_fault_file: IO[str] | None = None


def chosen_level(
    option: str | None, environ: Mapping[str, str] | None = None
) -> tuple[int, str]:
    """The file log's level: the --log-level option, else MIMDESK_LOG_LEVEL, else
    info; with a problem to show when the variable names no level."""
    if option:
        return LEVELS[option.lower()], ""
    env = os.environ if environ is None else environ
    text = env.get(LEVEL_VARIABLE, "").strip().lower()
    if not text:
        return logging.INFO, ""
    if text in LEVELS:
        return LEVELS[text], ""
    names = ", ".join(LEVELS)
    return logging.INFO, f"{LEVEL_VARIABLE}={text!r} is not one of {names}; using info"


def configure(
    log_dir: Path, *, level: int = logging.INFO, console: bool = True
) -> Path | None:
    """Set up the root logger; returns the log file, or None if it can't be written.

    The command line passes console=False: it tells the user itself, in words,
    and the file keeps the record (a restore, a refused write) for afterwards.
    Called again, it replaces what it set up before.
    """
    close()
    root = logging.getLogger()
    root.setLevel(min(level, logging.WARNING) if console else level)
    # urllib3 logs each request line at DEBUG, and a webhook URL (Slack, Teams)
    # is itself a credential: never let it reach a log file.
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    if console:
        stream = logging.StreamHandler()
        stream.setLevel(logging.WARNING)
        stream.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        _add(root, stream)
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
        path = log_dir / LOG_FILE
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=MAX_BYTES, backupCount=BACKUP_COUNT, encoding="utf-8"
        )
    except OSError as exc:
        log.warning("no log file in %s: %s", log_dir, exc)
        return None
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter(FORMAT))
    _add(root, handler)
    return path


def _add(root: logging.Logger, handler: logging.Handler) -> None:
    root.addHandler(handler)
    _installed.append(handler)


def close() -> None:
    """Remove and close what configure() set up (its file is flushed)."""
    root = logging.getLogger()
    for handler in _installed:
        root.removeHandler(handler)
        handler.close()
    _installed.clear()


def record_faults(log_dir: Path) -> Path | None:
    """Have a hard crash (a segfault, an abort inside Qt) write every thread's
    Python stack to faults.log, which the rotating log cannot do. For the
    long-running windows; None when the file cannot be opened."""
    global _fault_file
    path = log_dir / FAULT_FILE
    try:
        handle = path.open("a", encoding="utf-8")
    except OSError as exc:
        log.warning("hard crashes will not be recorded in %s: %s", path, exc)
        return None
    if _fault_file is not None:
        _fault_file.close()
    _fault_file = handle
    faulthandler.enable(handle, all_threads=True)
    return path


@dataclass(frozen=True)
class Crash:
    """An exception nobody caught: where it happened and what it was."""

    thread: str
    kind: str
    text: str

    @property
    def summary(self) -> str:
        said = f"{self.kind}: {self.text}" if self.text else self.kind
        return f"{said} (in {self.thread})"


Report = Callable[[Crash], None]
ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def install_excepthooks(report: Report | None = None) -> Callable[[], None]:
    """Log every uncaught exception, in any thread, with its traceback, then hand
    it to `report` (which shows it). Returns what puts the previous hooks back.

    Ctrl+C and a thread's SystemExit keep their usual meaning."""
    before_main, before_thread = sys.excepthook, threading.excepthook

    def on_main(
        kind: type[BaseException], value: BaseException, tb: TracebackType | None
    ) -> None:
        if issubclass(kind, KeyboardInterrupt):
            before_main(kind, value, tb)
            return
        _record(threading.current_thread().name, (kind, value, tb), report)

    def on_thread(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None or issubclass(args.exc_type, SystemExit):
            return
        name = args.thread.name if args.thread is not None else "a thread"
        info = (args.exc_type, args.exc_value, args.exc_traceback)
        _record(name, info, report)

    sys.excepthook, threading.excepthook = on_main, on_thread

    def restore() -> None:
        sys.excepthook, threading.excepthook = before_main, before_thread

    return restore


def _record(thread: str, info: ExcInfo, report: Report | None) -> None:
    kind, value, _tb = info
    if not _installed:
        # No log to keep it in: the traceback goes to stderr at least.
        traceback.print_exception(*info, file=sys.stderr)
    log.critical("uncaught exception in %s", thread, exc_info=info)
    if report is None:
        return
    try:
        report(Crash(thread, kind.__name__, str(value)[:500]))
    except Exception:  # reporting must never raise from a hook
        log.exception("the crash could not be shown")


def cli_report(log_file: Path | None) -> Report:
    """How the command line tells a person about a crash: one line, and where
    the traceback went."""

    def report(crash: Crash) -> None:
        where = f"the traceback is in {log_file}" if log_file else "see above"
        print(f"error: unexpected {crash.summary}; {where}", file=sys.stderr)

    return report
