"""The one thread that writes to SQLite; everyone else submits jobs to it.

One writer connection means no 'database is locked' between our own writers,
and the GUI thread never waits on a write: it gets a Future back at once.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

from mimdesk.store.db import StoreError

log = logging.getLogger(__name__)
T = TypeVar("T")

_STOP = object()


class Writer:
    """Runs submitted jobs one by one on a dedicated thread and connection."""

    def __init__(self, connect: Callable[[], sqlite3.Connection], name: str) -> None:
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._closed = False
        self._lock = threading.Lock()
        self._ready: Future[None] = Future()
        self._thread = threading.Thread(
            target=self._run, args=(connect,), name=name, daemon=True
        )
        self._thread.start()
        self._ready.result()

    def submit(
        self, job: Callable[[sqlite3.Connection], T], *, transaction: bool = True
    ) -> Future[T]:
        """Queue `job`; it runs inside BEGIN IMMEDIATE ... COMMIT unless told not to."""
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                future.set_exception(StoreError("the store is closed"))
                return future
            self._jobs.put((job, transaction, future))
        return future

    def close(self, timeout: float = 30.0) -> None:
        """Finish queued jobs, then stop the thread and close its connection."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._jobs.put(_STOP)
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("store writer did not stop within %.0f s", timeout)

    def _run(self, connect: Callable[[], sqlite3.Connection]) -> None:
        try:
            conn = connect()
        except BaseException as exc:  # noqa: BLE001 - handed to the opener
            self._ready.set_exception(exc)
            return
        self._ready.set_result(None)
        try:
            while (item := self._jobs.get()) is not _STOP:
                self._execute(conn, *item)
        finally:
            conn.close()

    @staticmethod
    def _execute(
        conn: sqlite3.Connection,
        job: Callable[[sqlite3.Connection], Any],
        transaction: bool,
        future: Future[Any],
    ) -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            if transaction:
                conn.execute("BEGIN IMMEDIATE")
            try:
                result = job(conn)
                if transaction:
                    conn.execute("COMMIT")
            except BaseException:
                if transaction and conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except Exception as exc:  # noqa: BLE001 - the Future carries it to the caller
            future.set_exception(exc)
        else:
            future.set_result(result)
