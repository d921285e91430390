"""Overriding a business service's impact: what is recorded, what is refused, what
the journal gives back, and the words the timeline shows."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from mimdesk.domain import events as ev
from mimdesk.domain import incident as model
from mimdesk.domain.errors import DomainError
from mimdesk.domain.impact import Level
from mimdesk.domain.impact_override import (
    clear_override,
    decision,
    overrides_of,
    parse_level,
    set_override,
)
from mimdesk.domain.lifecycle import Status
from mimdesk.domain.times import parse_utc

from ..recording import Recorder

T0 = parse_utc("2026-12-03T14:00:00Z")
KNOWN = ("payments", "branches")


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
def live(recorder: Recorder) -> Recorder:
    recorder.record(
        model.declare(title="Ledger down", severity=1, services=["ledger"],
                      detected_at=at(0), declared_at=at(5), now=at(5), actor="dana"),
        at(5),
    )  # fmt: skip
    return recorder


def _override(live: Recorder, minutes: float, **kw: object) -> None:
    choice = {"level": "down", "reason": "all branches closed", **kw}
    decide = decision(
        "override", str(kw.get("business", "branches")), actor="dana", known=KNOWN,
        level=str(choice["level"]), reason=str(choice["reason"]),
    )  # fmt: skip
    current = overrides_of(live.events)
    live.record([decide(live.incident, current, at(minutes))], at(minutes))


def test_an_override_is_recorded_with_who_why_and_when(live: Recorder) -> None:
    _override(live, 10)

    event = live.events[-1]
    assert event.kind == ev.IMPACT_OVERRIDDEN
    assert dict(event.payload) == {
        "business_service": "branches", "level": "down",
        "reason": "all branches closed", "previous": None,
    }  # fmt: skip
    (override,) = overrides_of(live.events).values()
    assert (override.level, override.actor, override.at) == (Level.DOWN, "dana", at(10))


def test_a_later_override_replaces_the_earlier_and_says_what_it_was(
    live: Recorder,
) -> None:
    _override(live, 10)
    _override(live, 20, level="degraded", reason="half reopened")

    assert live.events[-1].payload["previous"] == "down"
    assert overrides_of(live.events)["branches"].level is Level.DEGRADED


def test_clearing_is_its_own_event_and_the_override_is_gone(live: Recorder) -> None:
    _override(live, 10)
    decide = decision("clear", "branches", actor="erin", known=KNOWN)

    live.record([decide(live.incident, overrides_of(live.events), at(30))], at(30))

    assert live.events[-1].kind == ev.IMPACT_OVERRIDE_CLEARED
    assert live.events[-1].actor == "erin"
    assert overrides_of(live.events) == {}
    assert model.describe(live.events[-1]) == (
        "impact override on branches cleared (was DOWN); the computed level "
        "counts again"
    )


def test_the_timeline_says_what_was_overridden(live: Recorder) -> None:
    _override(live, 10)

    assert model.describe(live.events[-1]) == (
        "business impact of branches set to DOWN by override: all branches closed"
    )


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"business": "branchs"}, "unknown business service 'branchs'; the "
                                  "catalogue has: branches, payments"),
        ({"reason": "   "}, "say why the impact is overridden"),
        ({"reason": "x" * 501}, "501 characters"),
        ({"level": "broken"}, "unknown impact level 'broken'; use one of: none, "
                              "degraded, down"),
        ({"level": "unknown"}, "unknown impact level"),
    ],
)  # fmt: skip
def test_mistakes_are_refused(live: Recorder, kw: dict, message: str) -> None:
    with pytest.raises(DomainError, match=message):
        _override(live, 10, **kw)


def test_the_same_override_twice_is_refused(live: Recorder) -> None:
    _override(live, 10)

    with pytest.raises(DomainError, match="already overridden to down"):
        _override(live, 11)


def test_clearing_nothing_is_refused(live: Recorder) -> None:
    with pytest.raises(DomainError, match="no impact override"):
        clear_override(
            live.incident, {}, "branches", known=KNOWN, now=at(10), actor="dana"
        )


def test_a_resolved_incident_is_not_overridden(live: Recorder) -> None:
    live.record(
        model.change_status(
            live.incident, Status.RESOLVED, at=at(20), now=at(20), actor="dana"
        ),
        at(20),
    )

    with pytest.raises(DomainError, match="is resolved; reopen it"):
        set_override(
            live.incident, {}, "branches", Level.DOWN, "closed",
            known=KNOWN, now=at(21), actor="dana",
        )  # fmt: skip


def test_levels_read_as_typed() -> None:
    assert parse_level(" DOWN ") is Level.DOWN
    assert parse_level("none") is Level.NONE


def test_an_override_of_a_business_service_gone_may_still_be_cleared(
    live: Recorder,
) -> None:
    _override(live, 10)

    event = clear_override(
        live.incident, overrides_of(live.events), "branches", known=(),
        now=at(11), actor="dana",
    )  # fmt: skip

    assert event.payload == {"business_service": "branches", "was": "down"}
