"""The store façade: one writer thread for changes, short reads on any thread."""

from __future__ import annotations

import logging
import secrets
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from mimdesk.domain import actions as actions_model
from mimdesk.domain import alert_links, impact_override, stakeholder
from mimdesk.domain import chat as chat_model
from mimdesk.domain import events as ev
from mimdesk.domain import incident as model
from mimdesk.domain import roster as roster_model
from mimdesk.domain.alerts import Alert, AlertRecord, Group, groups
from mimdesk.domain.errors import DomainError
from mimdesk.domain.events import JournalEvent, NewEvent
from mimdesk.domain.incident import Incident
from mimdesk.domain.lifecycle import Status
from mimdesk.domain.outbox import Item, Kind, Outcome, Waiting
from mimdesk.domain.roster import Roster
from mimdesk.domain.times import utc_iso
from mimdesk.store import alerts as alert_store
from mimdesk.store import backup, journal, schema
from mimdesk.store import outbox as outbox_store
from mimdesk.store import seats as seat_store
from mimdesk.store.alerts import IntakeResult
from mimdesk.store.db import StoreError, StoreReadOnly, connect, quick_check
from mimdesk.store.lock import StoreLock

log = logging.getLogger(__name__)
T = TypeVar("T")
# A roster change decided against the roster as it stands when it is written.
RosterMove = Callable[[Roster, datetime], NewEvent]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Damage:
    """What the start-up check found wrong with a store file, and the way back."""

    path: Path
    problems: tuple[str, ...]
    latest_backup: Path | None

    def explain(self) -> str:
        first = self.problems[0] if self.problems else "unknown damage"
        where = (
            f"Newest backup: {self.latest_backup}. Restore it with "
            f"`mimdesk store restore {self.latest_backup}`."
            if self.latest_backup
            else "No backup was found."
        )
        return f"The incident store {self.path} is damaged ({first}). {where}"


class StoreDamaged(StoreError):
    """quick_check failed; the file has been left exactly as it was."""

    def __init__(self, damage: Damage) -> None:
        super().__init__(damage.explain())
        self.damage = damage


class Store:
    """The incident store at `path`.

    Commands return Futures resolved by the writer thread; reads run on the
    calling thread through its own connection and never hold a transaction.
    """

    def __init__(
        self,
        path: Path,
        *,
        read_only: bool = False,
        immutable: bool = False,
        clock: Callable[[], datetime] = utc_now,
        backups: Path | None = None,
    ) -> None:
        self.path = path
        self.read_only = read_only or immutable
        self.immutable = immutable
        self.backups = backups or path.parent / "backups"
        self._clock = clock
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._writer = None
        self._states = journal.StateCache()  # touched by the writer thread only
        self._lock = StoreLock(path)
        # Person id -> {platform: user id}: who gets a chat invite when asked
        # to join the bridge of an incident whose channel is open.
        self.chat_handles: Callable[[str], Mapping[str, str]] | None = None
        if not self.read_only:
            from mimdesk.store.writer import Writer

            self._lock.shared()
            try:
                self._writer = Writer(
                    self._open_writer, name=f"store-writer:{path.name}"
                )
            except BaseException:
                self._lock.release()
                raise
        try:
            self.seat = self._meta("seat") or "unknown"
        except BaseException:
            self.close()  # never leave the writer thread behind
            raise

    @classmethod
    def open(cls, path: Path, **kwargs: object) -> Store:
        """Open (creating if new) after checking the file is sound."""
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            problems = quick_check(path)
            if problems:
                backups = Path(str(kwargs.get("backups") or path.parent / "backups"))
                damage = Damage(path, tuple(problems), backup.latest_backup(backups))
                log.error("store damaged: %s", damage.explain())
                raise StoreDamaged(damage)
        return cls(path, **kwargs)  # type: ignore[arg-type]

    def _open_writer(self) -> sqlite3.Connection:
        conn = connect(self.path)
        try:
            schema.migrate(conn)
            conn.execute(
                "INSERT OR IGNORE INTO meta (key, value)"
                " VALUES ('seat', ?), ('created_at', ?)",
                (f"seat-{secrets.token_hex(4)}", utc_iso(self._clock())),
            )
        except BaseException:
            conn.close()  # e.g. a newer schema: do not keep the file open
            raise
        return conn

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path, read_only=True, immutable=self.immutable)
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    def _meta(self, key: str) -> str | None:
        try:
            row = (
                self._reader()
                .execute("SELECT value FROM meta WHERE key = ?", (key,))
                .fetchone()
            )
        except sqlite3.DatabaseError:
            return None
        return str(row[0]) if row else None

    def meta(self, key: str) -> str | None:
        """A small setting the store keeps for this seat (e.g. a device id)."""
        return self._meta(key)

    def set_meta(self, key: str, value: str) -> Future[None]:
        def job(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key)"
                " DO UPDATE SET value = excluded.value",
                (key, value),
            )

        return self.submit(job)

    # --- writing --------------------------------------------------------------

    def submit(
        self, job: Callable[[sqlite3.Connection], T], *, transaction: bool = True
    ) -> Future[T]:
        if self._writer is None:
            failed: Future[T] = Future()
            failed.set_exception(
                StoreReadOnly(f"{self.path} is open read-only; nothing can be changed")
            )
            return failed
        return self._writer.submit(job, transaction=transaction)

    def declare(
        self,
        *,
        title: str,
        severity: int,
        services: Iterable[str],
        detected_at: datetime | None,
        actor: str,
        known_services: Collection[str] | None = None,
        demo: bool = False,
        typed_offset: str | None = None,
        declared_at: datetime | None = None,
        exercise: bool = False,
    ) -> Future[str]:
        """Open a new incident; the Future gives its id."""
        services = list(services)

        def job(conn: sqlite3.Connection) -> str:
            now = self._clock()
            drafts = model.declare(
                title=title,
                severity=severity,
                services=services,
                detected_at=detected_at or now,
                now=now,
                actor=actor,
                known_services=known_services,
                demo=demo,
                typed_offset=typed_offset,
                declared_at=declared_at,
                exercise=exercise,
            )
            incident_id = self._unused_id(conn, now)
            journal.append(
                conn,
                incident_id,
                drafts,
                seat=self.seat,
                recorded_at=now,
                cache=self._states,
            )
            return incident_id

        return self.submit(job)

    @staticmethod
    def _unused_id(conn: sqlite3.Connection, now: datetime) -> str:
        while True:
            candidate = journal.new_incident_id(now)
            if not conn.execute(
                "SELECT 1 FROM journal WHERE incident_id = ? LIMIT 1", (candidate,)
            ).fetchone():
                return candidate

    def command(
        self,
        incident_id: str,
        decide: Callable[[Incident, datetime], Sequence[NewEvent]],
    ) -> Future[list[JournalEvent]]:
        """Run a domain command against the incident's current state, atomically."""

        def job(conn: sqlite3.Connection) -> list[JournalEvent]:
            now = self._clock()
            return journal.run_command(
                conn,
                incident_id,
                lambda state: decide(state, now),
                seat=self.seat,
                recorded_at=now,
                cache=self._states,
            )

        return self.submit(job)

    def roster_command(
        self, incident_id: str, decide: Callable[[Roster, datetime], NewEvent]
    ) -> Future[list[JournalEvent]]:
        """Run a roster command against the roster as the journal has it now."""

        def job(conn: sqlite3.Connection) -> list[JournalEvent]:
            now = self._clock()

            def with_roster(state: Incident) -> list[NewEvent]:
                roster_model.check_open(state)
                events = journal.iter_events(conn, state.id)
                return [decide(roster_model.of_timeline(events), now)]

            written = journal.run_command(
                conn,
                incident_id,
                with_roster,
                seat=self.seat,
                recorded_at=now,
                cache=self._states,
            )
            self._invite_requested(conn, written)
            self._owners_follow_roles(conn, written, now)
            return written

        return self.submit(job)

    def _owners_follow_roles(
        self, conn: sqlite3.Connection, written: Sequence[JournalEvent], now: datetime
    ) -> None:
        """Recovery actions waiting for a role's holder become theirs, on the record."""
        state = self._states.load(conn, written[0].incident_id) if written else None
        if state is None:
            return
        events = list(journal.iter_events(conn, state.id))
        drafts = actions_model.follow_roles(
            state, actions_model.board_of(events), roster_model.of_timeline(events),
            now=now, actor=written[-1].actor,
        )  # fmt: skip
        if drafts:
            journal.append(
                conn, state.id, drafts, seat=self.seat, recorded_at=now, state=state,
                cache=self._states,
            )  # fmt: skip

    def impact_command(
        self, incident_id: str, decide: impact_override.Decision
    ) -> Future[list[JournalEvent]]:
        """Set or clear a business impact override, decided against the
        overrides the journal holds when it is written."""

        def job(conn: sqlite3.Connection) -> list[JournalEvent]:
            now = self._clock()

            def with_overrides(state: Incident) -> list[NewEvent]:
                events = journal.iter_events(conn, state.id)
                return [decide(state, impact_override.overrides_of(events), now)]

            return journal.run_command(
                conn,
                incident_id,
                with_overrides,
                seat=self.seat,
                recorded_at=now,
                cache=self._states,
            )

        return self.submit(job)

    def action_command(
        self, incident_id: str, decide: actions_model.Decision
    ) -> Future[list[JournalEvent]]:
        """Change recovery actions, decided against the board and roster as the
        journal holds them when it is written."""

        def job(conn: sqlite3.Connection) -> list[JournalEvent]:
            now = self._clock()

            def with_board(state: Incident) -> Sequence[NewEvent]:
                events = list(journal.iter_events(conn, state.id))
                board = actions_model.board_of(events)
                return decide(state, board, roster_model.of_timeline(events), now)

            return journal.run_command(
                conn, incident_id, with_board, seat=self.seat, recorded_at=now,
                cache=self._states,
            )  # fmt: skip

        return self.submit(job)

    def board(self, incident_id: str) -> actions_model.Board:
        """The incident's recovery actions, checks and overrides."""
        return actions_model.board_of(self.timeline(incident_id))

    def change_status(
        self,
        incident_id: str,
        target: Status,
        *,
        actor: str,
        at: datetime | None = None,
        typed_offset: str | None = None,
        reason: str | None = None,
        undo: bool = False,
    ) -> Future[list[JournalEvent]]:
        """Move the lifecycle on; mitigated and resolved wait for the started
        runbooks' verification checks to pass, or an override on the record."""

        def decide(
            state: Incident, board: actions_model.Board, _r: Roster, now: datetime
        ) -> list[NewEvent]:
            if not undo and target.rank > state.status.rank:
                actions_model.require_verified(board, target)
            return model.change_status(
                state,
                target,
                at=at or now,
                now=now,
                actor=actor,
                typed_offset=typed_offset,
                reason=reason,
                undo=undo,
            )

        return self.action_command(incident_id, decide)

    def add_note(
        self,
        incident_id: str,
        text: str,
        *,
        actor: str,
        at: datetime | None = None,
        typed_offset: str | None = None,
    ) -> Future[list[JournalEvent]]:
        return self.command(
            incident_id,
            lambda state, now: model.add_note(
                state, text, now=now, actor=actor, at=at, typed_offset=typed_offset
            ),
        )

    def change_severity(
        self, incident_id: str, severity: int, *, actor: str
    ) -> Future[list[JournalEvent]]:
        return self.command(
            incident_id,
            lambda state, now: model.change_severity(
                state, severity, now=now, actor=actor
            ),
        )

    def rebuild(self, *, force: bool = False) -> Future[int]:
        def job(conn: sqlite3.Connection) -> int:
            self._states.clear()
            return journal.rebuild(conn, force=force)

        return self.submit(job)

    def backup_now(self) -> Future[Path]:
        folder, now = self.backups, self._clock()
        return self.submit(
            lambda conn: backup.write_backup(conn, folder, now), transaction=False
        )

    def backup_if_due(self) -> Future[Path] | None:
        if self.read_only or not backup.backup_due(self.backups, self._clock()):
            return None
        return self.backup_now()

    def _invite_requested(
        self, conn: sqlite3.Connection, written: Sequence[JournalEvent]
    ) -> None:
        """Someone asked to join a bridge whose chat channel exists is invited."""
        handles = self.chat_handles
        for event in written:
            if event.kind != ev.ROSTER_REQUESTED or handles is None:
                continue
            person = str(event.payload["person"])
            known = handles(person)
            for platform in outbox_store.requested_platforms(conn, event.incident_id):
                user = chat_model.chat_handle(known, platform)
                if user:
                    outbox_store.enqueue(
                        conn, incident_id=event.incident_id, platform=platform,
                        kind=Kind.INVITE,
                        payload={"person": person, "user": user},
                        event_id=event.id, seat=self.seat, now=event.recorded_at,
                    )  # fmt: skip

    # --- chat and the outbox ----------------------------------------------------

    def _chat_command(
        self,
        incident_id: str,
        decide: Callable[[sqlite3.Connection, Incident, datetime], Sequence[NewEvent]],
    ) -> Future[list[JournalEvent]]:
        """A command whose events cause messages: events and outbox rows are
        written in one transaction, so neither exists without the other."""

        def job(conn: sqlite3.Connection) -> list[JournalEvent]:
            now = self._clock()
            written = journal.run_command(
                conn,
                incident_id,
                lambda state: decide(conn, state, now),
                seat=self.seat,
                recorded_at=now,
                cache=self._states,
            )
            outbox_store.rows_for(conn, written, seat=self.seat)
            return written

        return self.submit(job)

    def open_chat(
        self,
        incident_id: str,
        platforms: Sequence[str],
        *,
        actor: str,
        invites: Mapping[str, Sequence[chat_model.Invite]] | None = None,
    ) -> Future[list[JournalEvent]]:
        """Open the incident's channel on each platform and invite responders."""

        def decide(
            conn: sqlite3.Connection, state: Incident, now: datetime
        ) -> list[NewEvent]:
            already = outbox_store.requested_platforms(conn, state.id)
            return [
                chat_model.open_channel(
                    state, platforms, invites or {}, now=now, actor=actor,
                    already=already,
                )
            ]  # fmt: skip

        return self._chat_command(incident_id, decide)

    def post_chat(
        self, incident_id: str, text: str, platforms: Sequence[str], *, actor: str
    ) -> Future[list[JournalEvent]]:
        """Queue a message for the incident's channels (delivered in order)."""
        return self._chat_command(
            incident_id,
            lambda _conn, state, now: [
                chat_model.post(state, text, platforms, now=now, actor=actor)
            ],
        )

    def send_update(
        self,
        incident_id: str,
        *,
        update_type: str,
        copies: Sequence[Mapping[str, str]],
        deliveries: Sequence[Mapping[str, Any]],
        actor: str,
        draft: bool = False,
        at: datetime | None = None,
    ) -> Future[list[JournalEvent]]:
        """Record a stakeholder update and queue every copy (or, with `draft`,
        record it for approval). A copy for an incident channel not opened on
        its platform is left out and said so in the event, rather than queued
        where it would stop that channel's messages. `at`: when it went out,
        if earlier than now (an exercise's autopilot, stamped when due)."""

        def decide(
            conn: sqlite3.Connection, state: Incident, now: datetime
        ) -> list[NewEvent]:
            opened = outbox_store.requested_platforms(conn, state.id)
            kept, skipped = [], []
            for d in deliveries:
                incident_channel = d["platform"] != "email" and not d.get("channel")
                if incident_channel and d["platform"] not in opened:
                    why = "the incident has no channel there"
                    skipped.append(
                        {"audience": d["audience"], "platform": d["platform"],
                         "why": why}
                    )  # fmt: skip
                else:
                    kept.append(d)
            if skipped and not kept:
                where = "; ".join(
                    f"{s['audience']} on {s['platform']}: {s['why']}" for s in skipped
                )
                raise DomainError(
                    f"nothing could be sent ({where}); open the incident's chat "
                    "channel first, or choose other audiences"
                )
            return [
                stakeholder.send(
                    state,
                    update_type=update_type,
                    copies=copies,
                    deliveries=kept,
                    skipped=skipped,
                    now=min(at, now) if at is not None else now,
                    actor=actor,
                    draft=draft,
                )
            ]

        return self._chat_command(incident_id, decide)

    def approve_update(
        self, incident_id: str, draft_id: str, *, actor: str
    ) -> Future[list[JournalEvent]]:
        """Approve a drafted update (someone other than its author): sent now."""

        def decide(
            conn: sqlite3.Connection, state: Incident, now: datetime
        ) -> list[NewEvent]:
            pending = stakeholder.pending_drafts(journal.iter_events(conn, state.id))
            found = [
                e for e in pending if e.id == draft_id or e.id.startswith(draft_id)
            ]
            if len(found) != 1:
                raise DomainError(
                    f"no update draft {draft_id} awaiting approval in {state.id}"
                    if not found
                    else f"{draft_id} matches several drafts; give more of the id"
                )
            return stakeholder.approve(state, found[0], now=now, actor=actor)

        return self._chat_command(incident_id, decide)

    def pin_chat(
        self, incident_id: str, event_id: str, *, actor: str, unpin: bool = False
    ) -> Future[list[JournalEvent]]:
        """Pin (or unpin) a chat message as a key timeline entry."""

        def decide(
            conn: sqlite3.Connection, state: Incident, now: datetime
        ) -> list[NewEvent]:
            target = next(
                (
                    e
                    for e in journal.iter_events(conn, state.id)
                    if e.id == event_id or e.id.startswith(event_id)
                ),
                None,
            )
            if target is None:
                raise DomainError(f"no event {event_id} in {state.id}")
            return [chat_model.pin(state, target, now=now, actor=actor, unpin=unpin)]

        return self._chat_command(incident_id, decide)

    def outbox_items(self, *, include_done: bool = False) -> list[Item]:
        return self._alert_read(
            lambda conn: outbox_store.items(conn, include_done=include_done), []
        )

    def outbox_open(self) -> list[Item]:
        return self._alert_read(outbox_store.open_items, [])

    def outbox_item(self, item_id: int) -> Item:
        return outbox_store.get(self._reader(), item_id)

    def outbox_attempts(self, item_id: int) -> list[tuple[str, str, str]]:
        return outbox_store.attempts(self._reader(), item_id)

    def outbox_heads(self) -> list[Item]:
        """The first unfinished row of each destination (see outbox.heads)."""
        return self._alert_read(outbox_store.head_items, [])

    def outbox_waiting(self) -> Waiting:
        return self._alert_read(outbox_store.waiting_counts, Waiting())

    def _outbox_decision(self, item_id: int, action: str, actor: str) -> Future[Item]:
        """Retry or cancel a row, and say so in its incident's timeline."""

        def job(conn: sqlite3.Connection) -> Item:
            now = self._clock()
            change = outbox_store.retry if action == "retried" else outbox_store.cancel
            item = change(conn, item_id, now=now)
            draft = NewEvent(
                ev.OUTBOX_CHANGED,
                {"item": item.id, "action": action, "what": item.describe(),
                 "platform": item.platform},
                now,
                actor,
            )  # fmt: skip
            journal.append(
                conn, item.incident_id, [draft], seat=self.seat, recorded_at=now,
                cache=self._states,
            )  # fmt: skip
            return item

        return self.submit(job)

    def outbox_retry(self, item_id: int, *, actor: str) -> Future[Item]:
        return self._outbox_decision(item_id, "retried", actor)

    def outbox_cancel(self, item_id: int, *, actor: str) -> Future[Item]:
        return self._outbox_decision(item_id, "cancelled", actor)

    def outbox_claim(self, item_id: int) -> Future[tuple[Item, bool] | None]:
        """Mark a row as being sent (see outbox.claim)."""
        return self.submit(
            lambda conn: outbox_store.claim(conn, item_id, now=self._clock())
        )

    def outbox_record(
        self,
        item_id: int,
        outcome: Outcome,
        *,
        detail: str = "",
        remote_id: str = "",
        hint: float | None = None,
        channel: str | None = None,
    ) -> Future[Item]:
        """What an attempt gave (the sender); a created channel is saved with it."""

        def job(conn: sqlite3.Connection) -> Item:
            now = self._clock()
            item = outbox_store.get(conn, item_id)
            if channel is not None and outcome is Outcome.DELIVERED:
                outbox_store.save_channel(
                    conn, item.incident_id, item.platform, channel, now=now
                )
            return outbox_store.record(
                conn, item_id, outcome, now=now, detail=detail,
                remote_id=remote_id, hint=hint,
            )  # fmt: skip

        return self.submit(job)

    def outbox_wake(self, platform: str | None = None) -> Future[int]:
        return self.submit(lambda conn: outbox_store.wake_all(conn, platform))

    def chat_channel(self, incident_id: str, platform: str) -> str | None:
        return outbox_store.channel(
            self._reader(), journal.normalise_id(incident_id), platform
        )

    def chat_channels(self, platform: str) -> dict[str, str]:
        """Channel id -> incident id on one platform."""
        return self._alert_read(lambda conn: outbox_store.channels(conn, platform), {})

    def chat_opened(self, platform: str) -> datetime | None:
        """When this seat opened its first channel on `platform`."""
        return self._alert_read(
            lambda conn: outbox_store.first_opened(conn, platform), None
        )

    def chat_position(self, platform: str) -> str | None:
        return self._alert_read(
            lambda conn: outbox_store.position(conn, platform), None
        )

    def store_chat(
        self,
        platform: str,
        drafts: Sequence[tuple[str, str, NewEvent | RosterMove]],
        position: str | None,
    ) -> Future[int]:
        """Record what a read returned and then its position, in one transaction:
        the position never moves past something not stored. `drafts` are
        (incident id, remote id, event); ones seen before are skipped. Gives
        how many were new."""

        def job(conn: sqlite3.Connection) -> int:
            now = self._clock()
            ours = outbox_store.delivered_remote_ids(conn, platform)
            new = 0
            for incident_id, remote_id, draft in drafts:
                if remote_id in ours or outbox_store.seen(conn, platform, remote_id):
                    continue
                event = self._chat_draft(conn, incident_id, draft, now)
                event_id = None
                if event is not None:
                    written = journal.append(
                        conn, incident_id, [event], seat=self.seat,
                        recorded_at=now, cache=self._states,
                    )  # fmt: skip
                    event_id = written[0].id
                    new += 1
                outbox_store.mark_seen(conn, platform, remote_id, incident_id, event_id)
            if position is not None:
                outbox_store.save_position(conn, platform, position, now=now)
            return new

        return self.submit(job)

    def _chat_draft(
        self,
        conn: sqlite3.Connection,
        incident_id: str,
        draft: NewEvent | RosterMove,
        now: datetime,
    ) -> NewEvent | None:
        """The event to record; a roster move that no longer fits (already on
        the bridge, incident closed) records nothing."""
        if isinstance(draft, NewEvent):
            return draft
        state = self._states.load(conn, incident_id)
        if state is None or not state.is_open:
            return None
        roster = roster_model.of_timeline(journal.iter_events(conn, incident_id))
        try:
            return draft(roster, now)
        except DomainError as exc:
            log.info("chat membership not applied to %s: %s", incident_id, exc)
            return None

    # --- alerts ---------------------------------------------------------------

    def spool_alerts(
        self, body: str, *, source: str, received_at: datetime
    ) -> Future[int]:
        """Keep a delivery exactly as received, in its own transaction; the
        Future gives its id once it is safely on disk."""
        return self.submit(
            lambda conn: alert_store.spool(conn, body, source=source, at=received_at)
        )

    def process_alerts(self, delivery_id: int) -> Future[IntakeResult]:
        """Fold a spooled delivery into the alerts and the attached incidents."""

        def job(conn: sqlite3.Connection) -> IntakeResult:
            return alert_store.process(
                conn, delivery_id, seat=self.seat, now=self._clock(), cache=self._states
            )

        return self.submit(job)

    def receive_alerts(
        self, body: str, *, source: str, received_at: datetime
    ) -> IntakeResult:
        """Spool a webhook body (e.g. source "webhook 127.0.0.1"), then process it.

        Blocks until both are done. Whatever processing does, the body stays in
        the spool: unreadable ones are marked rejected, failed ones are retried
        by `reprocess_pending`."""
        delivery_id = self.spool_alerts(
            body, source=source, received_at=received_at
        ).result()
        return self._process_kept(delivery_id)

    def reconcile_alerts(
        self,
        alerts: Sequence[Alert],
        *,
        at: datetime,
        group_key: str = "",
        scope: Mapping[str, str] | None = None,
        source: str = "api",
    ) -> IntakeResult:
        """Alerts fetched from Alertmanager's API, spooled and processed like a
        delivery. New alerts join `group_key`. Give `scope` (the equality
        matchers the fetch used) only when the answer lists every active alert
        matching it: firing records in scope that it lacks are then resolved."""
        body = alert_store.reconcile_body(alerts, group_key=group_key, scope=scope)
        return self.receive_alerts(body, source=source, received_at=at)

    def reprocess_pending(self) -> list[IntakeResult]:
        """Process the deliveries a crash or failure left pending, oldest first
        (the console at start-up, off its GUI thread, and `mimdesk alerts ingest`)."""
        ids = self.submit(alert_store.pending, transaction=False).result()
        return [self._process_kept(delivery_id) for delivery_id in ids]

    def _process_kept(self, delivery_id: int) -> IntakeResult:
        try:
            return self.process_alerts(delivery_id).result()
        except Exception as exc:  # the spooled body is the safety net
            reason = f"{type(exc).__name__}: {exc}"
            log.exception("alert delivery #%s failed; kept for a retry", delivery_id)
        try:
            self.submit(
                lambda conn: alert_store.note_failure(conn, delivery_id, reason)
            ).result()
        except Exception:  # the delivery stays pending either way
            log.exception("could not note why alert delivery #%s failed", delivery_id)
        return IntakeResult(
            delivery_id,
            errors=(f"processing failed ({reason}); the delivery is kept for a retry",),
        )

    def rebuild_alerts(self) -> Future[int]:
        """Refold the alert records from the spool; the number of deliveries."""
        return self.submit(alert_store.rebuild)

    def declare_from_alerts(
        self,
        target: str,
        *,
        title: str,
        severity: int,
        actor: str,
        known_services: Collection[str] = (),
        label_names: Sequence[str] = alert_links.DEFAULT_LABELS,
        demo: bool = False,
    ) -> Future[str]:
        """Open an incident from a group (key or ref) or one alert (id or
        fingerprint), detected when its earliest alert started; the Future
        gives the incident id."""

        def job(conn: sqlite3.Connection) -> str:
            now = self._clock()
            chosen = alert_store.select(conn, target)
            key = alert_links.one_group(chosen)
            self._refuse_attached(conn, chosen, key, None)
            drafts = alert_links.declare_from_alerts(
                chosen, title=title, severity=severity, now=now, actor=actor,
                known_services=known_services, label_names=label_names, demo=demo,
            )  # fmt: skip
            incident_id = self._unused_id(conn, now)
            journal.append(
                conn, incident_id, drafts, seat=self.seat, recorded_at=now,
                cache=self._states,
            )  # fmt: skip
            alert_store.link(conn, [r.identity for r in chosen], key, incident_id)
            return incident_id

        return self.submit(job)

    def attach_alerts(
        self, incident_id: str, target: str, *, actor: str
    ) -> Future[list[JournalEvent]]:
        """Attach a group (or one alert) to an open incident; its later changes
        are recorded in the incident's timeline."""

        def job(conn: sqlite3.Connection) -> list[JournalEvent]:
            now = self._clock()
            chosen = alert_store.select(conn, target)
            key = alert_links.one_group(chosen)
            self._refuse_attached(conn, chosen, key, journal.normalise_id(incident_id))
            written = journal.run_command(
                conn,
                incident_id,
                lambda state: alert_links.attach_alerts(
                    state, chosen, now=now, actor=actor
                ),
                seat=self.seat,
                recorded_at=now,
                cache=self._states,
            )
            identities = [r.identity for r in chosen]
            alert_store.link(conn, identities, key, written[0].incident_id)
            return written

        return self.submit(job)

    def _refuse_attached(
        self,
        conn: sqlite3.Connection,
        chosen: Sequence[AlertRecord],
        key: str,
        incident_id: str | None,
    ) -> None:
        """One group, one incident: refuse if it already follows an open one."""
        current = alert_store.attached_to(conn, chosen, key)
        state = self._states.load(conn, current) if current else None
        if state is None or not state.is_open:
            return
        if current == incident_id:
            raise DomainError(f"these alerts are already attached to {current}")
        raise DomainError(
            f"these alerts are already attached to {current}; see "
            f"`mimdesk incident show {current}`"
        )

    def alert_records(self) -> list[AlertRecord]:
        """Every alert known, oldest start first."""
        return self._alert_read(alert_store.records, [])

    def alert_groups(self) -> list[Group]:
        """Alerts by Alertmanager group, groups with firing alerts first."""
        return groups(self.alert_records())

    def alert_links(self) -> dict[str, str]:
        """Group key -> the open incident the group follows (closed ones drop out,
        so a group that fires again is advised as a new incident)."""
        return self._alert_read(alert_store.open_links, {})

    def alert_spool(self) -> dict[str, int]:
        """Spooled deliveries by state: done, pending, rejected."""
        empty = {"done": 0, "pending": 0, "rejected": 0}
        return self._alert_read(alert_store.spool_counts, empty)

    def _alert_read(self, read: Callable[[sqlite3.Connection], T], empty: T) -> T:
        try:
            return read(self._reader())
        except sqlite3.OperationalError as exc:
            if "no such table" not in str(exc):
                raise
            return empty  # a read-only store written before alerts existed

    # --- reading --------------------------------------------------------------

    def incidents(
        self, *, include_closed: bool = True, limit: int = 500
    ) -> list[Incident]:
        """Open incidents (most severe first), then closed ones; newest first."""
        where = "" if include_closed else "WHERE is_open = 1"
        rows = self._reader().execute(
            f"SELECT state FROM incidents {where} "
            "ORDER BY is_open DESC, CASE WHEN is_open THEN severity END, "
            "detected_at DESC LIMIT ?",
            (limit,),
        )
        return [Incident.from_dict(_json(row[0])) for row in rows]

    def incident(self, incident_id: str) -> Incident:
        found = journal.load_incident(self._reader(), incident_id)
        if found is None:
            raise journal.IncidentNotFound(
                f"no incident {journal.normalise_id(incident_id)} in this store"
            )
        return found

    def timeline(self, incident_id: str) -> list[JournalEvent]:
        return list(journal.iter_events(self._reader(), incident_id))

    def roster(self, incident_id: str) -> Roster:
        """The bridge roster, folded in the order things happened."""
        return roster_model.of_timeline(self.timeline(incident_id))

    def verify(self, incident_id: str | None = None) -> list[journal.Problem]:
        return journal.verify(self._reader(), incident_id)

    # --- other seats ------------------------------------------------------------

    def merge(
        self, events: Sequence[JournalEvent], *, account: str = ""
    ) -> Future[journal.Merged]:
        """Take other seats' events (from `account`, their chat account), and
        note each seat whose events were taken or already held as heard now."""

        def job(conn: sqlite3.Connection) -> journal.Merged:
            now = self._clock()
            merged = journal.merge(
                conn, events, own_seat=self.seat, now=now, cache=self._states
            )
            refused = {event_id for event_id, _why in merged.refused}
            added = Counter(e.seat for e in merged.added)
            for seat in {e.seat for e in events if e.id not in refused} - {self.seat}:
                seat_store.heard(conn, seat, account=account, at=now, added=added[seat])
            return merged

        return self.submit(job)

    def unpublished(self, *, limit: int = 500) -> list[JournalEvent]:
        """This seat's events other seats have not been sent yet, oldest first."""
        return seat_store.unpublished(self._reader(), self.seat, limit=limit)

    def mark_published(
        self, event_ids: Sequence[str], *, room: str, remote_id: str
    ) -> Future[None]:
        return self.submit(
            lambda conn: seat_store.mark_published(
                conn, event_ids, room=room, remote_id=remote_id, at=self._clock()
            )
        )

    def refuse_remote(
        self, *, remote_id: str, room: str, sender: str, reason: str
    ) -> Future[bool]:
        """Keep the trace of another seat's event that was not applied."""
        return self.submit(
            lambda conn: seat_store.refuse(
                conn,
                remote_id=remote_id,
                room=room,
                sender=sender,
                reason=reason,
                at=self._clock(),
            )
        )

    def seats(self) -> list[seat_store.Seat]:
        """The other seats heard from, latest first."""
        return seat_store.seats(self._reader())

    def refused_remote(self, *, limit: int = 200) -> list[seat_store.Refused]:
        return seat_store.refused(self._reader(), limit=limit)

    def data_version(self) -> int:
        """Changes whenever another connection commits: cheap polling for changes."""
        return int(self._reader().execute("PRAGMA data_version").fetchone()[0])

    def events_by_seat(self, incident_id: str | None = None) -> dict[str, int]:
        """How many events each seat recorded, of those held (on one incident)."""
        where, args = (
            ("WHERE incident_id = ?", (journal.normalise_id(incident_id),))
            if (incident_id)
            else ("", ())
        )
        rows = self._reader().execute(
            f"SELECT seat, count(*) FROM journal {where} GROUP BY seat ORDER BY seat",
            args,
        )
        return {str(seat): int(n) for seat, n in rows}

    def event_count(self) -> int:
        return int(self._reader().execute("SELECT count(*) FROM journal").fetchone()[0])

    def close(self) -> None:
        # Readers first: the last connection out checkpoints and removes the WAL,
        # and read-only ones cannot, so a clean close would leave a -wal file.
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()
        self._local = threading.local()
        if self._writer is not None:
            self._writer.close()
        self._lock.release()


def _json(text: str) -> dict[str, object]:
    import json

    value = json.loads(text)
    assert isinstance(value, dict)
    return value
