"""The one channel model every chat platform implements.

An incident has at most one channel per platform (a Matrix room, a Slack
channel, a Teams webhook). The outbox sender talks to platforms only through
`ChatPlatform`; the chat poller reads from the ones that can be read.

Errors are the connector errors of `mimdesk.connectors.errors`, plus:

- `RateLimited`: transient, with the wait the server asked for;
- `DeliveryUnknown`: the request may have reached the server but no answer came
  back, on a platform that cannot make a retry idempotent. The sender does not
  retry it; the operator decides.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable

from mimdesk.connectors.errors import ConnectorError, Transient

# How long we ever wait on one hint from a server, whatever it asks.
MAX_WAIT_S = 60.0

# A first read goes back this far before the channel was opened: the seat's
# clock and the server's may differ a little. Repeats are dropped by remote id.
OPENED_MARGIN = timedelta(minutes=1)


class RateLimited(Transient):
    """The server asked us to slow down and said for how long."""

    def __init__(self, message: str, *, retry_after: float, status: int = 429) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class DeliveryUnknown(ConnectorError):
    """Sent, but no answer: it may or may not have arrived. Not retried blindly."""


def wait_for(hints: Sequence[float | None], *, jitter: float = 0.1) -> float:
    """The wait to honour: the largest hint given, capped, plus a little jitter
    so that several seats do not all come back in the same instant."""
    given = [h for h in hints if h is not None and h >= 0]
    base = min(max(given, default=1.0), MAX_WAIT_S)
    return base + random.uniform(0, jitter * base) if jitter else base


@dataclass(frozen=True)
class Limits:
    """What one message may hold on a platform; enforced before sending."""

    max_text: int  # characters of the plain text
    max_payload: int | None = None  # bytes of the JSON body, where the platform says


@dataclass(frozen=True)
class OutMessage:
    """One message to post. `text` is never empty; `rich` is the platform's own
    richer form (Matrix HTML, Slack blocks source, Teams card text) when given."""

    text: str
    rich: str | None = None
    # Chosen once when the outbox row is written, reused on every attempt.
    txn_id: str = ""
    # Email only: the recipients and the subject line.
    to: tuple[str, ...] = ()
    subject: str = ""


@dataclass(frozen=True)
class Posted:
    """Where a posted message landed: an event id, a Slack ts, or '' for a webhook."""

    remote_id: str


@dataclass(frozen=True)
class ChatMessage:
    """A message read back from a channel, in the order the server holds them."""

    channel: str
    remote_id: str
    author: str  # the platform's user id (@alice:example.org, U012345)
    at: datetime  # UTC
    text: str
    author_name: str = ""


@dataclass(frozen=True)
class Membership:
    """Someone joined or left a channel (Matrix membership events)."""

    channel: str
    remote_id: str
    user: str
    state: str  # "join", "leave", "invite", "ban"
    at: datetime  # UTC


@dataclass(frozen=True)
class Batch:
    """What one read returned. Save `position` only after storing the rest."""

    messages: tuple[ChatMessage, ...] = ()
    memberships: tuple[Membership, ...] = ()
    position: str | None = None
    # Seconds the platform asks us to wait before the next read (Slack's tier).
    next_read_after: float = 0.0
    notes: tuple[str, ...] = field(default_factory=tuple)


@runtime_checkable
class ChatPlatform(Protocol):
    """What the outbox sender and the chat poller need from a platform."""

    name: str  # "matrix", "slack", "teams", "email"
    limits: Limits
    can_read: bool
    can_create: bool
    # find_sent can tell whether an earlier post arrived (Matrix).
    can_find_sent: bool

    def ensure_channel(self, incident_id: str, title: str, topic: str) -> str:
        """Create the incident's channel (or find the one made by an earlier
        attempt) and return its id. Platforms that cannot create channels
        return their fixed destination."""
        ...

    def set_topic(self, channel: str, topic: str) -> None: ...

    def invite(self, channel: str, user: str) -> None:
        """Invite one person by platform user id; already present is success."""
        ...

    def post(self, channel: str, message: OutMessage) -> Posted: ...

    def find_sent(self, channel: str, txn_id: str) -> str | None:
        """The remote id of an earlier post carrying `txn_id`, if the platform
        can tell (Matrix); None when it cannot or it is not there."""
        ...

    def read(
        self,
        channels: Sequence[str],
        position: str | None,
        *,
        since: datetime | None = None,
    ) -> Batch:
        """New messages and membership changes in `channels` since `position`.
        A first read (no position) returns what was said from `since` (when
        the first channel was opened), or, without it, nothing older than now."""
        ...

    def close(self) -> None: ...


POINTER = "\n[…continued in MIMDesk: {ref}]"


def fit_text(text: str, limit: int, *, ref: str) -> str:
    """`text` cut to `limit` characters with a pointer back to the console."""
    if len(text) <= limit:
        return text
    pointer = POINTER.format(ref=ref)
    room = max(limit - len(pointer), 0)
    cut = text[:room]
    if " " in cut[-40:]:
        cut = cut[: cut.rstrip().rfind(" ")]
    return (cut.rstrip() + pointer)[:limit]


def split_text(text: str, limit: int, *, max_parts: int = 4, ref: str) -> list[str]:
    """Split a long message into parts of at most `limit` characters, at line
    breaks where possible; beyond `max_parts` the last part points to the
    console instead of flooding the channel."""
    if limit <= 0:
        raise ValueError("limit must be positive")
    parts: list[str] = []
    rest = text
    while rest and len(parts) < max_parts - 1 and len(rest) > limit:
        cut = rest.rfind("\n", 0, limit)
        if cut < limit // 2:
            cut = rest.rfind(" ", 0, limit)
        if cut < limit // 2:
            cut = limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip("\n ")
    if rest:
        parts.append(fit_text(rest, limit, ref=ref))
    return parts or [""]
