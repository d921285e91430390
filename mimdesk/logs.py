"""Logging to a rotating file in the user's log folder (and warnings to stderr)."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

FORMAT = "%(asctime)s %(levelname)s %(name)s [%(threadName)s] %(message)s"


def configure(
    log_dir: Path, *, level: int = logging.INFO, console: bool = True
) -> Path | None:
    """Set up the root logger; returns the log file, or None if it can't be written.

    The command line passes console=False: it tells the user itself, in words,
    and the file keeps the record (a restore, a refused write) for afterwards.
    """
    root = logging.getLogger()
    root.setLevel(level)
    # urllib3 logs each request line at DEBUG, and a webhook URL (Slack, Teams)
    # is itself a credential: never let it reach a log file.
    logging.getLogger("urllib3").setLevel(logging.WARNING)
    if console:
        stream = logging.StreamHandler()
        stream.setLevel(logging.WARNING)
        stream.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        root.addHandler(stream)
    try:
        log_dir.mkdir(parents=True, exist_ok=True)
        path = log_dir / "mimdesk.log"
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=5_000_000, backupCount=5, encoding="utf-8"
        )
    except OSError as exc:
        logging.getLogger(__name__).warning("no log file in %s: %s", log_dir, exc)
        return None
    handler.setFormatter(logging.Formatter(FORMAT))
    root.addHandler(handler)
    return path
