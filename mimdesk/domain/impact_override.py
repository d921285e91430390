"""Operator overrides of business impact: the commands that record them, the fold
that reads them back, and the words the timeline shows.

An override is the operator's word on one business service for one incident
(`impact.overridden`, with a level and a reason; `impact.override_cleared`),
recorded with who and when like every journal event. It wins over the computed
level, which stays on show beside it.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from datetime import datetime

from mimdesk.domain import events as ev
from mimdesk.domain.errors import DomainError
from mimdesk.domain.impact import Level, Override
from mimdesk.domain.incident import Incident
from mimdesk.domain.text import clean_text

# "unknown" is what monitoring says when it cannot tell; a person who can tell
# says one of these.
OVERRIDE_LEVELS = (Level.NONE, Level.DEGRADED, Level.DOWN)
MAX_REASON = 500

# Decides the event against the overrides as the journal has them when written.
Decision = Callable[[Incident, Mapping[str, Override], datetime], ev.NewEvent]


def parse_level(text: str) -> Level:
    """'down', 'degraded' or 'none', as typed (any case)."""
    key = text.strip().lower()
    for level in OVERRIDE_LEVELS:
        if key == level.value:
            return level
    names = ", ".join(level.value for level in OVERRIDE_LEVELS)
    raise DomainError(f"unknown impact level {text!r}; use one of: {names}")


def overrides_of(events: Iterable[ev.JournalEvent]) -> dict[str, Override]:
    """The overrides in force after `events` (one incident's, any order)."""
    found: dict[str, Override] = {}
    for event in ev.in_fold_order(events):
        p = event.payload
        if event.kind == ev.IMPACT_OVERRIDDEN:
            found[p["business_service"]] = Override(
                p["business_service"],
                Level(p["level"]),
                p["reason"],
                event.actor,
                event.occurred_at,
            )
        elif event.kind == ev.IMPACT_OVERRIDE_CLEARED:
            found.pop(p["business_service"], None)
    return found


def _check(incident: Incident, business_service: str, known: Collection[str]) -> str:
    if not incident.is_open:
        raise DomainError(
            f"{incident.id} is {incident.status.value}; reopen it to change its impact"
        )
    chosen = business_service.strip()
    if chosen not in known:
        listed = ", ".join(sorted(known)) or "none (add [[business_service]] tables)"
        raise DomainError(
            f"unknown business service {chosen!r}; the catalogue has: {listed}"
        )
    return chosen


def set_override(
    incident: Incident,
    current: Mapping[str, Override],
    business_service: str,
    level: Level,
    reason: str,
    *,
    known: Collection[str],
    now: datetime,
    actor: str,
) -> ev.NewEvent:
    """Say a business service is `level` for this incident, and why."""
    chosen = _check(incident, business_service, known)
    if level not in OVERRIDE_LEVELS:
        raise DomainError(f"an override cannot say {level.value}")
    why = " ".join(clean_text(reason).split())
    if not why:
        raise DomainError("say why the impact is overridden (it goes in the journal)")
    if len(why) > MAX_REASON:
        raise DomainError(f"the reason is {len(why)} characters; keep it under 500")
    before = current.get(chosen)
    if before is not None and (before.level, before.reason) == (level, why):
        raise DomainError(f"{chosen} is already overridden to {level.value} for that")
    payload = {
        "business_service": chosen,
        "level": level.value,
        "reason": why,
        "previous": before.level.value if before else None,
    }
    return ev.NewEvent(ev.IMPACT_OVERRIDDEN, payload, now, actor)


def clear_override(
    incident: Incident,
    current: Mapping[str, Override],
    business_service: str,
    *,
    known: Collection[str],
    now: datetime,
    actor: str,
) -> ev.NewEvent:
    """Take an override back: the computed level counts again."""
    chosen = business_service.strip()
    if chosen not in current:
        raise DomainError(f"{chosen} has no impact override in {incident.id} to clear")
    # A business service gone from the catalogue may still be cleared.
    _check(incident, chosen, {*known, chosen})
    payload = {"business_service": chosen, "was": current[chosen].level.value}
    return ev.NewEvent(ev.IMPACT_OVERRIDE_CLEARED, payload, now, actor)


def decision(
    action: str,
    business_service: str,
    *,
    actor: str,
    known: Collection[str],
    level: str | None = None,
    reason: str | None = None,
) -> Decision:
    """The command for `action` ('override' or 'clear'), to run against the
    overrides as they stand when it is recorded."""
    if action == "override":
        chosen = parse_level(level or "")

        def override(
            incident: Incident, current: Mapping[str, Override], now: datetime
        ) -> ev.NewEvent:
            return set_override(
                incident, current, business_service, chosen, reason or "",
                known=known, now=now, actor=actor,
            )  # fmt: skip

        return override
    if action == "clear":

        def clear(
            incident: Incident, current: Mapping[str, Override], now: datetime
        ) -> ev.NewEvent:
            return clear_override(
                incident, current, business_service, known=known, now=now, actor=actor
            )

        return clear
    raise DomainError(f"unknown impact action {action!r}; use override or clear")


def describe(event: ev.JournalEvent) -> str | None:
    """The timeline's line for an override event; None for other kinds."""
    p = event.payload
    if event.kind == ev.IMPACT_OVERRIDDEN:
        return (
            f"business impact of {p['business_service']} set to "
            f"{Level(p['level']).label} by override: {p['reason']}"
        )
    if event.kind == ev.IMPACT_OVERRIDE_CLEARED:
        return (
            f"impact override on {p['business_service']} cleared (was "
            f"{Level(p['was']).label}); the computed level counts again"
        )
    return None
