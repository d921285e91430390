"""The stakeholder-update cadence: when the next update is due, and the reminders.

Rules (field case C38):
- only a sent stakeholder update resets the clock; a title edit or a note does not;
- a severity change recomputes the next due time from the last update, with the
  new severity's interval (so an escalation can make an update overdue at once);
- while overdue, a reminder when the update falls due (or at once, if a change made
  it overdue), then at most one per interval;
- nothing after resolution; a reopening resumes the clock from the last update.
At an instant where an input and a reminder coincide, the input counts first: an
update sent exactly when due is on time.

`reminder_to_announce` says which reminder, if any, a screen should announce
now, so that a ticking screen never raises more reminders than these rules give.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TypeAlias

from mimdesk.domain import events as ev
from mimdesk.domain.lifecycle import OPEN_STATUSES, Status


@dataclass(frozen=True)
class UpdateSent:
    """A stakeholder update went out."""

    at: datetime


@dataclass(frozen=True)
class SeverityChanged:
    at: datetime
    severity: int


@dataclass(frozen=True)
class Resolved:
    at: datetime


@dataclass(frozen=True)
class Reopened:
    at: datetime


CadenceInput: TypeAlias = UpdateSent | SeverityChanged | Resolved | Reopened


@dataclass(frozen=True)
class CadenceState:
    """The clock at `now`: next update due (None when no update is due: resolved,
    or no cadence for the severity), how overdue it is, the reminders so far, and
    the update interval in force (None with no update due)."""

    next_due: datetime | None
    overdue_by: timedelta | None
    reminders: tuple[datetime, ...]
    last_update: datetime | None
    interval: timedelta | None = None


@dataclass(frozen=True)
class _Clock:
    severity: int
    since: datetime  # the last update, or the start of the clock
    last_update: datetime | None = None
    last_reminder: datetime | None = None
    stopped: bool = False


def _interval(clock: _Clock, cadence: Mapping[int, timedelta]) -> timedelta | None:
    return None if clock.stopped else cadence.get(clock.severity)


def _due(clock: _Clock, cadence: Mapping[int, timedelta]) -> datetime | None:
    interval = _interval(clock, cadence)
    return None if interval is None else clock.since + interval


def _remind(
    clock: _Clock,
    cadence: Mapping[int, timedelta],
    start: datetime,
    end: datetime,
    *,
    inclusive: bool,
) -> tuple[_Clock, list[datetime]]:
    """Reminders from `start` to `end` while nothing else happens, and the clock
    that remembers the last of them."""
    interval = _interval(clock, cadence)
    if interval is None:
        return clock, []
    at = max(start, clock.since + interval)
    if clock.last_reminder is not None:
        at = max(at, clock.last_reminder + interval)

    found = []
    while at < end or (inclusive and at == end):
        found.append(at)
        at += interval
    return (replace(clock, last_reminder=found[-1]) if found else clock), found


def _apply(clock: _Clock, item: CadenceInput) -> _Clock:
    if isinstance(item, UpdateSent):
        return replace(clock, since=item.at, last_update=item.at, last_reminder=None)
    if isinstance(item, SeverityChanged):
        return replace(clock, severity=item.severity)
    return replace(clock, stopped=isinstance(item, Resolved))


def _check(cadence: Mapping[int, timedelta]) -> None:
    for level, interval in cadence.items():
        if interval <= timedelta(0):
            raise ValueError(f"SEV{level} update interval must be positive")


def cadence_state(
    inputs: Iterable[CadenceInput],
    *,
    severity: int,
    started_at: datetime,
    cadence: Mapping[int, timedelta],
    now: datetime,
) -> CadenceState:
    """Replay `inputs` up to `now` on a clock started at `started_at` (usually the
    declaration) with `severity`; `cadence` is the update interval by severity."""
    _check(cadence)
    clock = _Clock(severity, started_at)
    reminders: list[datetime] = []
    previous = started_at
    for item in sorted((i for i in inputs if i.at <= now), key=lambda i: i.at):
        clock, found = _remind(clock, cadence, previous, item.at, inclusive=False)
        clock, previous = _apply(clock, item), max(previous, item.at)
        reminders += found
    clock, found = _remind(clock, cadence, previous, now, inclusive=True)
    reminders += found

    due = _due(clock, cadence)
    overdue = now - due if due is not None and now >= due else None
    interval = _interval(clock, cadence)
    return CadenceState(due, overdue, tuple(reminders), clock.last_update, interval)


def reminder_to_announce(
    state: CadenceState, announced: datetime | None
) -> datetime | None:
    """The reminder to announce now: the latest one after `announced` (the last
    one already announced), while the update is still overdue; several that
    fell due while nobody was watching are announced once, as the latest."""
    if state.overdue_by is None or not state.reminders:
        return None
    latest = state.reminders[-1]
    return latest if announced is None or latest > announced else None


def _status_input(event: ev.JournalEvent) -> CadenceInput | None:
    was_open = Status(event.payload["from"]) in OPEN_STATUSES
    is_open = Status(event.payload["to"]) in OPEN_STATUSES
    if was_open and not is_open:
        return Resolved(event.occurred_at)
    if is_open and not was_open:
        return Reopened(event.occurred_at)
    return None


def cadence_inputs(
    events: Iterable[ev.JournalEvent], updates_sent: Iterable[datetime] = ()
) -> list[CadenceInput]:
    """The journal events that move the clock (updates sent among them), plus any
    updates sent that the journal does not hold."""
    inputs: list[CadenceInput] = [UpdateSent(at) for at in updates_sent]
    for event in events:
        if event.kind == ev.UPDATE_SENT:
            inputs.append(UpdateSent(event.occurred_at))
        elif event.kind == ev.SEVERITY_CHANGED:
            inputs.append(SeverityChanged(event.occurred_at, event.payload["to"]))
        elif event.kind == ev.STATUS_CHANGED:
            item = _status_input(event)
            inputs += [item] if item else []
    return inputs


def journal_cadence(
    events: Sequence[ev.JournalEvent],
    *,
    updates_sent: Iterable[datetime],
    cadence: Mapping[int, timedelta],
    now: datetime,
) -> CadenceState:
    """The cadence of one incident's journal: the clock starts at its declaration,
    at the severity it was opened with."""
    created = next(e for e in events if e.kind == ev.INCIDENT_CREATED)
    declared = next(
        e.occurred_at
        for e in events
        if e.kind == ev.STATUS_CHANGED and e.payload["to"] == Status.DECLARED
    )
    return cadence_state(
        cadence_inputs(events, updates_sent),
        severity=created.payload["severity"],
        started_at=declared,
        cadence=cadence,
        now=now,
    )
