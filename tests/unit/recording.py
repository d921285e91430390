"""An in-memory journal for domain tests: ids, order and hashes as the store gives."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from mimdesk.domain import events as ev
from mimdesk.domain.incident import Incident, apply


class Recorder:
    """Records drafts as the journal does (ids, order, chained hashes) in memory,
    keeping the state after every event."""

    def __init__(self, incident_id: str = "INC-241027-TEST") -> None:
        self.incident_id = incident_id
        self.events: list[ev.JournalEvent] = []
        self.states: list[Incident] = []

    @property
    def incident(self) -> Incident:
        return self.states[-1]

    def record(self, drafts: Sequence[ev.NewEvent], recorded_at: datetime) -> Incident:
        for draft in drafts:
            event = self._chain(draft, recorded_at)
            self.events.append(event)
            self.states.append(apply(self.states[-1] if self.states else None, event))
        return self.incident

    def _chain(self, draft: ev.NewEvent, recorded_at: datetime) -> ev.JournalEvent:
        seq = len(self.events) + 1
        return ev.seal(
            draft,
            seq=seq,
            event_id=f"EV{seq:05d}",
            incident_id=self.incident_id,
            incident_seq=seq,
            recorded_at=recorded_at,
            seat="seat-test",
            prev_hash=self.events[-1].hash if self.events else ev.GENESIS_HASH,
        )
