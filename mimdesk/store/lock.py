"""Who has a store open: a shared lock per open store, an exclusive one to replace it.

Every writable Store holds a shared advisory lock on `<store>.lock` while it is
open (the console, each command). Restoring a backup takes the lock exclusively,
so it can never swap the file out from under a running MIMDesk.
"""

from __future__ import annotations

import os
from pathlib import Path

from mimdesk.store.db import StoreError

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]


class StoreInUse(StoreError):
    """Another MIMDesk process has this store open."""


class StoreLock:
    """An advisory lock beside the store file, released on close."""

    def __init__(self, store: Path) -> None:
        self.path = Path(f"{store}.lock")
        self._fd: int | None = None

    def _take(self, mode: int, refusal: str) -> None:
        if fcntl is None:
            # FIXME(store): no lock on Windows yet; msvcrt.locking could provide one.
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise StoreInUse(refusal) from None
        self._fd = fd

    def shared(self) -> None:
        assert fcntl is None or self._fd is None
        self._take(
            fcntl.LOCK_SH if fcntl else 0,
            f"{self.path.with_suffix('')} is being restored from a backup; "
            "try again in a moment",
        )

    def exclusive(self) -> None:
        self._take(
            fcntl.LOCK_EX if fcntl else 0,
            f"{self.path.with_suffix('')} is open in another MIMDesk (the console "
            "or a running command); close it, then try again",
        )

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the lock
            self._fd = None
