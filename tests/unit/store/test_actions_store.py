"""Recovery actions through the store: decided against the journal as written,
and "mitigated" held back until verification passes or is overridden."""

from __future__ import annotations

import tomllib

import pytest

from mimdesk.domain import actions as act
from mimdesk.domain import roster as roster_model
from mimdesk.domain.errors import DomainError
from mimdesk.domain.lifecycle import Status
from mimdesk.domain.runbooks import runbook_from_mapping
from mimdesk.resources import resource
from mimdesk.store.store import Store

RUNBOOK = runbook_from_mapping(
    tomllib.loads(resource("runbooks", "payments.toml").read_text(encoding="utf-8"))
)


def join(store: Store, incident_id: str, person: str, role: str) -> None:
    store.roster_command(
        incident_id,
        lambda roster, now: roster_model.join(
            roster, person, at=now, now=now, actor="dana", role=role
        ),
    ).result()


def start(store: Store, incident_id: str) -> None:
    store.action_command(
        incident_id,
        lambda i, b, r, now: act.start_runbook(i, b, r, RUNBOOK, now=now, actor="dana"),
    ).result()


def test_a_started_runbook_is_owned_by_the_bridge_and_read_back(
    store: Store, incident_id: str
) -> None:
    join(store, incident_id, "bob", "tech-lead")

    start(store, incident_id)

    board = store.board(incident_id)
    assert [a.owner for a in board.actions.values()] == ["bob", None, "bob", None]
    kinds = [e.kind for e in store.timeline(incident_id)][-5:]
    assert kinds == ["recovery.runbook_started"] + ["recovery.action_added"] * 4
    assert store.verify(incident_id) == []


def test_a_refused_command_records_nothing(store: Store, incident_id: str) -> None:
    start(store, incident_id)
    before = store.event_count()

    with pytest.raises(DomainError, match="circle"):
        store.action_command(
            incident_id,
            lambda i, b, r, now: [act.depend(i, b, "A1", ["A3"], now=now, actor="x")],
        ).result()

    assert store.event_count() == before


def test_mitigated_is_refused_until_verified_or_overridden(
    store: Store, incident_id: str
) -> None:
    store.change_status(incident_id, Status.MOBILISED, actor="dana").result()
    start(store, incident_id)

    with pytest.raises(DomainError, match="mitigated waits for verification"):
        store.change_status(incident_id, Status.MITIGATED, actor="dana").result()
    store.action_command(
        incident_id,
        lambda i, b, r, now: [
            act.override_verification(i, b, Status.MITIGATED, "vendor confirms the fix",
                                      now=now, actor="alice")
        ],
    ).result()  # fmt: skip
    store.change_status(incident_id, Status.MITIGATED, actor="dana").result()

    assert store.incident(incident_id).status is Status.MITIGATED
    with pytest.raises(DomainError, match="resolved waits for verification"):
        store.change_status(incident_id, Status.RESOLVED, actor="dana").result()


def test_an_incident_without_runbooks_moves_freely(
    store: Store, incident_id: str
) -> None:
    store.change_status(incident_id, Status.RESOLVED, actor="dana").result()

    assert store.incident(incident_id).status is Status.RESOLVED


def test_an_unowned_action_follows_whoever_takes_its_role(
    store: Store, incident_id: str
) -> None:
    start(store, incident_id)  # nobody on the bridge yet: no owners
    assert [a.owner for a in store.board(incident_id).actions.values()] == [None] * 4

    join(store, incident_id, "bob", "tech-lead")
    store.action_command(
        incident_id,
        lambda i, b, r, now: [
            act.set_status(i, b, "A2", act.ActionStatus.SKIPPED, now=now,
                           actor="dana", reason="acquirer called us")
        ],
    ).result()  # fmt: skip
    join(store, incident_id, "erin", "business")

    board = store.board(incident_id)
    assert [a.owner for a in board.actions.values()] == ["bob", None, "bob", None]
    assigned = [
        (e.payload["action"], e.payload["owner"], e.actor)
        for e in store.timeline(incident_id)
        if e.kind == "recovery.action_assigned"
    ]
    assert assigned == [("A1", "bob", "dana"), ("A3", "bob", "dana")]
    assert store.timeline(incident_id)[-1].kind == "roster.joined"  # A2 was skipped
