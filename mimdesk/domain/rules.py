"""Automation rules: what MIMDesk does by itself when an incident turns major or
is mitigated, decided from the journal alone.

On severity 1 or 2 (declared, or escalated while still being fought) the rules
open the chat room, ask for the roles the severity requires, start the runbooks
that fit and put the first stakeholder update on the board with its due time.
On mitigated, a watch runs the verification checks every few minutes and says
at its end whether recovery held. Each firing is an `automation.fired` event
naming the rule and its trigger, so a rule fires once per (rule, incident,
trigger) however often and wherever the engine runs; an undo is an event too.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from mimdesk.domain import actions
from mimdesk.domain import events as ev
from mimdesk.domain.errors import DomainError
from mimdesk.domain.incident import Incident
from mimdesk.domain.lifecycle import Status
from mimdesk.domain.roster import Presence, RolePolicy, Roster
from mimdesk.domain.runbooks import Runbook, parse_duration
from mimdesk.domain.times import parse_utc, utc_iso

FIRED = "automation.fired"
UNDONE = "automation.undone"
WATCH_ENDED = "automation.watch_ended"
KINDS = frozenset({FIRED, UNDONE, WATCH_ENDED})

OPEN_CHAT = "open_chat"
REQUEST_ROLES = "request_roles"
START_RUNBOOKS = "start_runbooks"
FIRST_UPDATE = "first_update"
RECOVERY_WATCH = "recovery_watch"
MAJOR_RULES = (REQUEST_ROLES, OPEN_CHAT, START_RUNBOOKS, FIRST_UPDATE)
RULES = (*MAJOR_RULES, RECOVERY_WATCH)  # roles first: the room invites them
MAJOR = "major"  # the trigger of the first four: the incident became SEV1/2
# Statuses in which a major incident is still being mobilised.
MOBILISING = (Status.DETECTED, Status.DECLARED, Status.MOBILISED)
UPDATE_TITLE = "Send the first stakeholder update"
UPDATE_ROLE = "comms"
HELD, NOT_HELD, UNKNOWN = "held", "did not hold", "could not tell"
WATCHED = "watch"  # the `runbook` a watch's check results are recorded under


@dataclass(frozen=True)
class RuleSettings:
    """`[automation]` in the settings: which rules run, for which severities,
    how long the recovery watch lasts and how often it checks, and who is on
    call for a role (asked to join when the role is required)."""

    enabled: bool = True
    severities: tuple[int, ...] = (1, 2)
    rules: Mapping[str, bool] = field(
        default_factory=lambda: dict.fromkeys(RULES, True)
    )
    watch: timedelta = timedelta(minutes=30)
    watch_every: timedelta = timedelta(minutes=5)
    on_call: Mapping[str, str] = field(default_factory=dict)

    def on(self, rule: str) -> bool:
        return self.enabled and self.rules.get(rule, True)


def rule_settings_from_mapping(raw: object) -> tuple[RuleSettings, list[str]]:
    """The `[automation]` table read; each bad key is a problem and keeps its
    default."""
    if not isinstance(raw, Mapping):
        return RuleSettings(), ["[automation] must be a table"]
    problems: list[str] = []
    values: dict[str, Any] = {}
    rules = dict.fromkeys(RULES, True)
    for key, value in raw.items():
        try:
            if key == "enabled" and not isinstance(value, bool):
                # A mistyped off switch means off: rules that act on their own
                # must not start because a setting was misspelt.
                values["enabled"] = False
                raise DomainError(
                    f"must be true or false, not {value!r}; the rules stay off"
                    " until it is fixed"
                )
            if key in RULES or key == "enabled":
                if not isinstance(value, bool):
                    raise DomainError(f"must be true or false, not {value!r}")
                if key == "enabled":
                    values["enabled"] = value
                else:
                    rules[key] = value
            elif key == "severities":
                values["severities"] = _severities(value)
            elif key in ("watch", "watch_every"):
                values[key] = parse_duration(value)
            elif key == "on_call":
                values["on_call"] = _on_call(value)
            else:
                names = ", ".join(("enabled", *RULES, "severities", "watch",
                                   "watch_every", "on_call"))  # fmt: skip
                raise DomainError(f"unknown key (use {names})")
        except DomainError as exc:
            problems.append(f"[automation] {key}: {exc}")
    settings = RuleSettings(rules=rules, **values)
    if settings.watch_every <= timedelta(0) or settings.watch_every > settings.watch:
        bad = "watch" if settings.watch <= timedelta(0) else "watch_every"
        problems.append(
            f"[automation] {bad}: watch_every must be more than 0 and at most watch"
        )
        settings = RuleSettings(
            settings.enabled, settings.severities, rules, on_call=settings.on_call
        )
    return settings, problems


def _severities(value: object) -> tuple[int, ...]:
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 4 for v in value
    ):
        raise DomainError(f"must be a list of severities like [1, 2], not {value!r}")
    return tuple(value)


def _on_call(value: object) -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) and v.strip()
        for k, v in value.items()
    ):
        raise DomainError('must be a table like { commander = "alice" }')
    return {str(k): str(v).strip() for k, v in value.items()}


# --- what has fired -------------------------------------------------------------


@dataclass(frozen=True)
class Firing:
    """One rule fired on one trigger: what it did, and whether it was undone."""

    event_id: str
    rule: str
    trigger: str
    at: datetime
    payload: Mapping[str, Any]
    undone: bool = False


def firings(events: Iterable[ev.JournalEvent]) -> list[Firing]:
    """Every firing on one incident, oldest first."""
    found: dict[str, Firing] = {}
    undone: set[str] = set()
    for event in ev.in_fold_order(events):
        if event.kind == FIRED:
            p = event.payload
            found[event.id] = Firing(
                event.id, p["rule"], p["trigger"], event.occurred_at, p
            )
        elif event.kind == UNDONE:
            undone.add(str(event.payload["fired"]))
    return [
        Firing(f.event_id, f.rule, f.trigger, f.at, f.payload, f.event_id in undone)
        for f in found.values()
    ]


def find_firing(events: Iterable[ev.JournalEvent], fired: str) -> Firing:
    """A firing by its event id (or the start of it)."""
    chosen = [f for f in firings(events) if f.event_id.startswith(fired.strip())]
    if len(chosen) != 1 or not fired.strip():
        raise DomainError(
            f"no rule firing {fired} on this incident" if not chosen
            else f"{fired} matches several firings; give more of the id"
        )  # fmt: skip
    return chosen[0]


def due(
    incident: Incident, events: Sequence[ev.JournalEvent], settings: RuleSettings
) -> list[tuple[str, str]]:
    """(rule, trigger) pairs whose trigger holds now and that have not fired."""
    done = {(f.rule, f.trigger) for f in firings(events)}
    wanted = []
    major = (
        incident.status in MOBILISING
        and incident.status is not Status.DETECTED
        and incident.severity in settings.severities
    )
    if major:
        wanted += [(rule, MAJOR) for rule in MAJOR_RULES]
    mitigated = _mitigated_by(incident, events)
    if mitigated:
        wanted.append((RECOVERY_WATCH, mitigated))
    return [(r, t) for r, t in wanted if settings.on(r) and (r, t) not in done]


def _mitigated_by(incident: Incident, events: Sequence[ev.JournalEvent]) -> str:
    """The id of the event that made the incident mitigated, if it is now."""
    if incident.status is not Status.MITIGATED:
        return ""
    moves = [
        e for e in events
        if e.kind == ev.STATUS_CHANGED and e.payload["to"] == Status.MITIGATED.value
    ]  # fmt: skip
    return max(moves, key=ev.fold_key).id if moves else ""


def _fired(
    rule: str, trigger: str, did: Sequence[str], now: datetime, actor: str,
    **extra: Any,
) -> ev.NewEvent:  # fmt: skip
    payload = {"rule": rule, "trigger": trigger, "did": list(did), **extra}
    return ev.NewEvent(FIRED, payload, now, actor)


# --- the rules ------------------------------------------------------------------


def open_chat(
    incident: Incident,
    platforms: Sequence[str],
    already: Iterable[str],
    invites: Mapping[str, Sequence[Any]],
    *,
    now: datetime,
    actor: str,
) -> list[ev.NewEvent]:
    """The room on the platforms not opened yet; nothing when chat is not set
    up or the room is open already."""
    from mimdesk.domain import chat

    chosen = [p for p in platforms if p not in set(already)]
    if not chosen:
        return []
    opened = chat.open_channel(incident, chosen, invites, now=now, actor=actor)
    did = [f"chat room queued on {', '.join(chosen)}"]
    return [_fired(OPEN_CHAT, MAJOR, did, now, actor, platforms=chosen), opened]


def request_roles(
    incident: Incident,
    roster: Roster,
    policy: RolePolicy,
    settings: RuleSettings,
    known: Iterable[str],
    *,
    now: datetime,
    actor: str,
) -> list[ev.NewEvent]:
    """Ask the on-call person of each required role nobody holds or was asked
    for; a role with nobody on call (or not in the directory) is recorded as
    wanted, for the incident manager to fill."""
    from mimdesk.domain import roster as roster_model

    asked_for = {r for p in roster.participants.values() for r in p.roles}
    open_roles = [
        r for r in policy.required.get(incident.severity, ())
        if not roster.holders_of(r) and r not in asked_for
    ]  # fmt: skip
    if not open_roles:
        return []
    people, wanted = set(known), []
    requests: list[dict[str, str]] = []
    for role in open_roles:
        person = settings.on_call.get(role, "")
        current = roster.participants.get(person)
        free = current is None or current.presence is Presence.LEFT
        if person in people and free and person not in {q["person"] for q in requests}:
            requests.append({"person": person, "role": role})
        else:
            wanted.append(role)
    did = [f"asked {q['person']} to join as {q['role']}" for q in requests]
    did += [f"{', '.join(wanted)} wanted: nobody on call"] if wanted else []
    made = [
        roster_model.request(
            roster, q["person"], at=now, now=now, actor=actor, role=q["role"],
            policy=policy,
        )
        for q in requests
    ]  # fmt: skip
    fired = _fired(REQUEST_ROLES, MAJOR, did, now, actor, requested=requests,
                   wanted=wanted)  # fmt: skip
    return [fired, *made]


def start_runbooks(
    incident: Incident,
    board: actions.Board,
    roster: Roster,
    runbooks: Sequence[Runbook],
    *,
    now: datetime,
    actor: str,
) -> list[ev.NewEvent]:
    """Every runbook that fits the incident and is not running yet."""
    chosen = [
        r for r in runbooks
        if r.fits(incident.services, incident.severity) and r.id not in board.runbooks
    ]  # fmt: skip
    made: list[ev.NewEvent] = []
    for runbook in chosen:
        made += actions.start_runbook(
            incident, board_with(board, made), roster, runbook, now=now, actor=actor
        )
    if not made:
        return []
    added = [e.payload["action"] for e in made if e.kind == ev.ACTION_ADDED]
    did = [f"started runbook {r.name} ({r.id})" for r in chosen]
    fired = _fired(START_RUNBOOKS, MAJOR, did, now, actor,
                   runbooks=[r.id for r in chosen], actions=added)  # fmt: skip
    return [fired, *made]


def board_with(board: actions.Board, made: Sequence[ev.NewEvent]) -> actions.Board:
    """The board with actions decided in this command counted, for their ids."""
    placeholders = {
        e.payload["action"]: actions.Action(e.payload["action"], "", e.occurred_at)
        for e in made if e.kind == ev.ACTION_ADDED
    }  # fmt: skip
    return replace(board, actions={**board.actions, **placeholders})


def first_update(
    incident: Incident,
    board: actions.Board,
    roster: Roster,
    next_due: datetime | None,
    *,
    now: datetime,
    actor: str,
) -> list[ev.NewEvent]:
    """An action for the communications lead, due when the update cadence
    says the first update is (the milestone clock shows the same time)."""
    if next_due is None or incident.update_count:
        return []
    added = actions.role_action(
        incident, board, roster, UPDATE_TITLE, UPDATE_ROLE, due=next_due, now=now,
        actor=actor,
    )  # fmt: skip
    when = next_due.strftime("%H:%M UTC")
    did = [f"first stakeholder update due {when} (action {added.payload['action']})"]
    action_id = added.payload["action"]
    fired = _fired(
        FIRST_UPDATE, MAJOR, did, now, actor, due=utc_iso(next_due), actions=[action_id]
    )
    return [fired, added]


def recovery_watch(
    board: actions.Board,
    trigger: str,
    settings: RuleSettings,
    *,
    now: datetime,
    actor: str,
) -> list[ev.NewEvent]:
    """A watch over the verification checks; none without checks to run."""
    if not board.verify:
        return []
    until = now + settings.watch
    minutes = settings.watch.total_seconds() / 60
    every = settings.watch_every.total_seconds()
    did = [
        f"watching {len(board.verify)} verification check(s) every "
        f"{every / 60:g} min for {minutes:g} min"
    ]
    return [
        _fired(RECOVERY_WATCH, trigger, did, now, actor, until=utc_iso(until),
               every=every, checks=[c.name for c in board.verify])
    ]  # fmt: skip


# --- the watch ------------------------------------------------------------------


@dataclass(frozen=True)
class Watch:
    """A running or ended recovery watch and the verification results in it."""

    fired: Firing
    started: datetime
    until: datetime
    every: timedelta
    results: tuple[actions.CheckResult, ...]
    ended: bool

    def next_round(self) -> datetime:
        rounds = sorted({r.at for r in self.results})
        return rounds[-1] + self.every if rounds else self.started

    def over(self, incident: Incident, now: datetime) -> bool:
        """Its time is up, or the incident moved on from mitigated."""
        return now >= self.until or incident.status is not Status.MITIGATED

    def verdict(self) -> tuple[str, str]:
        """Held (every result passed), did not hold (one failed), or could not
        tell (a check could not run, or none ran)."""
        outcomes = [r.outcome for r in self.results]
        if actions.FAILED in outcomes:
            failed = [r for r in self.results if r.outcome == actions.FAILED]
            return NOT_HELD, f"{failed[0].name} failed at {failed[0].at:%H:%M} UTC"
        if not outcomes or actions.UNKNOWN in outcomes:
            return UNKNOWN, "not every check could run" if outcomes else "no check ran"
        return HELD, f"{len(outcomes)} result(s), all passed"


def watches(events: Sequence[ev.JournalEvent]) -> list[Watch]:
    """Every recovery watch on one incident (undone ones left out)."""
    ended = {str(e.payload["fired"]) for e in events if e.kind == WATCH_ENDED}
    watched = [
        actions.CheckResult(
            e.payload["name"], e.payload["outcome"], e.payload["reason"],
            e.occurred_at, e.payload["target"],
        )
        for e in events
        if e.kind == ev.CHECK_RESULT and e.payload.get("runbook") == WATCHED
    ]  # fmt: skip
    out = []
    for f in firings(events):
        if f.rule != RECOVERY_WATCH or f.undone:
            continue
        until = parse_utc(f.payload["until"])
        results = tuple(r for r in watched if f.at <= r.at <= until)
        every = timedelta(seconds=float(f.payload["every"]))
        out.append(Watch(f, f.at, until, every, results, f.event_id in ended))
    return out


def watch_work(
    incident: Incident, events: Sequence[ev.JournalEvent], now: datetime
) -> tuple[Watch | None, bool]:
    """The running watch and whether its checks are due now ((None, False)
    when no watch runs). A watch past its end, or on an incident no longer
    mitigated, is due to end instead (see end_watch)."""
    running = [w for w in watches(events) if not w.ended]
    if not running:
        return None, False
    watch = running[-1]
    if watch.over(incident, now):
        return watch, False
    return watch, now >= watch.next_round()


def end_watch(
    incident: Incident, watch: Watch, *, now: datetime, actor: str
) -> list[ev.NewEvent]:
    """The watch's end and verdict, once it has run its time (or the incident
    moved on from mitigated)."""
    if watch.ended or not watch.over(incident, now):
        return []
    early = incident.status is not Status.MITIGATED
    verdict, why = watch.verdict()
    if early and incident.status.rank < Status.MITIGATED.rank:
        verdict, why = NOT_HELD, f"the incident went back to {incident.status.value}"
    payload = {"fired": watch.fired.event_id, "verdict": verdict, "reason": why,
               "early": early, "status": incident.status.value}  # fmt: skip
    return [ev.NewEvent(WATCH_ENDED, payload, min(now, watch.until), actor)]


# --- undo -----------------------------------------------------------------------


def undo(
    incident: Incident,
    board: actions.Board,
    events: Sequence[ev.JournalEvent],
    fired: str,
    *,
    now: datetime,
    actor: str,
) -> list[ev.NewEvent]:
    """Take back what a firing did where it can be: its unfinished actions are
    skipped, its watch stops. Asked people and a room already created stay
    (the undo says so); queued messages are cancelled by the caller."""
    firing = find_firing(events, fired)
    if firing.undone:
        raise DomainError(f"the {firing.rule} firing was undone already")
    skipped = []
    for action_id in firing.payload.get("actions", ()):
        action = board.actions.get(action_id)
        if action is not None and not action.status.finished:
            skipped.append(
                actions.set_status(
                    incident, board, action_id, actions.ActionStatus.SKIPPED,
                    now=now, actor=actor, reason=f"undo of the {firing.rule} rule",
                )
            )  # fmt: skip
    did = (
        [f"skipped {', '.join(e.payload['action'] for e in skipped)}"]
        if skipped
        else []
    )
    if firing.rule == RECOVERY_WATCH:
        did.append("watch stopped")
    if firing.payload.get("requested"):
        did.append("asked people stay on the roster (withdraw them by hand)")
    payload = {"fired": firing.event_id, "rule": firing.rule, "did": did}
    return [ev.NewEvent(UNDONE, payload, now, actor), *skipped]


# --- reading --------------------------------------------------------------------

LABELS = {
    OPEN_CHAT: "open the chat room", REQUEST_ROLES: "request the required roles",
    START_RUNBOOKS: "start the matching runbooks",
    FIRST_UPDATE: "schedule the first stakeholder update",
    RECOVERY_WATCH: "watch recovery after mitigation",
}  # fmt: skip


def describe(event: ev.JournalEvent) -> str | None:
    """One timeline line for an automation event, or None for other kinds."""
    p = event.payload
    if event.kind == FIRED:
        did = "; ".join(p.get("did", ())) or "nothing to do"
        return f"rule {p['rule']} fired ({LABELS.get(p['rule'], p['rule'])}): {did}"
    if event.kind == UNDONE:
        did = "; ".join(p.get("did", ())) or "nothing left to reverse"
        return f"rule {p['rule']} undone: {did}"
    if event.kind == WATCH_ENDED:
        how = " early" if p.get("early") else ""
        return f"recovery watch ended{how}: recovery {p['verdict']} ({p['reason']})"
    return None
