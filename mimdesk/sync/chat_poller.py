"""Reads what people say in the incidents' channels back into their timelines.

One thread per readable platform. Each read returns messages, membership
changes and a new position; all three are stored in one transaction, so a
crash between reading and storing reads the same things again (deduplicated by
their remote ids) instead of skipping them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from mimdesk.connectors.chat import Batch, ChatPlatform, Membership
from mimdesk.connectors.errors import AuthFailed, ConnectorError
from mimdesk.domain import chat as chat_model
from mimdesk.domain import roster as roster_model
from mimdesk.domain.directory import Directory
from mimdesk.domain.events import NewEvent
from mimdesk.domain.roster import Roster
from mimdesk.store.store import RosterMove, Store
from mimdesk.sync.chat_status import ChatHealth, Link
from mimdesk.sync.worker import join_worker

log = logging.getLogger(__name__)

IDLE_S = 5.0  # no channel to read yet
MAX_BACKOFF_S = 60.0
Draft = NewEvent | RosterMove


def drafts_for(
    platform: str,
    batch: Batch,
    channels: dict[str, str],
    directory: Directory,
    *,
    own_user: str | None,
) -> list[tuple[str, str, Draft]]:
    """Timeline entries for what a read returned, in the order it came."""
    by_handle = {
        handle: person.id
        for person in directory.people
        if (handle := chat_model.chat_handle(person.handles, platform))
    }
    out: list[tuple[str, str, Draft]] = []
    for message in batch.messages:
        incident_id = channels.get(message.channel)
        if incident_id is None or message.author == own_user:
            continue
        who = by_handle.get(message.author)
        # The directory's name is the one the bridge knows; else the chat's.
        name = directory.name(who) if who else (message.author_name or message.author)
        draft = chat_model.received(
            platform=platform, remote_id=message.remote_id, author=message.author,
            author_name=name, text=message.text, at=message.at,
        )  # fmt: skip
        out.append((incident_id, message.remote_id, draft))
    for change in batch.memberships:
        incident_id = channels.get(change.channel)
        if incident_id is None or change.user == own_user:
            continue
        person = by_handle.get(change.user)
        move: Draft
        if person and change.state in ("join", "leave"):
            move = _roster_move(person, change)
        else:
            move = chat_model.membership(
                platform=platform, remote_id=change.remote_id, user=change.user,
                state=change.state, at=change.at,
            )  # fmt: skip
        out.append((incident_id, change.remote_id, move))
    return out


def _roster_move(person: str, change: Membership) -> RosterMove:
    actor = f"{change.user} (chat)"

    def decide(roster: Roster, now: datetime) -> NewEvent:
        at = min(change.at, now)
        if change.state == "join":
            return roster_model.join(roster, person, at=at, now=now, actor=actor)
        return roster_model.leave(roster, person, at=at, now=now, actor=actor)

    return decide


class ChatPoller:
    """Reads one platform's incident channels until stopped."""

    def __init__(
        self,
        store: Store,
        name: str,
        factory: Callable[[], ChatPlatform],
        health: ChatHealth,
        directory: Callable[[], Directory],
        *,
        interval: float = 3.0,
        on_new: Callable[[int], None] | None = None,
        on_back: Callable[[], None] | None = None,
    ) -> None:
        self._store = store
        self.name = name
        self._factory = factory
        self._platform: ChatPlatform | None = None
        self._health = health
        self._directory = directory
        self._interval = interval
        self._on_new = on_new or (lambda _n: None)
        self._on_back = on_back or (lambda: None)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._failures = 0

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name=f"chat-reader:{self.name}", daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> bool:
        self._stop.set()
        stopped = join_worker(self._thread, timeout, f"{self.name} chat reader")
        if self._platform is not None:
            self._platform.close()
            self._platform = None
        return stopped

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                wait = self.read_once()
            except Exception:
                log.exception("%s chat reader failed", self.name)
                wait = MAX_BACKOFF_S
            if wait is None:
                return  # stopped for good: credentials must change
            self._stop.wait(wait)

    def read_once(self) -> float | None:
        """One read; seconds to wait before the next, None to stop reading."""
        channels = self._store.chat_channels(self.name)
        if not channels:
            return IDLE_S
        try:
            if self._platform is None:
                self._platform = self._factory()
            platform = self._platform
            position = self._store.chat_position(self.name)
            since = self._store.chat_opened(self.name) if position is None else None
            batch = platform.read(list(channels), position, since=since)
        except AuthFailed as exc:
            self._health.set(self.name, Link.NEEDS_AUTH, exc.message)
            log.error("%s: %s; chat reading stopped", self.name, exc.message)
            return None
        except ConnectorError as exc:
            self._failures += 1
            self._health.set(self.name, Link.OFFLINE, exc.message)
            self._platform = None if not exc.transient else self._platform
            hint = float(getattr(exc, "retry_after", 0.0) or 0.0)
            grown = 2.0 * 2.0 ** min(self._failures, 5)
            return min(max(hint, grown), MAX_BACKOFF_S)
        was_failing, self._failures = self._failures > 0, 0
        own = getattr(platform, "user_id", None)
        drafts = drafts_for(self.name, batch, channels, self._directory(), own_user=own)
        new = self._store.store_chat(self.name, drafts, batch.position).result()
        self._health.set(self.name, Link.OK)
        if was_failing:
            self._on_back()
        if new:
            self._on_new(new)
        return max(self._interval, batch.next_read_after)
