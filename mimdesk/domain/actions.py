"""Recovery actions on an incident: who does what, by when, after what.

Actions come from a runbook's steps or are added by hand. Each has an owner
(a person on the roster, or none yet), a status (open, in progress, blocked
with a reason, done, skipped with a reason), an optional due time and the
actions it waits for. Every change is a journal event; the board is their fold.
Check results and the commander's override of failed verification are kept
here too, since they decide whether recovery can be called mitigated.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from mimdesk.domain import events as ev
from mimdesk.domain.errors import DomainError
from mimdesk.domain.incident import Incident
from mimdesk.domain.lifecycle import Status
from mimdesk.domain.roster import Roster
from mimdesk.domain.runbooks import Check, Runbook, find_cycle
from mimdesk.domain.text import clean_text
from mimdesk.domain.times import parse_utc, utc_iso, utc_iso_or_none

MAX_TITLE = 200
MAX_REASON = 500
PASSED, FAILED, UNKNOWN = "passed", "failed", "could not check"
OUTCOMES = (PASSED, FAILED, UNKNOWN)
# Statuses that need the verification checks to have passed, or an override.
GATED = (Status.MITIGATED, Status.RESOLVED)


# Decides events against the incident, its board and roster, at a time.
Decision = Callable[[Incident, "Board", Roster, datetime], Sequence[ev.NewEvent]]


class ActionStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in progress"
    BLOCKED = "blocked"
    DONE = "done"
    SKIPPED = "skipped"

    @property
    def finished(self) -> bool:
        return self in (ActionStatus.DONE, ActionStatus.SKIPPED)


def parse_action_status(text: str) -> ActionStatus:
    key = text.strip().lower().replace("_", " ").replace("-", " ")
    try:
        return ActionStatus(key)
    except ValueError:
        names = ", ".join(s.value for s in ActionStatus)
        raise DomainError(
            f"unknown action status {text!r}; use one of: {names}"
        ) from None


@dataclass(frozen=True)
class CheckResult:
    """One run of a check: passed, failed or could not check, and why."""

    name: str
    outcome: str
    reason: str
    at: datetime
    target: str  # an action id, or "verify"


@dataclass(frozen=True)
class Action:
    id: str
    title: str
    created_at: datetime
    owner: str | None = None
    role: str = ""
    status: ActionStatus = ActionStatus.OPEN
    reason: str = ""
    due: datetime | None = None
    after: tuple[str, ...] = ()
    runbook: str = ""
    step: str = ""
    check: Check | None = None
    decision: str = ""
    updated_at: datetime | None = None

    def overdue(self, now: datetime) -> bool:
        return self.due is not None and not self.status.finished and self.due < now


@dataclass(frozen=True)
class Override:
    """The commander's word that an incident may move on despite its checks."""

    status: str
    reason: str
    actor: str
    at: datetime


@dataclass(frozen=True)
class Board:
    """Every action on one incident, the runbooks started, checks and overrides."""

    actions: Mapping[str, Action] = field(default_factory=dict)
    runbooks: Mapping[str, str] = field(default_factory=dict)  # id -> name
    verify: tuple[Check, ...] = ()
    results: tuple[CheckResult, ...] = ()
    overrides: tuple[Override, ...] = ()

    def get(self, action_id: str) -> Action:
        key = action_id.strip().upper()
        if key not in self.actions:
            raise DomainError(f"no action {action_id} on this incident")
        return self.actions[key]

    def next_id(self) -> str:
        return f"A{len(self.actions) + 1}"

    def latest(self, target: str, name: str) -> CheckResult | None:
        found = [r for r in self.results if r.target == target and r.name == name]
        return found[-1] if found else None


def board_of(events: Iterable[ev.JournalEvent]) -> Board:
    """The board after one incident's events."""
    board = Board()
    for event in ev.in_fold_order(events):
        board = _apply(board, event)
    return board


def _apply(board: Board, event: ev.JournalEvent) -> Board:
    p, at = event.payload, event.occurred_at
    if event.kind == ev.RUNBOOK_STARTED:
        checks = tuple(Check.from_dict(c) for c in p.get("verify", []))
        return replace(
            board, runbooks={**board.runbooks, p["runbook"]: p["name"]},
            verify=board.verify + checks,
        )  # fmt: skip
    if event.kind == ev.ACTION_ADDED:
        action = Action(
            p["action"], p["title"], at, p.get("owner"), p.get("role", ""),
            due=_instant(p.get("due")), after=tuple(p.get("after", ())),
            runbook=p.get("runbook", ""), step=p.get("step", ""),
            check=Check.from_dict(p["check"]) if p.get("check") else None,
            decision=p.get("decision", ""), updated_at=at,
        )  # fmt: skip
        return _put(board, action)
    if event.kind == ev.CHECK_RESULT:
        result = CheckResult(p["name"], p["outcome"], p["reason"], at, p["target"])
        return replace(board, results=(*board.results, result))
    if event.kind == ev.VERIFY_OVERRIDDEN:
        override = Override(p["status"], p["reason"], event.actor, at)
        return replace(board, overrides=(*board.overrides, override))
    found = board.actions.get(str(p.get("action", "")))
    return board if found is None else _change(board, found, event)


def _change(board: Board, action: Action, event: ev.JournalEvent) -> Board:
    p, at = event.payload, event.occurred_at
    if event.kind == ev.ACTION_ASSIGNED:
        return _put(board, replace(action, owner=p["owner"], updated_at=at))
    if event.kind == ev.ACTION_STATUS:
        status = ActionStatus(p["status"])
        return _put(
            board, replace(action, status=status, reason=p.get("reason", ""),
                           updated_at=at),
        )  # fmt: skip
    if event.kind == ev.ACTION_DEPENDS:
        return _put(board, replace(action, after=tuple(p["after"]), updated_at=at))
    return board


def _put(board: Board, action: Action) -> Board:
    return replace(board, actions={**board.actions, action.id: action})


def _instant(text: str | None) -> datetime | None:
    return parse_utc(text) if text else None


# --- commands ---------------------------------------------------------------------


def _check_open(incident: Incident) -> None:
    if not incident.is_open:
        raise DomainError(
            f"{incident.id} is {incident.status.value}; reopen it to change its actions"
        )


def _title(text: str) -> str:
    title = " ".join(clean_text(text).split())
    if not title:
        raise DomainError("an action needs a title")
    if len(title) > MAX_TITLE:
        raise DomainError(f"the title is {len(title)} characters; keep it under 200")
    return title


def _reason(text: str | None, what: str, subject: str = "the action") -> str:
    why = " ".join(clean_text(text or "").split())
    if not why:
        raise DomainError(f"say why {subject} is {what} (--reason TEXT)")
    if len(why) > MAX_REASON:
        raise DomainError(f"the reason is {len(why)} characters; keep it under 500")
    return why


def _owner(roster: Roster, person: str | None) -> str | None:
    """An owner must be someone on the roster (asked, acknowledged or joined)."""
    if person is None:
        return None
    who = person.strip().lower()
    if who not in roster.participants:
        known = ", ".join(sorted(roster.participants)) or "nobody yet"
        raise DomainError(f"{person} is not on this incident's roster (on it: {known})")
    return who


def _after(board: Board, after: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(board.get(a).id for a in after))


def add_action(
    incident: Incident,
    board: Board,
    roster: Roster,
    title: str,
    *,
    now: datetime,
    actor: str,
    owner: str | None = None,
    due: datetime | None = None,
    after: Sequence[str] = (),
) -> ev.NewEvent:
    """An action added by hand."""
    _check_open(incident)
    payload = {
        "action": board.next_id(), "title": _title(title),
        "owner": _owner(roster, owner), "due": utc_iso_or_none(due),
        "after": list(_after(board, after)),
    }  # fmt: skip
    return ev.NewEvent(ev.ACTION_ADDED, payload, now, actor)


def role_action(
    incident: Incident,
    board: Board,
    roster: Roster,
    title: str,
    role: str,
    *,
    due: datetime | None,
    now: datetime,
    actor: str,
) -> ev.NewEvent:
    """An action for whoever holds `role` (none yet if nobody does: it becomes
    the role's first holder's when someone takes it, see follow_roles)."""
    _check_open(incident)
    holders = roster.holders_of(role)
    payload: dict[str, Any] = {
        "action": board.next_id(), "title": _title(title),
        "owner": holders[0] if holders else None, "role": role,
        "due": utc_iso_or_none(due), "after": [],
    }  # fmt: skip
    return ev.NewEvent(ev.ACTION_ADDED, payload, now, actor)


def start_runbook(
    incident: Incident,
    board: Board,
    roster: Roster,
    runbook: Runbook,
    *,
    now: datetime,
    actor: str,
) -> list[ev.NewEvent]:
    """The runbook's steps become actions, each owned by whoever holds the step's
    role on the roster now (none yet if the role is not held)."""
    # Steps whose role nobody holds yet wait unowned: see follow_roles.
    _check_open(incident)
    if runbook.id in board.runbooks:
        raise DomainError(f"runbook {runbook.id} is already running on {incident.id}")
    first = len(board.actions) + 1
    ids = {s.id: f"A{first + n}" for n, s in enumerate(runbook.steps)}
    drafts = [
        ev.NewEvent(
            ev.RUNBOOK_STARTED,
            {"runbook": runbook.id, "name": runbook.name,
             "verify": [c.to_dict() for c in runbook.verify],
             "actions": list(ids.values())},
            now, actor,
        )
    ]  # fmt: skip
    for step in runbook.steps:
        holders = roster.holders_of(step.role)
        payload = {
            "action": ids[step.id], "title": step.title,
            "owner": holders[0] if holders else None, "role": step.role,
            "due": utc_iso(now + step.expected) if step.expected else None,
            "after": [ids[a] for a in step.after], "runbook": runbook.id,
            "step": step.id, "check": step.check.to_dict() if step.check else None,
            "decision": step.decision,
        }  # fmt: skip
        drafts.append(ev.NewEvent(ev.ACTION_ADDED, payload, now, actor))
    return drafts


def follow_roles(
    incident: Incident, board: Board, roster: Roster, *, now: datetime, actor: str
) -> list[ev.NewEvent]:
    """Unowned, unfinished runbook actions whose role someone now holds become
    that person's (the first holder of a role several may hold)."""
    if not incident.is_open:
        return []
    drafts = []
    for action in board.actions.values():
        holders = roster.holders_of(action.role) if action.role else ()
        if action.owner is None and holders and not action.status.finished:
            payload = {"action": action.id, "owner": holders[0], "previous": None,
                       "role": action.role}  # fmt: skip
            drafts.append(ev.NewEvent(ev.ACTION_ASSIGNED, payload, now, actor))
    return drafts


def assign(
    incident: Incident,
    board: Board,
    roster: Roster,
    action_id: str,
    person: str,
    *,
    now: datetime,
    actor: str,
) -> ev.NewEvent:
    _check_open(incident)
    action = board.get(action_id)
    owner = _owner(roster, person)
    if owner == action.owner:
        raise DomainError(f"{action.id} is already {owner}'s")
    payload = {"action": action.id, "owner": owner, "previous": action.owner}
    return ev.NewEvent(ev.ACTION_ASSIGNED, payload, now, actor)


def set_status(
    incident: Incident,
    board: Board,
    action_id: str,
    status: ActionStatus,
    *,
    now: datetime,
    actor: str,
    reason: str | None = None,
) -> ev.NewEvent:
    """Move an action on. Blocked and skipped need a reason; an action cannot
    start or be done while an action it waits for is unfinished."""
    _check_open(incident)
    action = board.get(action_id)
    if status is action.status and status is not ActionStatus.BLOCKED:
        raise DomainError(f"{action.id} is already {status.value}")
    why = ""
    if status in (ActionStatus.BLOCKED, ActionStatus.SKIPPED) or reason:
        why = _reason(reason, status.value)
    if status in (ActionStatus.IN_PROGRESS, ActionStatus.DONE):
        waiting = [a for a in action.after if not board.actions[a].status.finished]
        if waiting:
            raise DomainError(
                f"{action.id} waits for {', '.join(waiting)}; finish or skip "
                f"{'it' if len(waiting) == 1 else 'them'} first"
            )
    payload = {"action": action.id, "status": status.value,
               "from": action.status.value, "reason": why}  # fmt: skip
    return ev.NewEvent(ev.ACTION_STATUS, payload, now, actor)


def depend(
    incident: Incident,
    board: Board,
    action_id: str,
    on: Sequence[str],
    *,
    now: datetime,
    actor: str,
) -> ev.NewEvent:
    """Make an action wait for others as well; a circle of waits is refused."""
    _check_open(incident)
    action = board.get(action_id)
    added = _after(board, on)
    if action.id in added:
        raise DomainError(f"{action.id} cannot wait for itself")
    after = tuple(dict.fromkeys((*action.after, *added)))
    waits = {a.id: a.after for a in board.actions.values()} | {action.id: after}
    cycle = find_cycle(waits)
    if cycle:
        raise DomainError(
            f"refused: actions would wait for each other in a circle "
            f"({' -> '.join(cycle)})"
        )
    payload = {"action": action.id, "after": list(after)}
    return ev.NewEvent(ev.ACTION_DEPENDS, payload, now, actor)


def record_check(
    result: CheckResult, *, runbook: str = "", now: datetime, actor: str
) -> ev.NewEvent:
    """A check's result, for the timeline."""
    if result.outcome not in OUTCOMES:
        raise DomainError(f"unknown check outcome {result.outcome!r}")
    payload = {"name": result.name, "outcome": result.outcome,
               "reason": result.reason, "target": result.target,
               "runbook": runbook}  # fmt: skip
    return ev.NewEvent(ev.CHECK_RESULT, payload, result.at, actor)


# --- verification -------------------------------------------------------------------


def unverified(board: Board) -> list[tuple[Check, CheckResult | None]]:
    """Verification checks whose latest result is not a pass."""
    out = []
    for check in board.verify:
        latest = board.latest("verify", check.name)
        if latest is None or latest.outcome != PASSED:
            out.append((check, latest))
    return out


def gate(board: Board, target: Status) -> list[str]:
    """Why the incident may not move to `target` yet ([] when it may): its
    verification checks have not all passed and nobody has overridden them."""
    if target not in GATED or not board.verify:
        return []
    if any(o.status == target.value for o in board.overrides):
        return []
    return [
        f"{check.name}: {latest.outcome if latest else 'not run yet'}"
        + (f" ({latest.reason})" if latest and latest.reason else "")
        for check, latest in unverified(board)
    ]


def require_verified(board: Board, target: Status) -> None:
    """Refuse a move to mitigated or resolved that its checks do not allow."""
    failing = gate(board, target)
    if failing:
        raise DomainError(
            f"{target.value} waits for verification ({'; '.join(failing)}); run "
            "`mimdesk actions ID verify`, or record an override with "
            f"`mimdesk actions ID verify --override {target.value} --reason TEXT`"
        )


def override_verification(
    incident: Incident,
    board: Board,
    target: Status,
    reason: str,
    *,
    now: datetime,
    actor: str,
) -> ev.NewEvent:
    """The commander moves on despite failed or missing checks, on the record."""
    _check_open(incident)
    if target not in GATED:
        raise DomainError("overrides are for mitigated or resolved")
    failing = gate(board, target)
    if not failing:
        raise DomainError(f"nothing to override: {target.value} is not held back")
    why = _reason(reason, "overridden", "verification")
    payload = {"status": target.value, "reason": why, "failing": failing}
    return ev.NewEvent(ev.VERIFY_OVERRIDDEN, payload, now, actor)


# --- reading ------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    blocked: int
    overdue: tuple[Action, ...]


def progress(board: Board, now: datetime) -> Progress:
    actions = list(board.actions.values())
    return Progress(
        sum(a.status.finished for a in actions),
        len(actions),
        sum(a.status is ActionStatus.BLOCKED for a in actions),
        tuple(a for a in actions if a.overdue(now)),
    )


def recovery_line(board: Board, now: datetime) -> str:
    """'Recovery 1/4 done · 1 blocked · overdue: A2 (bob)', or '' with no actions."""
    if not board.actions:
        return ""
    done = progress(board, now)
    text = f"Recovery {done.done}/{done.total} done"
    if done.blocked:
        text += f" \u00b7 {done.blocked} blocked"
    if done.overdue:
        late = ", ".join(f"{a.id} ({a.owner or 'no owner'})" for a in done.overdue)
        text += f" \u00b7 overdue: {late}"
    return text


def ready(board: Board, action: Action) -> bool:
    """Nothing it waits for is unfinished."""
    return all(board.actions[a].status.finished for a in action.after)


def action_json(action: Action, now: datetime) -> dict[str, Any]:
    return {
        "id": action.id, "title": action.title, "owner": action.owner,
        "role": action.role, "status": action.status.value,
        "reason": action.reason, "due": utc_iso_or_none(action.due),
        "overdue": action.overdue(now), "after": list(action.after),
        "runbook": action.runbook, "step": action.step,
        "check": action.check.to_dict() if action.check else None,
        "decision": action.decision,
    }  # fmt: skip


def due_in(action: Action, now: datetime) -> timedelta | None:
    return action.due - now if action.due else None


def describe(event: ev.JournalEvent) -> str | None:
    """One timeline line for a recovery event, or None for other kinds."""
    p = event.payload
    if event.kind == ev.RUNBOOK_STARTED:
        return f"runbook started: {p['name']} ({len(p['actions'])} actions)"
    if event.kind == ev.ACTION_ADDED:
        owner = f" ({p['owner']})" if p.get("owner") else " (no owner yet)"
        return f"action {p['action']} added: {p['title']}{owner}"
    if event.kind == ev.ACTION_ASSIGNED:
        role = f" (now {p['role']})" if p.get("role") else ""
        return f"action {p['action']} assigned to {p['owner']}{role}"
    if event.kind == ev.ACTION_STATUS:
        why = f": {p['reason']}" if p.get("reason") else ""
        return f"action {p['action']} {p['status']}{why}"
    if event.kind == ev.ACTION_DEPENDS:
        return f"action {p['action']} waits for {', '.join(p['after'])}"
    if event.kind == ev.CHECK_RESULT:
        on = "verify" if p["target"] == "verify" else f"action {p['target']}"
        why = f" \u2014 {p['reason']}" if p.get("reason") else ""
        return f"check {p['outcome']} ({on}): {p['name']}{why}"
    if event.kind == ev.VERIFY_OVERRIDDEN:
        return (
            f"verification overridden for {p['status']}: {p['reason']} "
            f"(not passed: {'; '.join(p['failing'])})"
        )
    from mimdesk.domain import rules  # the rules build on the actions

    return rules.describe(event)
