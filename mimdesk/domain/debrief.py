"""The scored debrief of an exercise: what the team did, against what the
scenario expected, item by item, each met, missed or not reached.

Every time is an offset from T+0, the moment the scenario's fault began.
Pure: the incident, its journal and "now" are given.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from itertools import pairwise
from typing import Any

from mimdesk.domain import events as ev
from mimdesk.domain.events import JournalEvent
from mimdesk.domain.incident import Incident, in_time_order
from mimdesk.domain.lifecycle import ORDER, Status
from mimdesk.domain.roster import KINDS as ROSTER_KINDS
from mimdesk.domain.roster import fold as fold_roster
from mimdesk.domain.scenario import Expectations, Scenario, offset_text

NOT_DONE = "not done"


class Result(StrEnum):
    """How one expectation came out."""

    MET = "met"
    MISSED = "missed"
    NOT_REACHED = "not reached"  # its time had not come when the run stopped


@dataclass(frozen=True)
class Item:
    """One expectation scored: `at` is when it was done (offset from T+0),
    `margin` how far inside (positive) or past (negative) its limit."""

    key: str
    label: str
    expected: str
    result: Result
    at: timedelta | None = None
    actual: str = ""
    margin: timedelta | None = None
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "expected": self.expected,
            "result": self.result.value,
            "level": self.result.name.lower(),
            "at": offset_text(self.at) if self.at is not None else "-",
            "took": span_text(self.at) if self.at is not None else "-",
            "actual": self.actual
            or (offset_text(self.at) if self.at is not None else NOT_DONE),
            "margin": margin_text(self.margin),
            "note": self.note,
        }


@dataclass(frozen=True)
class Debrief:
    """Every item scored, and which incident of the run was scored."""

    items: tuple[Item, ...]
    incident_id: str | None

    @property
    def met(self) -> int:
        return sum(1 for i in self.items if i.result is Result.MET)

    @property
    def scored(self) -> int:
        return sum(1 for i in self.items if i.result is not Result.NOT_REACHED)

    @property
    def score_text(self) -> str:
        if not self.scored:
            return "nothing to score yet"
        share = round(100 * self.met / self.scored)
        return f"{self.met} of {self.scored} met ({share}%)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "incident": self.incident_id,
            "met": self.met,
            "scored": self.scored,
            "score": self.score_text,
            "items": [i.to_dict() for i in self.items],
        }


def span_text(delta: timedelta) -> str:
    """'45 s', '6 min 30 s', '1 h 16 min': exercise times to the second."""
    seconds = int(abs(delta).total_seconds())
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes:02d} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {seconds:02d} s" if seconds else f"{minutes} min"
    return f"{seconds} s"


def margin_text(margin: timedelta | None) -> str:
    if margin is None:
        return "-"
    if margin == timedelta(0):
        return "on the limit"
    return f"{span_text(margin)} {'early' if margin > timedelta(0) else 'late'}"


# --- choosing the incident --------------------------------------------------------


def declared_at(incident: Incident) -> datetime:
    """When it was declared (detection, for one never moved past detected)."""
    return reached(incident, Status.DECLARED) or incident.detected_at


def choose(incidents: Iterable[Incident], services: Sequence[str]) -> Incident | None:
    """The incident a run is scored on: the first declared that names one of
    the expected services, else the first declared at all."""
    ordered = sorted(incidents, key=lambda i: (declared_at(i), i.id))
    wanted = set(services)
    matching = [i for i in ordered if wanted & set(i.services)]
    found = matching or ordered
    return found[0] if found else None


# --- scoring ---------------------------------------------------------------------


def reached(incident: Incident, status: Status) -> datetime | None:
    """When `status` was reached; for a milestone skipped over, when the first
    later one was (mitigation is done by the time it is resolved)."""
    for later in ORDER[status.rank :]:
        at = incident.reached(later)
        if at is not None:
            return at
    return None


def score(
    scenario: Scenario,
    t0: datetime,
    incident: Incident | None,
    events: Sequence[JournalEvent],
    now: datetime,
) -> Debrief:
    """Score the team's handling of `incident` against the scenario's
    expectations, as it stood at `now` (scenario time)."""
    expect = scenario.expect
    if incident is None:
        return Debrief(tuple(_not_done(item) for item in _unscored(expect)), None)
    judge = _Judge(t0, now)
    ordered = in_time_order(events)
    items = [
        *_milestone(judge, "declare", "Declared", expect.declare_within,
                    reached(incident, Status.DECLARED)),
        *_severity(expect, incident, ordered, t0),
        *_services(expect, incident),
        *_roles(judge, expect, ordered),
        *_milestone(judge, "mobilise", "Mobilised", expect.mobilise_within,
                    reached(incident, Status.MOBILISED)),
        *_milestone(judge, "first_update", "First stakeholder update",
                    expect.first_update_within, incident.first_update_at),
        *_cadence(judge, expect, incident, ordered),
        *_milestone(judge, "mitigate", "Mitigated", expect.mitigate_within,
                    reached(incident, Status.MITIGATED)),
        *_milestone(judge, "resolve", "Resolved", expect.resolve_within,
                    reached(incident, Status.RESOLVED)),
    ]  # fmt: skip
    return Debrief(tuple(items), incident.id)


@dataclass(frozen=True)
class _Judge:
    """Scores "done by T+limit" items at `now`."""

    t0: datetime
    now: datetime

    def by(self, key: str, label: str, limit: timedelta, done: datetime | None) -> Item:
        expected = _by(limit)
        if done is None:
            late = self.now - self.t0 >= limit
            result = Result.MISSED if late else Result.NOT_REACHED
            return Item(key, label, expected, result, actual=NOT_DONE)
        at = max(done - self.t0, timedelta(0))
        result = Result.MET if at <= limit else Result.MISSED
        return Item(key, label, expected, result, at=at, margin=limit - at)


def _milestone(
    judge: _Judge, key: str, label: str, limit: timedelta | None, at: datetime | None
) -> list[Item]:
    return [] if limit is None else [judge.by(key, label, limit, at)]


def _severity(
    expect: Expectations,
    incident: Incident,
    events: Sequence[JournalEvent],
    t0: datetime,
) -> list[Item]:
    """The severity declared is the one scored; a later change is noted."""
    if expect.severity is None:
        return []
    created = next((e for e in events if e.kind == ev.INCIDENT_CREATED), None)
    declared = int(created.payload["severity"]) if created else incident.severity
    changes = [
        f"SEV{e.payload['to']} at {offset_text(max(e.occurred_at - t0, timedelta()))}"
        for e in events
        if e.kind == ev.SEVERITY_CHANGED
    ]
    met = declared == expect.severity
    return [
        Item(
            "severity",
            "Severity as expected",
            f"SEV{expect.severity}",
            Result.MET if met else Result.MISSED,
            actual=f"SEV{declared} declared",
            note=f"changed to {', '.join(changes)}" if changes else "",
        )
    ]


def _services(expect: Expectations, incident: Incident) -> list[Item]:
    if not expect.services:
        return []
    missing = [s for s in expect.services if s not in incident.services]
    return [
        Item(
            "services",
            "Expected services named",
            ", ".join(expect.services),
            Result.MISSED if missing else Result.MET,
            actual=", ".join(incident.services) or "none named",
            note=f"not named: {', '.join(missing)}" if missing else "",
        )
    ]


def role_filled_at(
    events: Sequence[JournalEvent], roles: Sequence[str]
) -> dict[str, datetime]:
    """When each role was first held by someone on the bridge (events in time
    order); roles never filled are left out."""
    filled: dict[str, datetime] = {}
    seen: list[JournalEvent] = []
    for event in events:
        if event.kind not in ROSTER_KINDS:
            continue
        seen.append(event)
        waiting = [r for r in roles if r not in filled]
        if not waiting:
            break
        roster = fold_roster(seen)
        for role in waiting:
            if not roster.missing([role]):
                filled[role] = event.occurred_at
    return filled


def _roles(
    judge: _Judge, expect: Expectations, events: Sequence[JournalEvent]
) -> list[Item]:
    if not expect.roles or expect.mobilise_within is None:
        return []
    filled = role_filled_at(events, expect.roles)
    return [
        judge.by(f"role:{role}", _role_label(role), expect.mobilise_within,
                 filled.get(role))
        for role in expect.roles
    ]  # fmt: skip


def update_gaps(
    updates: Sequence[datetime], end: datetime
) -> list[tuple[datetime, datetime]]:
    """The stretches between one update and the next, and from the last to
    `end` (when the incident stopped needing them)."""
    marks = [*sorted(updates), end]
    return [(a, b) for a, b in pairwise(marks) if b > a]


def _cadence(
    judge: _Judge,
    expect: Expectations,
    incident: Incident,
    events: Sequence[JournalEvent],
) -> list[Item]:
    """No gap between updates longer than `update_every` while the incident
    was open (the wait for the first one is scored on its own)."""
    every = expect.update_every
    if every is None:
        return []
    expected = f"an update at least every {span_text(every)}"
    label = "Update cadence kept"
    updates = [e.occurred_at for e in events if e.kind == ev.UPDATE_SENT]
    if not updates:
        first = judge.by("cadence", label, expect.first_update_within or every, None)
        return [Item("cadence", label, expected, first.result, actual="no update sent")]
    end = min(reached(incident, Status.RESOLVED) or judge.now, judge.now)
    gaps = update_gaps(updates, end)
    if not gaps:
        return [Item("cadence", label, expected, Result.MET, actual="no gap")]
    start, stop = max(gaps, key=lambda g: g[1] - g[0])
    longest = stop - start
    t0 = judge.t0
    where = f"{offset_text(start - t0)} to {offset_text(stop - t0)}"
    return [
        Item(
            "cadence",
            label,
            expected,
            Result.MET if longest <= every else Result.MISSED,
            actual=f"longest gap {span_text(longest)}",
            margin=every - longest,
            note=f"{where}; {len(updates)} update(s) in all",
        )
    ]


def _by(limit: timedelta) -> str:
    return f"by {offset_text(limit)} ({span_text(limit)})"


def _role_label(role: str) -> str:
    return f"{role[:1].upper()}{role[1:]} on the bridge"


def _unscored(expect: Expectations) -> list[tuple[str, str, str]]:
    """(key, label, expected) of every item, for a run with no incident."""
    rows: list[tuple[str, str, str]] = []

    def by(key: str, label: str, limit: timedelta | None) -> None:
        if limit is not None:
            rows.append((key, label, _by(limit)))

    by("declare", "Declared", expect.declare_within)
    if expect.severity is not None:
        rows.append(("severity", "Severity as expected", f"SEV{expect.severity}"))
    if expect.services:
        rows.append(("services", "Expected services named",
                     ", ".join(expect.services)))  # fmt: skip
    if expect.mobilise_within is not None:
        for role in expect.roles:
            by(f"role:{role}", _role_label(role), expect.mobilise_within)
    by("mobilise", "Mobilised", expect.mobilise_within)
    by("first_update", "First stakeholder update", expect.first_update_within)
    if expect.update_every is not None:
        every = span_text(expect.update_every)
        rows.append(
            ("cadence", "Update cadence kept", f"an update at least every {every}")
        )
    by("mitigate", "Mitigated", expect.mitigate_within)
    by("resolve", "Resolved", expect.resolve_within)
    return rows


def _not_done(row: tuple[str, str, str]) -> Item:
    key, label, expected = row
    return Item(key, label, expected, Result.MISSED, actual=NOT_DONE)
