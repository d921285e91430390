"""Carries store commands off the GUI thread and their outcomes back onto it."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from mimdesk.domain.errors import DomainError
from mimdesk.store.db import StoreError
from mimdesk.store.journal import IncidentNotFound
from mimdesk.store.store import Store

log = logging.getLogger(__name__)

EXPECTED = (DomainError, StoreError, IncidentNotFound)


class StoreBridge(QObject):
    """Owns no data; tells the GUI when the store changed or a command failed.

    Signals: changed() after our own commands and when another process
    (the CLI, a script) committed; command_failed(str) with a readable reason.
    """

    changed = Signal()
    command_failed = Signal(str)
    _finished = Signal(object, object)

    def __init__(self, store: Store, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self._version = self._data_version()
        self._pending = 0
        self._finished.connect(self._on_future_finished)

    @property
    def busy(self) -> bool:
        return self._pending > 0

    def run(
        self, future: Future[Any], on_done: Callable[[Any], None] | None = None
    ) -> None:
        """Track `future`; when it completes, call `on_done` on the GUI thread."""
        self._pending += 1
        future.add_done_callback(lambda f: self._finished.emit(f, on_done))

    @Slot(object, object)
    def _on_future_finished(self, future: Future[Any], on_done: Any) -> None:
        self._pending -= 1
        error = future.exception()
        if error is None:
            if on_done is not None:
                on_done(future.result())
        elif isinstance(error, EXPECTED):
            self.command_failed.emit(str(error.args[0] if error.args else error))
        else:
            log.error("store command failed", exc_info=error)
            self.command_failed.emit(f"Could not save: {error}. Nothing was recorded.")
        self.changed.emit()

    def _data_version(self) -> int:
        try:
            return self.store.data_version()
        except sqlite3.DatabaseError:
            return -1

    def poll(self) -> None:
        """Emit `changed` if anyone committed since the last look."""
        version = self._data_version()
        if version != self._version:
            self._version = version
            self.changed.emit()
