"""Reload the service catalogue when its file changes, keeping the last good one.

The operator edits the catalogue while the wall runs; a mistake in the file must
not blank the wall. A change is noticed by the file's modification time and size,
checked by the poller before each refresh (no file-system watcher thread).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from mimdesk.domain.catalogue import Catalogue

log = logging.getLogger(__name__)

Loader = Callable[[Path, Catalogue | None], tuple[Catalogue, str]]


class CatalogueWatch:
    """The catalogue file at `path`, as last read. `problem` says why the file on
    disk is not the one in use (empty when it is)."""

    def __init__(self, path: Path, current: Catalogue, load: Loader) -> None:
        self.path = path
        self.current = current
        self.problem = ""
        self._load = load
        self._seen = self._signature()

    def _signature(self) -> tuple[int, int] | None:
        try:
            info = os.stat(self.path)
        except OSError:
            return None
        return info.st_mtime_ns, info.st_size

    def check(self) -> Catalogue | None:
        """A newly loaded catalogue if the file changed and reads well, else None."""
        signature = self._signature()
        if signature == self._seen:
            return None
        self._seen = signature
        catalogue, problem = self._load(self.path, self.current)
        self.problem = problem
        if problem:
            log.warning("catalogue %s not reloaded: %s", self.path, problem)
            return None
        log.info(
            "catalogue %s reloaded: %d services", self.path, len(catalogue.services)
        )
        self.current = catalogue
        return catalogue
