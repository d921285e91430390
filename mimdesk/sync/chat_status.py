"""How each chat platform is doing, shared by the sender and the reader threads
and shown by the console and the wallboard."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class Link(StrEnum):
    NOT_CONFIGURED = "not configured"
    CONNECTING = "connecting"
    OK = "connected"
    OFFLINE = "offline"  # unreachable or failing; retrying on its own
    NEEDS_AUTH = "needs re-authentication"  # stopped until credentials change


@dataclass(frozen=True)
class PlatformState:
    platform: str
    link: Link
    detail: str = ""
    since: float = 0.0  # time.monotonic() when this state began

    def line(self) -> str:
        text = f"{self.platform}: {self.link.value}"
        return f"{text} ({self.detail})" if self.detail else text


Listener = Callable[[PlatformState], None]


class ChatHealth:
    """The latest state per platform; listeners are called on every change,
    on the thread that made it (the UI hops to its own thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._states: dict[str, PlatformState] = {}
        self._listeners: list[Listener] = []

    def listen(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def set(self, platform: str, link: Link, detail: str = "") -> None:
        with self._lock:
            old = self._states.get(platform)
            if old and old.link is link and old.detail == detail:
                return
            since = old.since if old and old.link is link else time.monotonic()
            state = PlatformState(platform, link, detail, since)
            self._states[platform] = state
            listeners = list(self._listeners)
        for listener in listeners:
            listener(state)

    def get(self, platform: str) -> PlatformState:
        with self._lock:
            return self._states.get(
                platform, PlatformState(platform, Link.NOT_CONFIGURED)
            )

    def snapshot(self) -> dict[str, PlatformState]:
        with self._lock:
            return dict(self._states)

    def needs_auth(self) -> frozenset[str]:
        with self._lock:
            return frozenset(
                p for p, s in self._states.items() if s.link is Link.NEEDS_AUTH
            )
