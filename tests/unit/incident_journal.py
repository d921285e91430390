"""A finished SEV1 built through the store API, for the report and archive tests:
declared, escalated, a bridge with a hand-over, an update sent to two audiences,
an impact override, milestones to closure, mobilisation late."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from mimdesk.domain import impact_override
from mimdesk.domain import roster as roster_model
from mimdesk.domain.lifecycle import Status
from mimdesk.domain.times import parse_utc
from mimdesk.store.store import Store

T0 = parse_utc("2026-07-14T09:02:00Z")  # summer: London shows BST
BUSINESS = ["card-payments", "digital-banking", "branch-banking"]


class Clock:
    """The store's clock, moved by the test."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def at(self, minutes: int) -> datetime:
        self.now = T0 + timedelta(minutes=minutes)
        return self.now


def _roster(store: Store, incident_id: str, action: str, person: str,
            role: str | None, at: datetime) -> None:  # fmt: skip
    decide = roster_model.decision(action, person, role, at=at, actor="dana")
    store.roster_command(incident_id, decide).result()


def build(path: Path) -> str:
    """The incident in a new store at `path`; returns its id."""
    clock = Clock(T0)
    store = Store.open(path, clock=clock)
    try:
        return _fill(store, clock)
    finally:
        store.close()


def _fill(store: Store, clock: Clock) -> str:
    incident_id = store.declare(
        title="Card payments failing at checkout", severity=2,
        services=["payments-api"], detected_at=T0 - timedelta(minutes=2),
        actor="dana",
    ).result()  # fmt: skip
    store.change_severity(incident_id, 1, actor="dana").result()
    _roster(store, incident_id, "request", "sam", "commander", clock.at(3))
    _roster(store, incident_id, "join", "sam", "commander", clock.at(6))
    _roster(store, incident_id, "join", "lee", "comms", clock.at(8))
    _roster(store, incident_id, "join", "kim", "scribe", clock.at(9))
    clock.at(20)  # two minutes past the 15 min target
    store.change_status(incident_id, Status.MOBILISED, actor="sam").result()
    clock.at(12)
    decide = impact_override.decision(
        "override", "card-payments", actor="sam", known=BUSINESS, level="down",
        reason="merchants report every card declined",
    )  # fmt: skip
    store.impact_command(incident_id, decide).result()
    clock.at(25)
    store.send_update(
        incident_id, update_type="initial",
        copies=[
            {"audience": "executives", "name": "Executives",
             "subject": "SEV1: card payments failing",
             "body": "Card payments fail at checkout since 09:00 UTC.\n"
                     "Next update 10:00."},
            {"audience": "customers", "name": "Customers",
             "subject": "Card payments are failing", "body": "We are on it."},
        ],
        deliveries=[
            {"audience": "executives", "platform": "email",
             "to": ["exec@example.com"], "subject": "SEV1", "text": "failing"},
            {"audience": "customers", "platform": "email",
             "to": ["status@example.com"], "subject": "Cards", "text": "on it"},
        ],
        actor="lee",
    ).result()  # fmt: skip
    _roster(store, incident_id, "assign", "lee", "commander", clock.at(40))
    _roster(store, incident_id, "leave", "sam", None, clock.at(41))
    store.add_note(incident_id, "rolled back | gateway config", actor="kim").result()
    store.change_status(incident_id, Status.MITIGATED, actor="lee").result()
    clock.at(95)
    store.change_status(incident_id, Status.RESOLVED, actor="lee").result()
    clock.at(200)
    store.change_status(incident_id, Status.CLOSED, actor="lee").result()
    return incident_id
