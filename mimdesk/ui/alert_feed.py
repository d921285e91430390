"""Alerts for the GUI: the sink the receiver and poller write through, which says
on the GUI thread what each delivery did, and the alert records last read."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime

from PySide6.QtCore import QObject, QTimer, Signal

from mimdesk.domain.alerts import Alert, AlertRecord, Group, groups
from mimdesk.domain.wall import SourceState
from mimdesk.store.alerts import IntakeResult
from mimdesk.store.store import Store
from mimdesk.ui.bridge import StoreBridge
from mimdesk.ui.health_feed import HealthFeed

log = logging.getLogger(__name__)


class AlertIntake(QObject):
    """An AlertSink over the store: each call blocks its (worker) thread until
    the store has kept and processed the delivery, then emits
    `delivery_processed(IntakeResult)`, which reaches GUI-thread receivers queued.
    Never call it on the GUI thread."""

    delivery_processed = Signal(object)
    # The Alertmanager poller's SourceState (connected, unreachable...), queued.
    poller_state_changed = Signal(object)

    def __init__(self, store: Store, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store = store

    def publish_poller_state(self, state: SourceState) -> None:
        """The poller thread's `on_state`: hand its state to the GUI."""
        self.poller_state_changed.emit(state)

    def receive_alerts(
        self, body: str, *, source: str, received_at: datetime
    ) -> IntakeResult:
        result = self.store.receive_alerts(body, source=source, received_at=received_at)
        self.delivery_processed.emit(result)
        return result

    def reconcile_alerts(
        self,
        alerts: Sequence[Alert],
        *,
        at: datetime,
        group_key: str = "",
        scope: Mapping[str, str] | None = None,
    ) -> IntakeResult:
        result = self.store.reconcile_alerts(
            alerts, at=at, group_key=group_key, scope=scope
        )
        self.delivery_processed.emit(result)
        return result

    def reprocess_pending(self) -> None:
        """Process what a crash or failure left in the spool (a worker thread's job)."""
        try:
            results = self.store.reprocess_pending()
        except Exception:  # the spool keeps them; the next start tries again
            log.exception("alerts: could not reprocess pending deliveries")
            return
        if results:
            log.info("alerts: reprocessed %d pending delivery(ies)", len(results))
        for result in results:
            self.delivery_processed.emit(result)


RELOAD_COALESCE_MS = 500


class AlertFeed(QObject):
    """The alert records and their incident links, re-read through `bridge`
    whenever the store changes (the bridge's owner polls it) or a delivery was
    processed here. Firing alerts are handed to `health`, so tiles show them.

    Signals: alerts_changed() after a re-read that found something different.
    """

    alerts_changed = Signal()

    def __init__(
        self,
        store: Store,
        bridge: StoreBridge,
        health: HealthFeed | None = None,
        intake: AlertIntake | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.store, self.bridge, self.health = store, bridge, health
        self.records: list[AlertRecord] = []
        self.links: dict[str, str] = {}
        # Group key -> what its latest delivery here said ("+2 alerts not included").
        # FIXME(alerts): notices live only in the seat that received them; keeping
        # the truncated count with the group in the store would show it everywhere.
        self.notices: dict[str, tuple[str, ...]] = {}
        bridge.changed.connect(self.reload)
        # A flood of deliveries is read back once per interval, not once each:
        # every re-read is on the GUI thread.
        self._pending = QTimer(self)
        self._pending.setSingleShot(True)
        self._pending.setInterval(RELOAD_COALESCE_MS)
        self._pending.timeout.connect(self.reload)
        if intake is not None:
            intake.delivery_processed.connect(self._on_intake_delivery_processed)
        self.reload()

    @property
    def groups(self) -> list[Group]:
        """Groups with firing alerts first, newest first."""
        return groups(self.records)

    def reload(self) -> None:
        """Re-read; an unreadable store keeps what was last read."""
        if not self.store.path.exists():  # a wall before anything was recorded
            return
        # FIXME(alerts): every record ever received is read; once the store holds
        # months of alerts, read the firing ones and the recently resolved only.
        records = self.bridge.read(self.store.alert_records)
        links = self.bridge.read(self.store.alert_links)
        if records is None or links is None:
            return
        if records == self.records and links == self.links:
            return
        self.records, self.links = records, links
        if self.health is not None:
            self.health.set_alerts(records)
        self.alerts_changed.emit()

    def _on_intake_delivery_processed(self, result: IntakeResult) -> None:
        if result.group_key:
            self.notices[result.group_key] = result.notices
        for error in result.errors:
            log.warning("alert delivery #%s: %s", result.delivery_id, error)
        if not self._pending.isActive():
            self._pending.start()
