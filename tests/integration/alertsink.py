"""A thread-safe sink that records what the receiver and poller hand it, and lets
a test wait for it, for tests with real servers."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from mimdesk.domain.alerts import Alert, AlertRecord, Notification, apply, parse_webhook
from mimdesk.store.alerts import IntakeResult
from mimdesk.sync.alert_sink import AlertSink


@dataclass(frozen=True)
class Received:
    body: str
    at: datetime
    wall_time: float  # time.time() on arrival, to compare with server clocks


class Deliveries:
    """Every webhook body and every reconcile call, in order of arrival; each is
    passed on to `store` first when there is one."""

    def __init__(self, store: AlertSink | None = None) -> None:
        self.store = store
        self._changed = threading.Condition()
        self.received: list[Received] = []
        self.reconciled: list[tuple[list[Alert], Mapping[str, str] | None, str]] = []

    def receive_alerts(
        self, body: str, *, source: str, received_at: datetime
    ) -> IntakeResult:
        arrived = time.time()
        result = IntakeResult(0)
        if self.store is not None:
            result = self.store.receive_alerts(
                body, source=source, received_at=received_at
            )
        with self._changed:
            self.received.append(Received(body, received_at, arrived))
            self._changed.notify_all()
        return result

    def reconcile_alerts(
        self,
        alerts: Sequence[Alert],
        *,
        at: datetime,
        group_key: str = "",
        scope: Mapping[str, str] | None = None,
    ) -> IntakeResult:
        result = IntakeResult(0)
        if self.store is not None:
            result = self.store.reconcile_alerts(
                alerts, at=at, group_key=group_key, scope=scope
            )
        with self._changed:
            self.reconciled.append((list(alerts), scope, group_key))
            self._changed.notify_all()
        return result

    def notes(self) -> list[Notification]:
        with self._changed:
            bodies = [r.body for r in self.received]
        return [parse_webhook(json.loads(b)) for b in bodies]

    def records(self) -> dict[str, AlertRecord]:
        """The alert records the deliveries fold into, as the store keeps them."""
        records: dict[str, AlertRecord] = {}
        with self._changed:
            received = list(self.received)
        for item, note in zip(received, self.notes(), strict=True):
            records = apply(records, note, item.at).records
        return records

    def wait_for(self, check: Callable[[Deliveries], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not check(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
        return True
