"""Carries the health poller's WallStates from its worker thread to the GUI thread."""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from mimdesk.domain.wall import WallState

log = logging.getLogger(__name__)


class HealthFeed(QObject):
    """The latest WallState, for every view that shows health.

    `publish` may be called from any thread (it is the poller's `on_state`);
    views connect to `state_changed(WallState)`, which reaches them queued, on
    the GUI thread. `refresh_now` asks the poller for an early refresh.
    """

    state_changed = Signal(object)
    _published = Signal(object)

    def __init__(
        self,
        initial: WallState | None = None,
        refresh_now: Callable[[], None] | None = None,
    ) -> None:
        super().__init__()
        self.latest = initial
        self._refresh_now = refresh_now
        # Emitted on the worker thread, delivered here on the GUI thread.
        self._published.connect(self._on_feed_published)

    def publish(self, state: WallState) -> None:
        """Hand over a new state (any thread)."""
        self._published.emit(state)

    def refresh_now(self) -> None:
        if self._refresh_now is not None:
            self._refresh_now()

    def _on_feed_published(self, state: WallState) -> None:
        self.latest = state
        self.state_changed.emit(state)
