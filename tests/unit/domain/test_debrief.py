"""Scoring a team's response against a scenario's expectations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from mimdesk.domain import roster as roster_model
from mimdesk.domain.debrief import (
    Debrief,
    Result,
    choose,
    role_filled_at,
    score,
    span_text,
)
from mimdesk.domain.events import JournalEvent
from mimdesk.domain.incident import change_severity, change_status, declare
from mimdesk.domain.incident import record_update_sent as update
from mimdesk.domain.lifecycle import Status
from mimdesk.domain.scenario import Scenario, parse
from mimdesk.domain.times import parse_utc
from mimdesk.resources import resource

from ..recording import Recorder

T0 = parse_utc("2026-11-20T09:00:00Z")


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def ledger() -> Scenario:
    path = resource("scenarios", "ledger-payments.toml")
    return parse(path.read_text(encoding="utf-8"), path.stem)


class Team:
    """A team playing the exercise: each move recorded at its minute."""

    def __init__(
        self, minute: float = 6, severity: int = 1,
        services: Sequence[str] = ("ledger-db", "payments-api"),
    ) -> None:  # fmt: skip
        self.rec = Recorder("INC-261120-TEAM")
        self.rec.record(
            declare(title="Card payments failing", severity=severity,
                    services=services, detected_at=at(minute), now=at(minute),
                    actor="alice"),
            at(minute),
        )  # fmt: skip

    @property
    def events(self) -> list[JournalEvent]:
        return self.rec.events

    def join(self, minute: float, person: str, role: str) -> Team:
        roster = roster_model.of_timeline(self.events)
        draft = roster_model.join(roster, person, role=role, at=at(minute),
                                  now=at(minute), actor="alice")  # fmt: skip
        self.rec.record([draft], at(minute))
        return self

    def status(self, minute: float, status: Status) -> Team:
        drafts = change_status(self.rec.incident, status, at=at(minute),
                               now=at(minute), actor="alice")  # fmt: skip
        self.rec.record(drafts, at(minute))
        return self

    def update(self, minute: float) -> Team:
        drafts = update(self.rec.incident, "news", now=at(minute), actor="chen",
                        audience="executives")  # fmt: skip
        self.rec.record(drafts, at(minute))
        return self

    def severity(self, minute: float, level: int) -> Team:
        drafts = change_severity(self.rec.incident, level, now=at(minute),
                                 actor="alice")  # fmt: skip
        self.rec.record(drafts, at(minute))
        return self

    def scored(self, now: float = 90) -> Debrief:
        return score(ledger(), T0, self.rec.incident, self.events, at(now))


def reference() -> Team:
    """The scenario's own reference response, move for move."""
    return (
        Team()
        .join(9, "alice", "commander").join(11, "bob", "tech-lead")
        .join(13, "chen", "comms").status(15, Status.MOBILISED)
        .update(16).update(45).status(53, Status.MITIGATED)
        .update(75).status(76, Status.RESOLVED)
    )  # fmt: skip


def results(debrief: Debrief) -> dict[str, str]:
    return {i.key: i.result.value for i in debrief.items}


def item(debrief: Debrief, key: str) -> dict[str, str]:
    return next(i.to_dict() for i in debrief.items if i.key == key)


def test_the_reference_response_meets_every_expectation() -> None:
    found = reference().scored()

    assert set(results(found).values()) == {"met"}
    assert found.score_text == "11 of 11 met (100%)"
    declared = item(found, "declare")
    assert declared["at"] == "T+6:00"
    assert declared["took"] == "6 min"
    assert declared["margin"] == "4 min early"
    assert declared["expected"] == "by T+10:00 (10 min)"
    cadence = item(found, "cadence")
    assert cadence["actual"] == "longest gap 30 min"
    assert cadence["margin"] == "on the limit"
    assert cadence["note"] == "T+45:00 to T+75:00; 3 update(s) in all"


def test_a_slow_team_misses_what_it_did_late() -> None:
    team = (
        Team(minute=12, severity=2)
        .join(14, "alice", "commander").join(25, "bob", "tech-lead")
        .join(26, "chen", "comms").status(27, Status.MOBILISED)
        .update(24).status(70, Status.MITIGATED).status(80, Status.RESOLVED)
    )  # fmt: skip

    found = team.scored()

    assert results(found) == {
        "declare": "missed", "severity": "missed", "services": "met",
        "role:commander": "met", "role:tech-lead": "missed",
        "role:comms": "missed", "mobilise": "missed", "first_update": "missed",
        "cadence": "missed", "mitigate": "missed", "resolve": "met",
    }  # fmt: skip
    assert item(found, "declare")["margin"] == "2 min late"
    assert item(found, "role:tech-lead")["at"] == "T+25:00"
    assert item(found, "role:tech-lead")["margin"] == "5 min late"
    assert item(found, "severity")["actual"] == "SEV2 declared"
    assert (found.met, found.scored) == (3, 11)


def test_a_later_severity_change_is_noted_but_the_declared_one_is_scored() -> None:
    found = Team(severity=2).severity(8, 1).scored()

    severity = item(found, "severity")
    assert severity["result"] == "missed"
    assert severity["note"] == "changed to SEV1 at T+8:00"


def test_a_service_not_named_is_missed() -> None:
    found = Team(services=["ledger-db", "core-banking"]).scored()

    services = item(found, "services")
    assert services["result"] == "missed"
    assert services["note"] == "not named: payments-api"


def test_never_declared_misses_every_item_as_not_done() -> None:
    found = score(ledger(), T0, None, [], at(90))

    assert found.incident_id is None
    assert [i.key for i in found.items] == [i.key for i in reference().scored().items]
    assert {i.result for i in found.items} == {Result.MISSED}
    assert {i.to_dict()["actual"] for i in found.items} == {"not done"}
    assert found.score_text == "0 of 11 met (0%)"


def test_a_role_late_or_never_is_missed_and_one_not_yet_due_is_not_reached() -> None:
    team = Team().join(9, "alice", "commander").join(31, "bob", "tech-lead")

    late = team.scored(now=40)
    early = Team().join(9, "alice", "commander").scored(now=15)

    assert results(late)["role:tech-lead"] == "missed"
    assert results(late)["role:comms"] == "missed"
    assert item(late, "role:comms")["actual"] == "not done"
    assert results(early)["role:commander"] == "met"
    assert results(early)["role:comms"] == "not reached"
    assert results(early)["resolve"] == "not reached"
    assert early.scored < len(early.items)


def test_a_role_counts_from_the_moment_its_holder_is_on_the_bridge() -> None:
    team = Team().join(9, "bob", "tech-lead")
    roster = roster_model.of_timeline(team.events)
    draft = roster_model.assign(roster, "commander", "dana", at=at(12), now=at(12),
                                actor="alice")  # fmt: skip
    team.rec.record([draft], at(12))
    team.join(18, "dana", "commander")

    filled = role_filled_at(team.events, ["commander", "tech-lead"])

    assert filled == {"tech-lead": at(9), "commander": at(18)}


def test_a_gap_in_the_updates_misses_the_cadence() -> None:
    team = reference()
    events = [e for e in team.events if e.occurred_at != at(45)]
    incident = replace(team.rec.incident, update_count=2)

    found = score(ledger(), T0, incident, events, at(90))

    cadence = next(i for i in found.items if i.key == "cadence")
    assert cadence.result is Result.MISSED
    assert cadence.to_dict()["actual"] == "longest gap 59 min"
    assert cadence.to_dict()["margin"] == "29 min late"
    assert cadence.note == "T+16:00 to T+75:00; 2 update(s) in all"


def test_the_cadence_counts_until_now_while_the_incident_is_open() -> None:
    team = Team().update(16)

    assert results(team.scored(now=40))["cadence"] == "met"
    assert results(team.scored(now=50))["cadence"] == "missed"


def test_no_update_at_all_misses_the_cadence_once_the_first_was_due() -> None:
    assert results(Team().scored(now=10))["cadence"] == "not reached"
    assert results(Team().scored(now=30))["cadence"] == "missed"


def test_a_skipped_milestone_counts_from_the_next_one_reached() -> None:
    team = Team().status(50, Status.RESOLVED)

    found = team.scored()

    assert item(found, "mitigate")["at"] == "T+50:00"
    assert results(found)["mitigate"] == "met"


def test_the_incident_chosen_names_an_expected_service() -> None:
    other = Team(minute=3, services=["identity"]).rec.incident
    other = replace(other, id="INC-OTHER")
    team = Team(minute=8).rec.incident

    assert choose([team, other], ["ledger-db"]) is team
    assert choose([team, other], ["mainframe"]) is other
    assert choose([], ["ledger-db"]) is None


def test_spans_read_as_people_say_them() -> None:
    assert span_text(timedelta(seconds=45)) == "45 s"
    assert span_text(timedelta(minutes=6, seconds=30)) == "6 min 30 s"
    assert span_text(timedelta(minutes=76)) == "1 h 16 min"
    assert span_text(timedelta(minutes=60)) == "1 h"
