"""The outbox: every message MIMDesk sends is first a row here.

Rows are delivered in order per destination (one incident's channel on one
platform). What happens after an attempt is decided here, from the kind of
failure, so that the sender thread only carries out decisions:

- transient (unreachable, 5xx, rate limited): try again later, honouring the
  server's hint, with a growing back-off when it gives none;
- permanent (unknown channel, forbidden, a payload the platform refuses): the
  row fails and stays; later rows for that destination wait behind it until the
  operator retries or cancels it;
- authentication (revoked token): nothing more is sent to that platform until
  its credentials change; the rows stay queued;
- unknown (sent, no answer, on a platform with no idempotency key): the row is
  held as "unknown" and the operator decides, because a blind retry could post
  it twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from mimdesk.domain.errors import DomainError


class State(StrEnum):
    QUEUED = "queued"
    DELIVERED = "delivered"
    FAILED = "failed"  # permanent failure: waits for the operator
    UNKNOWN = "unknown"  # may have arrived: waits for the operator
    CANCELLED = "cancelled"


# States that hold back later rows of the same destination.
BLOCKING = frozenset({State.FAILED, State.UNKNOWN})
# States from which nothing more will happen.
FINAL = frozenset({State.DELIVERED, State.CANCELLED})


class Kind(StrEnum):
    CREATE_CHANNEL = "create_channel"  # payload: title, topic
    INVITE = "invite"  # payload: user, person
    POST = "post"  # payload: text, rich
    TOPIC = "topic"  # payload: topic
    EMAIL = "email"  # payload: to, subject, text, audience


class Outcome(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    FAILED = "failed"
    AUTH = "auth"
    UNKNOWN = "unknown"
    SKIPPED = "skipped"  # the platform cannot do this (a webhook inviting)


# Back-off when a server gives no hint: 2 s, 4 s, 8 s ... at most 5 minutes.
FIRST_BACKOFF_S = 2.0
MAX_BACKOFF_S = 300.0


# A sender marks a row before sending it and clears the mark when the attempt
# is recorded. Longer than any request may take: a mark older than this was
# left by a sender that died mid-send.
SENDING_LEASE_S = 120.0
LEASE = timedelta(seconds=SENDING_LEASE_S)
INTERRUPTED = (
    "MIMDesk stopped while this was being sent, so it may have arrived: look "
    "for it, then `mimdesk outbox cancel {id}` (it arrived) or `mimdesk outbox "
    "retry {id}` (it did not)"
)


def backoff(attempts: int, hint: float | None = None) -> float:
    """Seconds to wait after the `attempts`-th failed attempt (1 for the first)."""
    grown = min(FIRST_BACKOFF_S * 2.0 ** max(attempts - 1, 0), MAX_BACKOFF_S)
    return max(grown, hint) if hint is not None else grown


@dataclass(frozen=True)
class Item:
    """One outbox row."""

    id: int
    created_at: datetime
    incident_id: str
    platform: str
    kind: Kind
    payload: dict[str, Any]
    txn_id: str
    state: State
    attempts: int = 0
    next_attempt_at: datetime | None = None
    last_error: str = ""
    remote_id: str = ""
    delivered_at: datetime | None = None
    event_id: str = ""  # the journal event that caused it
    # An audience with a destination of its own ("" for the incident channel):
    # rows of different lanes never wait behind each other.
    lane: str = ""
    # Set while a sender has it on the wire (see SENDING_LEASE).
    sending_since: datetime | None = None

    def in_flight(self, now: datetime) -> bool:
        """Being sent by a sender that is (as far as we can tell) alive."""
        return self.sending_since is not None and now - self.sending_since < LEASE

    @property
    def destination(self) -> str:
        return destination(self.platform, self.incident_id, self.lane)

    def describe(self) -> str:
        """One line for lists: what it is, without secrets (there are none here)."""
        if self.kind is Kind.POST:
            text = str(self.payload.get("text", "")).replace("\n", " ")
            what = text if len(text) <= 60 else text[:59] + "…"
        elif self.kind is Kind.INVITE:
            what = f"invite {self.payload.get('user', '?')}"
        elif self.kind is Kind.EMAIL:
            to = ", ".join(self.payload.get("to", ()))
            what = f"email to {to}: {self.payload.get('subject', '')}"
        elif self.kind is Kind.CREATE_CHANNEL:
            what = f"open channel {self.payload.get('title', '')}"
        else:
            what = "set topic"
        return what

    def advice(self) -> str:
        """What the operator can do about this row, when it needs them."""
        if self.state is State.FAILED:
            return (
                f"fix the cause ({self.last_error or 'see the log'}), then "
                f"`mimdesk outbox retry {self.id}`; or `mimdesk outbox cancel "
                f"{self.id}` to drop it and let later messages go"
            )
        if self.state is State.UNKNOWN:
            return (
                "it may have arrived: look in the channel; if it is there, "
                f"`mimdesk outbox cancel {self.id}`, if not, "
                f"`mimdesk outbox retry {self.id}`"
            )
        return ""


def destination(platform: str, incident_id: str, lane: str = "") -> str:
    where = f"{platform}:{incident_id}"
    return f"{where}:{lane}" if lane else where


def check_retry(item: Item) -> None:
    if item.state in FINAL:
        raise DomainError(f"outbox #{item.id} is {item.state}; nothing to retry")


def check_cancel(item: Item) -> None:
    if item.state in FINAL:
        raise DomainError(f"outbox #{item.id} is already {item.state}")


def heads(items: list[Item]) -> list[Item]:
    """The first unfinished row of each destination, in creation order.

    `items` must be every unfinished row, oldest first. A head that is failed or
    unknown is returned too: the caller shows it and sends nothing behind it."""
    seen: set[str] = set()
    first: list[Item] = []
    for item in items:
        if item.state in FINAL or item.destination in seen:
            continue
        seen.add(item.destination)
        first.append(item)
    return first


def due(items: list[Item], now: datetime, blocked: frozenset[str]) -> list[Item]:
    """Heads ready to be attempted now: queued, their time come, their
    platform not waiting for new credentials."""
    return [
        item
        for item in heads(items)
        if item.state is State.QUEUED
        and item.platform not in blocked
        and not item.in_flight(now)
        and (item.next_attempt_at is None or item.next_attempt_at <= now)
    ]


def next_wake(items: list[Item], now: datetime, blocked: frozenset[str]) -> float:
    """Seconds until some queued head becomes due (large when none will)."""
    times: list[datetime] = []
    for item in heads(items):
        if item.state is not State.QUEUED or item.platform in blocked:
            continue
        if item.in_flight(now) and item.sending_since is not None:
            times.append(item.sending_since + LEASE)  # its sender may have died
        elif item.next_attempt_at is not None:
            times.append(item.next_attempt_at)
    if not times:
        return 3600.0
    return max((min(times) - now).total_seconds(), 0.0)


@dataclass(frozen=True)
class Waiting:
    """What the console shows about the outbox: how many wait, since when."""

    queued: int = 0
    oldest: datetime | None = None
    needs_operator: int = 0

    def age(self, now: datetime) -> timedelta | None:
        return now - self.oldest if self.oldest else None
