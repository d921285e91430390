"""The outbox sender: one background thread that delivers queued rows.

Rows go out in order per destination; each attempt is recorded before the next
starts. What to do after a failure is decided by the kind of failure (see
`mimdesk.domain.outbox`): transient ones wait (the server's hint, else a growing
back-off), permanent ones stop their destination until the operator acts, an
authentication failure stops the whole platform until its credentials change.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from mimdesk.connectors.chat import (
    ChatPlatform,
    DeliveryUnknown,
    OutMessage,
    RateLimited,
    split_text,
)
from mimdesk.connectors.errors import AuthFailed, ConnectorError, reason
from mimdesk.domain import outbox as model
from mimdesk.domain.outbox import Item, Kind, Outcome
from mimdesk.store.store import Store
from mimdesk.sync.chat_status import ChatHealth, Link
from mimdesk.sync.worker import join_worker

log = logging.getLogger(__name__)

# Look at the store at least this often, so a retry or a new row written by
# another process (the `mimdesk` command) is picked up without a restart.
IDLE_CHECK_S = 2.0
MAX_PARTS = 4


def utc_now() -> datetime:
    return datetime.now(UTC)


class OutboxSender:
    """Delivers the outbox of `store` through `platforms` (built on first use)."""

    def __init__(
        self,
        store: Store,
        platforms: Mapping[str, Callable[[], ChatPlatform]],
        health: ChatHealth,
        *,
        clock: Callable[[], datetime] = utc_now,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self._store = store
        self._factories = dict(platforms)
        self._platforms: dict[str, ChatPlatform] = {}
        self._health = health
        self._clock = clock
        self._on_change = on_change or (lambda: None)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        for name in self._factories:
            health.set(name, Link.CONNECTING)

    # --- control ----------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="outbox-sender", daemon=True
            )
            self._thread.start()

    def wake(self) -> None:
        """Something new was queued, or the network may be back: look now."""
        self._wake.set()

    def reauthenticate(self, platform: str) -> None:
        """New credentials: rebuild the platform's client and try again."""
        self._discard(platform)
        self._health.set(platform, Link.CONNECTING)
        self.wake()

    def stop(self, timeout: float = 10.0) -> bool:
        self._stop.set()
        self._wake.set()
        stopped = join_worker(self._thread, timeout, "outbox sender")
        for name in list(self._platforms):
            self._discard(name)
        return stopped

    # --- the loop ---------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                wait = self.run_once()
            except Exception:
                log.exception("outbox sender failed; trying again shortly")
                wait = IDLE_CHECK_S * 5
            self._wake.wait(min(wait, IDLE_CHECK_S))
            self._wake.clear()

    def run_once(self) -> float:
        """Attempt every row that is due now; seconds until the next one is."""
        while not self._stop.is_set():
            items = self._store.outbox_heads()
            blocked = self._health.needs_auth() | self._unconfigured(items)
            due = model.due(items, self._clock(), blocked)
            if not due:
                return model.next_wake(items, self._clock(), blocked)
            for item in due:  # one per destination, then look again
                if self._stop.is_set() or item.platform in self._health.needs_auth():
                    break
                self.attempt(item)
        return 0.0

    def _unconfigured(self, items: list[Item]) -> frozenset[str]:
        missing = {i.platform for i in items if i.platform not in self._factories}
        for name in missing:
            self._health.set(
                name,
                Link.NOT_CONFIGURED,
                f"messages wait until {name} is set up in the settings",
            )
        return frozenset(missing)

    def attempt(self, item: Item) -> Item:
        """One delivery attempt of `item`, recorded whatever happens. The row
        is marked as being sent first, so a crash mid-send is known later."""
        claimed = self._store.outbox_claim(item.id).result()
        if claimed is None:
            return item  # another sender has it on the wire, or it changed
        item, interrupted = claimed
        channel: str | None = None
        try:
            platform = self._platform(item.platform)
            if interrupted and not _safe_to_repeat(platform, item):
                detail = model.INTERRUPTED.format(id=item.id)
                return self._record(item, Outcome.UNKNOWN, detail)
            remote_id, channel = self._deliver(platform, item, looked=interrupted)
        except RateLimited as exc:
            self._health.set(
                item.platform, Link.OK, f"rate limited {exc.retry_after:.0f} s"
            )
            return self._record(item, Outcome.RETRY, exc.message, hint=exc.retry_after)
        except AuthFailed as exc:
            self._health.set(item.platform, Link.NEEDS_AUTH, exc.message)
            self._discard(item.platform)
            return self._record(item, Outcome.AUTH, exc.message)
        except DeliveryUnknown as exc:
            return self._record(item, Outcome.UNKNOWN, exc.message)
        except _CannotInvite as exc:
            # Not a failure of the channel: the messages after it still go.
            return self._record(item, Outcome.SKIPPED, exc.message)
        except ConnectorError as exc:
            if exc.transient:
                self._health.set(item.platform, Link.OFFLINE, exc.message)
                return self._record(item, Outcome.RETRY, exc.message)
            return self._record(item, Outcome.FAILED, exc.message)
        except Exception as exc:
            log.exception("outbox #%s: unexpected failure", item.id)
            return self._record(
                item, Outcome.RETRY, f"{type(exc).__name__}: {reason(exc)}"
            )
        self._health.set(item.platform, Link.OK)
        return self._record(
            item, Outcome.DELIVERED, "", remote_id=remote_id, channel=channel
        )

    def _deliver(
        self, platform: ChatPlatform, item: Item, *, looked: bool = False
    ) -> tuple[str, str | None]:
        """Carry out the row; gives (remote id, channel created or None)."""
        p = item.payload
        if item.kind is Kind.CREATE_CHANNEL:
            created = platform.ensure_channel(
                item.incident_id, str(p["title"]), str(p["topic"])
            )
            return created, created
        if item.kind is Kind.EMAIL:
            message = OutMessage(
                str(p["text"]), txn_id=item.txn_id, to=tuple(p["to"]),
                subject=str(p["subject"]),
            )  # fmt: skip
            return platform.post("email", message).remote_id, None
        # An audience's own channel, else the incident's.
        channel = str(p.get("channel") or "") or self._store.chat_channel(
            item.incident_id, item.platform
        )
        if channel is None:
            raise _NoChannel(
                f"{item.incident_id} has no {item.platform} channel (its opening "
                "was cancelled); open the channel again, then retry"
            )
        if item.kind is Kind.INVITE:
            if not platform.can_create:
                raise _CannotInvite(
                    f"{item.platform} is set up with a webhook, which cannot invite "
                    f"{p['user']}: add them to the channel there"
                )
            platform.invite(channel, str(p["user"]))
            return str(p["user"]), None
        if item.kind is Kind.TOPIC:
            platform.set_topic(channel, str(p["topic"]))
            return "", None
        return self._post(platform, channel, item, look=looked), None

    def _post(
        self, platform: ChatPlatform, channel: str, item: Item, *, look: bool = False
    ) -> str:
        # FIXME(chat): rows hold plain text only; a rich form (Matrix HTML)
        # needs the post event to carry it, as stakeholder templates will.
        text = str(item.payload["text"])
        ref = f"{item.incident_id} outbox #{item.id}"
        parts = split_text(text, platform.limits.max_text, max_parts=MAX_PARTS, ref=ref)
        remote_ids: list[str] = []
        for number, part in enumerate(parts):
            txn = item.txn_id if number == 0 else f"{item.txn_id}-{number}"
            found = self._already_sent(platform, channel, txn, item, look=look)
            posted = (
                found or platform.post(channel, OutMessage(part, txn_id=txn)).remote_id
            )
            remote_ids.append(posted)
        return remote_ids[0]

    @staticmethod
    def _already_sent(
        platform: ChatPlatform, channel: str, txn: str, item: Item, *, look: bool
    ) -> str | None:
        """On a retry (or after a send cut off by a crash), a platform that can
        look (Matrix) checks whether an earlier attempt arrived: after a
        re-login the server no longer knows the transaction id, so only the
        message itself can tell."""
        if item.attempts == 0 and not look:
            return None
        return platform.find_sent(channel, txn)

    def _record(
        self,
        item: Item,
        outcome: Outcome,
        detail: str,
        *,
        remote_id: str = "",
        hint: float | None = None,
        channel: str | None = None,
    ) -> Item:
        if outcome is not Outcome.DELIVERED:
            log.warning(
                "outbox #%s (%s): %s: %s", item.id, item.platform, outcome, detail
            )
        done = self._store.outbox_record(
            item.id, outcome, detail=detail, remote_id=remote_id, hint=hint,
            channel=channel,
        ).result()  # fmt: skip
        self._on_change()
        return done

    def _platform(self, name: str) -> ChatPlatform:
        platform = self._platforms.get(name)
        if platform is None:
            factory = self._factories.get(name)
            if factory is None:
                raise _NoChannel(f"{name} is not set up in the settings")
            platform = factory()
            self._platforms[name] = platform
        return platform

    def _discard(self, name: str) -> None:
        platform = self._platforms.pop(name, None)
        if platform is not None:
            try:
                platform.close()
            except Exception:
                log.debug("closing %s failed", name, exc_info=True)


def _safe_to_repeat(platform: ChatPlatform, item: Item) -> bool:
    """Whether a row whose earlier send was cut off may simply be sent again:
    opening a channel, inviting and setting a topic are idempotent; a post
    only where the platform can look for it first."""
    if item.kind in (Kind.CREATE_CHANNEL, Kind.INVITE, Kind.TOPIC):
        return True
    return item.kind is Kind.POST and platform.can_find_sent


class _NoChannel(ConnectorError):
    """The row cannot go anywhere until the operator acts."""


class _CannotInvite(ConnectorError):
    """The platform has no way to do what the row asks."""
