"""Impact overrides through the store: decided against the journal as written, in
the hash chain, and nothing written when refused."""

from __future__ import annotations

import pytest

from mimdesk.domain import events as ev
from mimdesk.domain.errors import DomainError
from mimdesk.domain.impact import Level
from mimdesk.domain.impact_override import decision, overrides_of
from mimdesk.store.store import Store

KNOWN = ("card-payments", "digital-banking")


def _override(store: Store, incident_id: str, level: str, reason: str) -> None:
    decide = decision(
        "override", "card-payments", actor="dana", known=KNOWN, level=level,
        reason=reason,
    )  # fmt: skip
    store.impact_command(incident_id, decide).result()


def test_overrides_are_journal_events_in_the_chain(
    store: Store, incident_id: str
) -> None:
    _override(store, incident_id, "down", "acquirer confirms")
    _override(store, incident_id, "degraded", "half the terminals back")

    timeline = store.timeline(incident_id)
    assert [e.kind for e in timeline[-2:]] == [ev.IMPACT_OVERRIDDEN] * 2
    assert timeline[-1].payload["previous"] == "down"  # read from the journal
    assert overrides_of(timeline)["card-payments"].level is Level.DEGRADED
    assert store.verify(incident_id) == []


def test_clearing_goes_through_the_same_door(store: Store, incident_id: str) -> None:
    _override(store, incident_id, "down", "acquirer confirms")
    clear = decision("clear", "card-payments", actor="erin", known=KNOWN)

    store.impact_command(incident_id, clear).result()

    assert overrides_of(store.timeline(incident_id)) == {}


def test_a_refused_override_writes_nothing(store: Store, incident_id: str) -> None:
    before = store.event_count()

    with pytest.raises(DomainError, match="say why"):
        _override(store, incident_id, "down", "")

    assert store.event_count() == before
