"""The open incidents the wall shows, re-read whenever anyone commits to the store."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import partial

from PySide6.QtCore import QObject, Signal

from mimdesk.domain import roster as roster_model
from mimdesk.domain.directory import Directory
from mimdesk.domain.events import JournalEvent
from mimdesk.domain.incident import Incident
from mimdesk.domain.regulatory import Regime
from mimdesk.domain.roster import RolePolicy, Roster
from mimdesk.domain.severity import SeverityScale
from mimdesk.domain.targets import DEFAULT_POLICY, TargetPolicy
from mimdesk.store.store import Store
from mimdesk.ui.bridge import StoreBridge

log = logging.getLogger(__name__)

# Pages a wall gives to incidents; more open ones are counted, not shown.
MAX_PAGES = 3
# Enough to count the open incidents beyond the pages without reading them all.
COUNT_LIMIT = 100


@dataclass(frozen=True)
class WallPolicies:
    """The rules and names the wall's read models are worked out with."""

    scale: SeverityScale = field(default_factory=SeverityScale)
    directory: Directory = field(default_factory=Directory)
    roles: RolePolicy = field(default_factory=RolePolicy)
    targets: TargetPolicy = DEFAULT_POLICY
    regimes: tuple[Regime, ...] = ()


@dataclass(frozen=True)
class LiveIncident:
    """One open incident as last read: its state, journal and bridge roster."""

    incident: Incident
    events: tuple[JournalEvent, ...]
    roster: Roster


class IncidentFeed(QObject):
    """Reads the most severe open incidents through a StoreBridge; never writes.

    `poll()` (the wall calls it every few seconds) costs one PRAGMA when nothing
    was committed. Emits changed() after each re-read that found something
    different; `live` holds up to `pages` incidents, most severe first, and
    `hidden` how many more are open.
    """

    changed = Signal()

    def __init__(
        self,
        store: Store,
        policies: WallPolicies,
        *,
        pages: int = MAX_PAGES,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.store, self.policies, self.pages = store, policies, pages
        self.live: list[LiveIncident] = []
        self.hidden = 0
        self.bridge = StoreBridge(store, self)
        self.bridge.changed.connect(self.reload)
        # FIXME(wall): after `mimdesk store restore` swaps the file, the bridge
        # says file_replaced and the wall goes on showing the old file; reopen
        # the store (a new reader and bridge) when that happens.
        # FIXME(wall): an unreadable store keeps the last read on screen with
        # nothing saying so; show "store unreadable since HH:MM" on the pages
        # (bridge.read_failed says when).
        self.reload()

    def poll(self) -> None:
        self.bridge.poll()

    def reload(self) -> None:
        """Re-read the open incidents; an unreadable store keeps what was shown."""
        if not self.store.path.exists():  # nobody has recorded an incident yet
            return
        read = partial(self.store.incidents, include_closed=False, limit=COUNT_LIMIT)
        found = self.bridge.read(read)
        if found is None:
            return
        live = [self._read(incident) for incident in found[: self.pages]]
        kept = [item for item in live if item is not None]
        hidden = len(found) - len(kept)
        if kept == self.live and hidden == self.hidden:
            return
        self.live, self.hidden = kept, hidden
        log.info("wall shows %d open incident(s), %d more open", len(kept), hidden)
        self.changed.emit()

    def _read(self, incident: Incident) -> LiveIncident | None:
        events = self.bridge.read(partial(self.store.timeline, incident.id))
        if events is None:
            previous = next(
                (i for i in self.live if i.incident.id == incident.id), None
            )
            return previous
        roster = roster_model.of_timeline(events)
        return LiveIncident(incident, tuple(events), roster)
