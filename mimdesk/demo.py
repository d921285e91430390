"""Built-in demo incidents, recorded in a separate store and flagged DEMO everywhere."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from mimdesk.domain import roster
from mimdesk.domain.incident import record_update_sent
from mimdesk.domain.lifecycle import Status
from mimdesk.store.store import Store


@dataclass(frozen=True)
class _Story:
    title: str
    severity: int
    services: tuple[str, ...]
    minutes_ago: int
    # (minutes after detection, a status, a note, or a roster move
    # (action, person, role))
    steps: tuple[tuple[int, Status | str | tuple[str, str, str]], ...]


_STORIES = (
    _Story(
        "Card payments failing for retail customers",
        1,
        ("payments-api", "card-gateway"),
        47,
        (
            (5, Status.DECLARED),
            (6, ("request", "alice", "commander")),
            (6, ("request", "bob", "tech-lead")),
            (6, ("request", "chen", "comms")),
            (7, ("request", "erin", "business")),
            (8, ("join", "alice", "commander")),
            (9, "Card authorisation errors at 38% since detection; acquirer timeouts"),
            (11, ("join", "bob", "tech-lead")),
            (12, Status.MOBILISED),
            (14, ("join", "chen", "comms")),
            (25, "Failover to the secondary acquirer started by Payments Platform"),
        ),
    ),
    _Story(
        "Mobile app logins slow (p95 above 8 s)",
        2,
        ("identity", "mobile-bff"),
        130,
        (
            (10, Status.DECLARED),
            (20, Status.MOBILISED),
            (
                35,
                (
                    "update",
                    "Mobile logins slow; cause under investigation",
                    "all staff",
                ),
            ),
            (75, "Identity release 4.12 rolled back"),
            (90, Status.MITIGATED),
            (95, ("update", "Mitigated: logins back to normal speed", "all staff")),
        ),
    ),
    _Story(
        "Intranet search returns stale results",
        4,
        ("intranet-search",),
        15,
        ((3, Status.DECLARED),),
    ),
    _Story(
        "Branch printers offline in the north region",
        3,
        ("branch-network",),
        26 * 60,
        (
            (8, Status.DECLARED),
            (200, "Carrier replaced a faulty line card at the regional hub"),
            (240, Status.RESOLVED),
            (360, Status.CLOSED),
        ),
    ),
)


def seed(store: Store, now: datetime, actor: str = "demo") -> list[str]:
    """Record the demo incidents if the store has none yet; return their ids."""
    if store.event_count():
        return []
    ids = []
    for story in _STORIES:
        detected = now - timedelta(minutes=story.minutes_ago)
        first, *rest = story.steps
        incident_id = store.declare(
            title=story.title,
            severity=story.severity,
            services=story.services,
            detected_at=detected,
            declared_at=detected + timedelta(minutes=first[0]),
            actor=actor,
            demo=True,
        ).result()
        for minutes, what in rest:
            _record(
                store, incident_id, detected + timedelta(minutes=minutes), what, actor
            )
        ids.append(incident_id)
    return ids


def _record(
    store: Store,
    incident_id: str,
    at: datetime,
    what: Status | str | tuple[str, str, str],
    actor: str,
) -> None:
    if isinstance(what, tuple) and what[0] == "update":
        _, summary, audience = what
        store.command(
            incident_id,
            lambda state, now: record_update_sent(
                state, summary, now=now, actor=actor, at=at, audience=audience
            ),
        ).result()
    elif isinstance(what, tuple):
        action, person, role = what
        decide = roster.decision(action, person, role, at=at, actor=actor)
        store.roster_command(incident_id, decide).result()
    elif isinstance(what, Status):
        store.change_status(incident_id, what, at=at, actor=actor).result()
    else:
        store.add_note(incident_id, what, actor=actor, at=at).result()
