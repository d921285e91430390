"""Stopping a background worker thread, the same way everywhere."""

from __future__ import annotations

import logging
import threading

log = logging.getLogger(__name__)


def join_worker(thread: threading.Thread | None, timeout: float, what: str) -> bool:
    """Wait for a worker told to stop; True if it has ended (or never started)."""
    if thread is None:
        return True
    thread.join(timeout)
    if thread.is_alive():
        log.error("%s did not stop within %.0f s", what, timeout)
        return False
    return True
