"""Shared test set-up: Qt offscreen, and no test may leave a thread running."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator

import pytest

# Without a display, Qt would abort the whole run before pytest could report.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

LEAK_GRACE_S = 5.0


@pytest.fixture(autouse=True)
def _no_leaked_threads() -> Iterator[None]:
    """Fail a test that leaves a thread behind (a store writer not closed, say)."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + LEAK_GRACE_S
    leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    for thread in leaked:
        thread.join(max(0.0, deadline - time.monotonic()))
    alive = [t.name for t in leaked if t.is_alive()]
    assert not alive, f"test left threads running: {alive}"
