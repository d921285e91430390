"""Carries the health poller's WallStates from its worker thread to the GUI thread."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from PySide6.QtCore import QObject, Signal

from mimdesk.domain.alerts import AlertRecord
from mimdesk.domain.wall import WallState, with_alerts

log = logging.getLogger(__name__)


class HealthFeed(QObject):
    """The latest WallState, for every view that shows health, with the firing
    alerts last given to `set_alerts` on its tiles.

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
        alert_labels: tuple[str, ...] = ("service", "job"),
    ) -> None:
        super().__init__()
        self.latest = initial
        # Which alert labels name a service (the catalogue's [alerts]).
        self.alert_labels = alert_labels
        self._polled = initial  # as the poller made it, before alerts
        self._alerts: tuple[AlertRecord, ...] = ()
        self._refresh_now = refresh_now
        # Emitted on the worker thread, delivered here on the GUI thread.
        self._published.connect(self._on_feed_published)

    def publish(self, state: WallState) -> None:
        """Hand over a new state (any thread)."""
        self._published.emit(state)

    def refresh_now(self) -> None:
        if self._refresh_now is not None:
            self._refresh_now()

    def set_alerts(self, records: Iterable[AlertRecord]) -> None:
        """Show these alerts (the firing ones) on the tiles (GUI thread)."""
        firing = tuple(r for r in records if r.firing)
        if firing == self._alerts:
            return
        self._alerts = firing
        if self._polled is not None:
            self._show(self._polled)

    def _on_feed_published(self, state: WallState) -> None:
        self._polled = state
        self._show(state)

    def _show(self, polled: WallState) -> None:
        self.latest = (
            with_alerts(polled, self._alerts, self.alert_labels)
            if self._alerts
            else polled
        )
        self.state_changed.emit(self.latest)
