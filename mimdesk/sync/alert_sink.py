"""Where received and polled alerts go: what the receiver and poller need of the
store (mimdesk.store.store.Store is one), so tests can record instead."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Protocol

from mimdesk.domain.alerts import Alert
from mimdesk.store.alerts import IntakeResult


class AlertSink(Protocol):
    """Keeps alert deliveries. `receive_alerts` keeps the raw body before anything
    else and raises only if it could not; a failure after that is reported in
    the result's errors, and the body stays kept."""

    def receive_alerts(
        self, body: str, *, source: str, received_at: datetime
    ) -> IntakeResult: ...

    def reconcile_alerts(
        self,
        alerts: Sequence[Alert],
        *,
        at: datetime,
        group_key: str = "",
        scope: Mapping[str, str] | None = None,
    ) -> IntakeResult: ...
