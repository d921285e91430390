"""The bridge roster: who was asked, who came, in which role, and who is missing.

One record per person, however often they leave and rejoin; every interval on the
bridge and every role held is kept. The roster is a fold of the incident's
`roster.*` journal events, like the incident itself.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from mimdesk.domain import events as ev
from mimdesk.domain.errors import DomainError
from mimdesk.domain.incident import Incident, check_plausible, in_time_order
from mimdesk.domain.lifecycle import Status
from mimdesk.domain.text import clean_text

REQUESTED = ev.ROSTER_REQUESTED
ACKNOWLEDGED = ev.ROSTER_ACKNOWLEDGED
JOINED = ev.ROSTER_JOINED
LEFT = ev.ROSTER_LEFT
ROLE_ASSIGNED = ev.ROSTER_ROLE_ASSIGNED
KINDS = frozenset({REQUESTED, ACKNOWLEDGED, JOINED, LEFT, ROLE_ASSIGNED})

PARTICIPANT = "participant"
# Once an incident is mitigated, rules may only suggest people, never add them.
AUTO_ADD_STATUSES = frozenset({Status.DETECTED, Status.DECLARED, Status.MOBILISED})


class Presence(StrEnum):
    """Where a person stands with the bridge."""

    REQUESTED = "requested"
    ACKNOWLEDGED = "acknowledged"
    JOINED = "joined"
    LEFT = "left"


@dataclass(frozen=True)
class Role:
    """A bridge role; `many` roles (technical lead) may have several holders."""

    id: str
    label: str
    many: bool = False


DEFAULT_ROLES: tuple[Role, ...] = (
    Role("commander", "Incident commander"),
    Role("deputy", "Deputy commander"),
    Role("comms", "Communications lead"),
    Role("scribe", "Scribe"),
    Role("tech-lead", "Technical lead", many=True),
    Role("business", "Business liaison"),
    Role("sponsor", "Executive sponsor"),
    Role("observer", "Observer", many=True),
)

DEFAULT_REQUIRED: Mapping[int, tuple[str, ...]] = {
    1: ("commander", "comms", "scribe", "tech-lead", "business"),
    2: ("commander", "comms", "tech-lead"),
    3: ("commander",),
    4: (),
}


@dataclass(frozen=True)
class RolePolicy:
    """The roles there are, and which must be filled at each severity."""

    roles: tuple[Role, ...] = DEFAULT_ROLES
    required: Mapping[int, tuple[str, ...]] = field(
        default_factory=lambda: dict(DEFAULT_REQUIRED)
    )

    def role(self, role_id: str) -> Role:
        found = next((r for r in self.roles if r.id == role_id), None)
        if found is None and role_id != PARTICIPANT:
            known = ", ".join(r.id for r in self.roles)
            raise DomainError(f"unknown role {role_id!r}; roles are: {known}")
        return found or Role(PARTICIPANT, "Participant", many=True)


@dataclass(frozen=True)
class Participant:
    """One person's whole history on this incident's bridge."""

    person: str
    presence: Presence
    requested_at: datetime | None = None
    acknowledged_at: datetime | None = None
    intervals: tuple[tuple[datetime, datetime | None], ...] = ()
    roles: tuple[str, ...] = ()  # every role held, in the order first taken
    last_move: datetime | None = None  # the latest roster event about them

    @property
    def on_bridge(self) -> bool:
        return self.presence is Presence.JOINED

    def active_time(self, now: datetime) -> timedelta:
        """Time spent on the bridge, the open interval counted up to `now`."""
        spans = ((start, end or now) for start, end in self.intervals)
        return sum((end - start for start, end in spans), timedelta())


@dataclass(frozen=True)
class Roster:
    """Participants by person, and who holds each role now (with since when)."""

    participants: Mapping[str, Participant] = field(default_factory=dict)
    holders: Mapping[str, tuple[tuple[str, datetime], ...]] = field(
        default_factory=dict
    )
    first_request: datetime | None = None
    role_history: tuple[tuple[datetime, str, str, str | None], ...] = ()

    def holders_of(self, role_id: str) -> tuple[str, ...]:
        return tuple(person for person, _ in self.holders.get(role_id, ()))

    def missing(self, required: Iterable[str]) -> list[str]:
        """Required roles with nobody on the bridge holding them."""
        return [role for role in required if not self._filled(role)]

    def _filled(self, role_id: str) -> bool:
        people = self.participants
        return any(people[p].on_bridge for p in self.holders_of(role_id) if p in people)

    def waiting(self, now: datetime) -> list[tuple[str, timedelta]]:
        """People asked to join who have not (yet), with how long they were asked."""
        return [
            (p.person, now - p.requested_at)
            for p in self.participants.values()
            if p.presence in (Presence.REQUESTED, Presence.ACKNOWLEDGED)
            and p.requested_at is not None
        ]


# --- commands -------------------------------------------------------------------


MAX_PERSON = 120


def _person(text: str) -> str:
    person = clean_text(text).strip()
    if not person or any(c.isspace() for c in person) or len(person) > MAX_PERSON:
        raise DomainError(
            f"name the person by their directory id or handle, one word of at most "
            f"{MAX_PERSON} characters (got {person[:40]!r})"
        )
    return person


def check_open(incident: Incident) -> None:
    """The roster of a resolved or closed incident is history: reopen to change it."""
    if not incident.is_open:
        raise DomainError(
            f"{incident.id} is {incident.status.value}; reopen it to change the roster"
        )


def _event(
    kind: str, payload: dict[str, Any], at: datetime, now: datetime, actor: str
) -> ev.NewEvent:
    check_plausible(at, now, "time")
    return ev.NewEvent(kind, payload, at, actor)


def _move(
    roster: Roster,
    person: str,
    at: datetime,
    allowed: Callable[[Participant | None], bool],
    refusal: Callable[[Participant | None], str],
) -> str:
    """The person's id, once the move is allowed from where they stand and is
    not dated before their last one."""
    who = _person(person)
    current = roster.participants.get(who)
    if not allowed(current):
        raise DomainError(f"{who} {refusal(current)}")
    _check_after(current, at, who)
    return who


def request(
    roster: Roster,
    person: str,
    *,
    at: datetime,
    now: datetime,
    actor: str,
    role: str | None = None,
    policy: RolePolicy = RolePolicy(),
) -> ev.NewEvent:
    """Ask someone to join the bridge (a page, a call, a chat invite)."""
    who = _move(
        roster, person, at,
        lambda p: p is None or p.presence in (Presence.ACKNOWLEDGED, Presence.LEFT),
        lambda p: f"is already {p.presence.value}" if p else "",
    )  # fmt: skip
    payload: dict[str, Any] = {"person": who}
    if role:
        payload["role"] = policy.role(role).id
    return _event(REQUESTED, payload, at, now, actor)


def acknowledge(
    roster: Roster, person: str, *, at: datetime, now: datetime, actor: str
) -> ev.NewEvent:
    who = _move(
        roster, person, at,
        lambda p: p is not None and p.presence is Presence.REQUESTED,
        lambda _: "was not waiting for an answer",
    )  # fmt: skip
    return _event(ACKNOWLEDGED, {"person": who}, at, now, actor)


def join(
    roster: Roster,
    person: str,
    *,
    at: datetime,
    now: datetime,
    actor: str,
    role: str | None = None,
    policy: RolePolicy = RolePolicy(),
) -> ev.NewEvent:
    """Someone is on the bridge; joining again after leaving opens a new interval."""
    who = _move(
        roster, person, at,
        lambda p: p is None or not p.on_bridge,
        lambda _: "is already on the bridge",
    )  # fmt: skip
    chosen = policy.role(role) if role else policy.role(PARTICIPANT)
    if chosen.id != PARTICIPANT:
        _check_role_time(roster, chosen, at)
    payload = {"person": who, "role": chosen.id, "many": chosen.many}
    return _event(JOINED, payload, at, now, actor)


def leave(
    roster: Roster, person: str, *, at: datetime, now: datetime, actor: str
) -> ev.NewEvent:
    who = _move(
        roster, person, at,
        lambda p: p is not None and p.on_bridge,
        lambda _: "is not on the bridge",
    )  # fmt: skip
    return _event(LEFT, {"person": who}, at, now, actor)


def assign(
    roster: Roster,
    role: str,
    person: str,
    *,
    at: datetime,
    now: datetime,
    actor: str,
    policy: RolePolicy = RolePolicy(),
) -> ev.NewEvent:
    """Give `role` to `person`; for a one-holder role this is the hand-over."""
    who, chosen = _person(person), policy.role(role)
    holders = roster.holders_of(chosen.id)
    if who in holders:
        raise DomainError(f"{who} already holds {chosen.label}")
    _check_after(roster.participants.get(who), at, who)
    _check_role_time(roster, chosen, at)
    previous = None if chosen.many or not holders else holders[0]
    payload = {
        "role": chosen.id,
        "person": who,
        "previous": previous,
        "many": chosen.many,
    }
    return _event(ROLE_ASSIGNED, payload, at, now, actor)


def _check_role_time(roster: Roster, role: Role, at: datetime) -> None:
    """A role changes hands in order: not before its last change."""
    since = [s for _, s in roster.holders.get(role.id, ())]
    if since and at < max(since):
        raise DomainError(f"{role.label} last changed hands later than that")


def _check_after(current: Participant | None, at: datetime, who: str) -> None:
    """Moves are recorded in the order they happened: none before the last one."""
    if current and current.last_move and at < current.last_move:
        raise DomainError(
            f"{who}'s last move on the bridge was later than that "
            f"({current.last_move:%H:%M:%S} UTC)"
        )


Decision = Callable[[Roster, datetime], ev.NewEvent]


def decision(
    action: str,
    person: str,
    role: str | None,
    *,
    at: datetime | None,
    actor: str,
    policy: RolePolicy = RolePolicy(),
) -> Decision:
    """The command for `action` ('request', 'ack', 'join', 'leave', 'assign'),
    to run against the roster as it stands when it is recorded."""
    chosen = None if role == PARTICIPANT else role

    def decide(roster: Roster, now: datetime) -> ev.NewEvent:
        common: dict[str, Any] = {"at": at or now, "now": now, "actor": actor}
        if action == "request":
            return request(roster, person, role=chosen, policy=policy, **common)
        if action == "ack":
            return acknowledge(roster, person, **common)
        if action == "join":
            return join(roster, person, role=chosen, policy=policy, **common)
        if action == "leave":
            return leave(roster, person, **common)
        if action == "assign" and chosen:
            return assign(roster, chosen, person, policy=policy, **common)
        raise DomainError(f"cannot {action} {person} (role {role!r})")

    return decide


def may_auto_add(incident: Incident) -> bool:
    """Rules add responders only while the incident is still being fought."""
    return incident.status in AUTO_ADD_STATUSES


# --- fold -----------------------------------------------------------------------


def _with_role(p: Participant, role: str | None) -> Participant:
    if not role or role in p.roles:
        return p
    return replace(p, roles=(*p.roles, role))


def _take_role(r: Roster, role: str, person: str, at: datetime, many: bool) -> Roster:
    """`person` holds `role` from `at`; a one-holder role passes from its holder."""
    current = r.holders.get(role, ())
    previous = None if many or not current else current[0][0]
    kept = tuple(h for h in current if many and h[0] != person)
    holders = {**r.holders, role: (*kept, (person, at))}
    history = (*r.role_history, (at, role, person, previous))
    return replace(r, holders=holders, role_history=history)


def _apply(r: Roster, event: ev.JournalEvent) -> Roster:
    p = event.payload
    who, at = str(p.get("person", "")), event.occurred_at
    people = dict(r.participants)
    current = people.get(who) or Participant(who, Presence.REQUESTED)
    if event.kind == REQUESTED:
        people[who] = _with_role(
            replace(current, presence=Presence.REQUESTED, requested_at=at),
            p.get("role"),
        )
        r = replace(r, first_request=r.first_request or at)
    elif event.kind == ACKNOWLEDGED:
        people[who] = replace(
            current, presence=Presence.ACKNOWLEDGED, acknowledged_at=at
        )
    elif event.kind == JOINED:
        opened = replace(
            current,
            presence=Presence.JOINED,
            intervals=(*current.intervals, (at, None)),
        )
        role = str(p.get("role") or PARTICIPANT)
        people[who] = _with_role(opened, role)
        if role != PARTICIPANT:
            r = _take_role(r, role, who, at, bool(p.get("many")))
    elif event.kind == LEFT:
        # Another seat's leave may be all this seat holds of someone's stay.
        start = current.intervals[-1][0] if current.intervals else at
        closed = (*current.intervals[:-1], (start, at))
        people[who] = replace(current, presence=Presence.LEFT, intervals=closed)
    elif event.kind == ROLE_ASSIGNED:
        role = str(p["role"])
        if who not in people:  # naming someone absent is asking them to come
            current = replace(current, requested_at=at)
            r = replace(r, first_request=r.first_request or at)
        people[who] = _with_role(current, role)
        r = _take_role(r, role, who, at, bool(p.get("many")))
    people[who] = replace(people[who], last_move=at)
    return replace(r, participants=people)


def fold(events: Sequence[ev.JournalEvent]) -> Roster:
    """The roster after `events` (other kinds of incident event are skipped)."""
    roster = Roster()
    for event in events:
        if event.kind in KINDS:
            roster = _apply(roster, event)
    return roster


def of_timeline(events: Iterable[ev.JournalEvent]) -> Roster:
    """The roster from an incident's events in any order (folded as they happened)."""
    return fold(in_time_order(events))


def mobilisation_time(roster: Roster, required: Sequence[str]) -> timedelta | None:
    """First request until every required role was held by someone on the bridge."""
    if roster.first_request is None or roster.missing(required):
        return None
    filled = [max(since for _, since in roster.holders[role]) for role in required]
    joined = [
        roster.participants[p].intervals[-1][0]
        for role in required
        for p in roster.holders_of(role)
        if p in roster.participants and roster.participants[p].on_bridge
    ]
    done = max([*filled, *joined], default=roster.first_request)
    return max(done - roster.first_request, timedelta())
