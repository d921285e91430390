"""Carries store commands off the GUI thread and their outcomes back onto it."""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Signal, Slot

from mimdesk.domain.errors import DomainError
from mimdesk.store.db import StoreError
from mimdesk.store.journal import IncidentNotFound
from mimdesk.store.store import Store

log = logging.getLogger(__name__)

EXPECTED = (DomainError, StoreError, IncidentNotFound)
T = TypeVar("T")
FileIdentity = tuple[int, int]  # (st_dev, st_ino)


class StoreBridge(QObject):
    """Owns no data; tells the GUI when the store changed or a command failed.

    Signals: changed() after our own commands and when another process
    (the CLI, a script) committed; command_failed(str) with a readable reason;
    read_failed(str) when the file could not be read; file_replaced() once, when
    the file at the store's path is no longer the one we opened.
    """

    changed = Signal()
    command_failed = Signal(str)
    read_failed = Signal(str)
    file_replaced = Signal()
    _finished = Signal(object, object)

    def __init__(self, store: Store, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.replaced = False
        self._identity: FileIdentity | None = None
        self._identity = self._file_identity()
        self._version = self._data_version()
        self._pending = 0
        self._logged: set[str] = set()
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

    def read(self, read: Callable[[], T]) -> T | None:
        """`read()`, or None (and read_failed) when the file cannot give it."""
        try:
            return read()
        except sqlite3.DatabaseError as exc:  # OperationalError is one too
            self._report_read_failure(str(exc))
            return None

    def _report_read_failure(self, reason: str) -> None:
        if reason not in self._logged:  # a damaged page fails every tick
            self._logged.add(reason)
            log.error("cannot read the store %s: %s", self.store.path, reason)
        self.read_failed.emit(reason)

    def _data_version(self) -> int:
        try:
            return self.store.data_version()
        except sqlite3.DatabaseError:
            return -1

    def poll(self) -> None:
        """Emit `changed` if anyone committed since the last look."""
        self._check_file()
        version = self._data_version()
        if version != self._version:
            self._version = version
            self.changed.emit()

    def _file_identity(self) -> FileIdentity | None:
        try:
            stat = os.stat(self.store.path)
        except FileNotFoundError:
            return None
        except OSError:  # cannot tell this time: assume it is still ours
            return self._identity
        return (stat.st_dev, stat.st_ino)

    def _check_file(self) -> None:
        """One stat: has the file at our path been swapped or removed?"""
        if self.replaced or self._identity is None:
            return
        if self._file_identity() != self._identity:
            self.replaced = True
            log.error("store file %s was replaced or removed", self.store.path)
            self.file_replaced.emit()
