"""Recovery actions: a runbook's steps become owned actions, moves are checked,
circles of waits are refused, and verification holds back "mitigated"."""

from __future__ import annotations

import tomllib
from datetime import datetime, timedelta

import pytest

from mimdesk.domain import actions as act
from mimdesk.domain import incident as model
from mimdesk.domain.errors import DomainError
from mimdesk.domain.lifecycle import Status
from mimdesk.domain.roster import Participant, Presence, Roster
from mimdesk.domain.runbooks import Runbook, runbook_from_mapping
from mimdesk.domain.times import parse_utc
from mimdesk.resources import resource

from ..recording import Recorder

T0 = parse_utc("2026-12-03T14:00:00Z")
S = act.ActionStatus


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def demo_runbook() -> Runbook:
    text = resource("runbooks", "payments.toml").read_text(encoding="utf-8")
    return runbook_from_mapping(tomllib.loads(text))


def bridge() -> Roster:
    people = {p: Participant(p, Presence.JOINED) for p in ("alice", "bob", "chen")}
    holders = {"commander": (("alice", at(1)),), "tech-lead": (("bob", at(2)),),
               "comms": (("chen", at(3)),)}  # fmt: skip
    return Roster(people, holders)


class Desk:
    """One incident in memory, with its board refolded after every command."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        recorder.record(
            model.declare(title="Card payments failing", severity=1,
                          services=["payments-api"], detected_at=at(0), now=at(0),
                          actor="dana"),
            at(0),
        )  # fmt: skip
        self.roster = bridge()

    @property
    def board(self) -> act.Board:
        return act.board_of(self.recorder.events)

    def do(self, decide: act.Decision, minutes: float = 10) -> None:
        now = at(minutes)
        drafts = decide(self.recorder.incident, self.board, self.roster, now)
        self.recorder.record(drafts, now)


@pytest.fixture
def desk(recorder: Recorder) -> Desk:
    return Desk(recorder)


def start(desk: Desk) -> None:
    runbook = demo_runbook()
    desk.do(
        lambda i, b, r, now: act.start_runbook(i, b, r, runbook, now=now, actor="dana")
    )


def move(
    desk: Desk, action: str, status: act.ActionStatus, reason: str | None = None
) -> None:
    desk.do(
        lambda i, b, r, now: [
            act.set_status(i, b, action, status, now=now, actor="bob", reason=reason)
        ]
    )


def test_a_runbook_becomes_actions_owned_by_whoever_holds_each_role(
    desk: Desk,
) -> None:
    start(desk)

    board = desk.board
    owners = {a.id: (a.owner, a.role) for a in board.actions.values()}
    assert owners == {
        "A1": ("bob", "tech-lead"), "A2": (None, "business"),
        "A3": ("bob", "tech-lead"), "A4": ("chen", "comms"),
    }  # fmt: skip
    assert board.actions["A3"].after == ("A1",)
    assert board.actions["A1"].due == at(20)  # started at 10, expected 10 min
    assert board.runbooks == {"payments-failover": demo_runbook().name}
    assert [c.name for c in board.verify] == [demo_runbook().verify[0].name]


def test_the_same_runbook_twice_is_refused(desk: Desk) -> None:
    start(desk)
    with pytest.raises(DomainError, match="already running"):
        start(desk)


def test_an_action_cannot_be_done_before_what_it_waits_for(desk: Desk) -> None:
    start(desk)

    with pytest.raises(DomainError, match="A3 waits for A1"):
        move(desk, "A3", S.DONE)
    move(desk, "A1", S.SKIPPED, "confirmed by the acquirer already")
    move(desk, "A3", S.DONE)

    assert desk.board.get("a3").status is S.DONE
    assert desk.board.get("A1").reason == "confirmed by the acquirer already"


def test_blocked_and_skipped_need_a_reason(desk: Desk) -> None:
    start(desk)

    with pytest.raises(DomainError, match="say why the action is blocked"):
        move(desk, "A2", S.BLOCKED, "  ")
    move(desk, "A2", S.BLOCKED, "acquirer phone line down")

    assert desk.board.get("A2").status is S.BLOCKED
    assert model.describe(desk.recorder.events[-1]) == (
        "action A2 blocked: acquirer phone line down"
    )


def test_a_circle_of_waits_is_refused(desk: Desk) -> None:
    start(desk)  # A3 waits for A1, A4 for A3

    def a1_waits_for_a4(i, b, r, now):  # type: ignore[no-untyped-def]
        return [act.depend(i, b, "A1", ["A4"], now=now, actor="dana")]

    with pytest.raises(DomainError, match=r"circle \(A1 -> A4 -> A3 -> A1\)"):
        desk.do(a1_waits_for_a4)
    with pytest.raises(DomainError, match="cannot wait for itself"):
        desk.do(lambda i, b, r, now: [act.depend(i, b, "A2", ["A2"], now=now,
                                                 actor="dana")])  # fmt: skip
    desk.do(lambda i, b, r, now: [act.depend(i, b, "A4", ["A2"], now=now,
                                             actor="dana")])  # fmt: skip
    assert desk.board.get("A4").after == ("A3", "A2")


def test_owners_come_from_the_roster(desk: Desk) -> None:
    start(desk)

    with pytest.raises(DomainError, match="zoe is not on this incident's roster"):
        desk.do(lambda i, b, r, now: [act.assign(i, b, r, "A2", "zoe", now=now,
                                                 actor="dana")])  # fmt: skip
    desk.do(lambda i, b, r, now: [act.assign(i, b, r, "A2", "Alice", now=now,
                                             actor="dana")])  # fmt: skip
    assert desk.board.get("A2").owner == "alice"


def test_an_action_added_by_hand_and_overdue_ones_in_the_progress(desk: Desk) -> None:
    start(desk)
    desk.do(
        lambda i, b, r, now: [
            act.add_action(i, b, r, "Call the vendor", now=now, actor="dana",
                           owner="alice", due=at(15), after=["a3"])
        ]
    )  # fmt: skip
    move(desk, "A2", S.BLOCKED, "no answer")

    done = act.progress(desk.board, at(26))

    assert (done.done, done.total, done.blocked) == (0, 5, 1)
    assert [(a.id, a.owner) for a in done.overdue] == [
        ("A1", "bob"), ("A2", None), ("A5", "alice"),
    ]  # fmt: skip


def test_mitigated_waits_for_verification_or_an_override_on_the_record(
    desk: Desk,
) -> None:
    start(desk)
    board = desk.board
    name = board.verify[0].name
    assert act.gate(board, Status.MITIGATED) == [f"{name}: not run yet"]
    assert act.gate(board, Status.MOBILISED) == []

    failed = act.CheckResult(name, act.FAILED, "worst 0.09", at(11), "verify")
    desk.do(lambda i, b, r, now: [act.record_check(failed, now=now, actor="dana")])
    with pytest.raises(DomainError, match="mitigated waits for verification"):
        act.require_verified(desk.board, Status.MITIGATED)

    desk.do(
        lambda i, b, r, now: [
            act.override_verification(i, b, Status.MITIGATED, "vendor confirms",
                                      now=now, actor="alice")
        ]
    )  # fmt: skip
    assert act.gate(desk.board, Status.MITIGATED) == []
    assert act.gate(desk.board, Status.RESOLVED) != []
    assert desk.board.overrides[0].actor == "alice"

    passed = act.CheckResult(name, act.PASSED, "worst 0.001", at(12), "verify")
    desk.do(lambda i, b, r, now: [act.record_check(passed, now=now, actor="dana")])
    assert act.gate(desk.board, Status.RESOLVED) == []


def test_could_not_check_never_counts_as_passed(desk: Desk) -> None:
    start(desk)
    name = desk.board.verify[0].name
    unknown = act.CheckResult(name, act.UNKNOWN, "connection refused", at(11), "verify")
    desk.do(lambda i, b, r, now: [act.record_check(unknown, now=now, actor="dana")])

    assert act.gate(desk.board, Status.MITIGATED) == [
        f"{name}: could not check (connection refused)"
    ]
