"""The automation rules run against a real store file: once per trigger, also
after a restart; undone on the record; the recovery watch checks on its
schedule (a clock the test moves) and says whether recovery held."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mimdesk import automation
from mimdesk.domain import actions as act
from mimdesk.domain import rules
from mimdesk.domain.directory import Directory, Person
from mimdesk.domain.lifecycle import Status
from mimdesk.domain.runbooks import Check, runbook_from_mapping
from mimdesk.resources import resource
from mimdesk.store.store import Store

RUNBOOK = runbook_from_mapping(
    tomllib.loads(resource("runbooks", "payments.toml").read_text(encoding="utf-8"))
)
START = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


class Clock:
    """UTC now, moved by the test."""

    def __init__(self) -> None:
        self.at = START

    def __call__(self) -> datetime:
        return self.at

    def advance(self, minutes: float) -> None:
        self.at += timedelta(minutes=minutes)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "mimdesk.sqlite"


@pytest.fixture
def store(path: Path, clock: Clock) -> Iterator[Store]:
    opened = Store.open(path, clock=clock)
    yield opened
    opened.close()


def book(**settings: object) -> automation.Rulebook:
    people = Directory((Person("alice", "Alice", handles={"matrix": "@alice:hq"}),))
    return automation.Rulebook(
        rules.RuleSettings(on_call={"commander": "alice"}, **settings),  # type: ignore[arg-type]
        "mimdesk", runbooks=(RUNBOOK,), directory=people,
        cadence={1: timedelta(minutes=30), 2: timedelta(hours=1)},
        platforms=("matrix",),
    )  # fmt: skip


def declare(store: Store, severity: int = 1) -> str:
    return store.declare(
        title="Card payments failing", severity=severity,
        services=["payments-api"], detected_at=None, actor="dana",
    ).result()  # fmt: skip


def kinds(store: Store, incident_id: str, kind: str) -> list[str]:
    return [
        str(e.payload.get("rule", "")) for e in store.timeline(incident_id)
        if e.kind == kind
    ]  # fmt: skip


def test_a_sev1_declaration_fires_each_rule_once_also_after_a_restart(
    store: Store, path: Path, clock: Clock
) -> None:
    incident_id = declare(store)

    automation.fire(store, incident_id, book()).result()
    again = automation.fire(store, incident_id, book()).result()

    assert again == []
    assert kinds(store, incident_id, rules.FIRED) == [
        "request_roles", "open_chat", "start_runbooks", "first_update",
    ]  # fmt: skip
    store.close()
    reopened = Store.open(path, clock=clock)
    try:
        assert automation.fire(reopened, incident_id, book()).result() == []
        assert len(kinds(reopened, incident_id, rules.FIRED)) == 4
    finally:
        reopened.close()


def test_what_the_rules_did_is_on_the_record(store: Store) -> None:
    incident_id = declare(store)

    automation.fire(store, incident_id, book()).result()

    roster = store.roster(incident_id)
    assert roster.participants["alice"].roles == ("commander",)
    board = store.board(incident_id)
    assert "payments-failover" in board.runbooks
    update = board.actions["A5"]
    assert update.title == rules.UPDATE_TITLE
    assert update.due == START + timedelta(minutes=30)  # the cadence's first update
    queued = store.outbox_items()
    assert [i.kind.value for i in queued] == ["create_channel", "invite"]
    fired = next(
        e for e in store.timeline(incident_id)
        if e.kind == rules.FIRED and e.payload["rule"] == "request_roles"
    )  # fmt: skip
    assert fired.payload["wanted"] == ["comms", "scribe", "tech-lead", "business"]


def test_a_sev3_declaration_fires_nothing_until_it_is_escalated(
    store: Store,
) -> None:
    incident_id = declare(store, severity=3)

    assert automation.fire(store, incident_id, book()).result() == []
    store.change_severity(incident_id, 2, actor="dana").result()
    automation.fire(store, incident_id, book()).result()

    assert "start_runbooks" in kinds(store, incident_id, rules.FIRED)


def test_rules_turned_off_do_not_fire(store: Store) -> None:
    incident_id = declare(store)
    off = book(rules={**dict.fromkeys(rules.RULES, True), "open_chat": False})

    automation.fire(store, incident_id, off).result()
    automation.fire(store, incident_id, book(enabled=False)).result()

    assert "open_chat" not in kinds(store, incident_id, rules.FIRED)
    assert store.outbox_items() == []


def test_an_undo_skips_the_runbook_actions_and_is_recorded_once(
    store: Store,
) -> None:
    incident_id = declare(store)
    automation.fire(store, incident_id, book()).result()
    fired = next(
        f for f in rules.firings(store.timeline(incident_id))
        if f.rule == "start_runbooks"
    )  # fmt: skip

    automation.undo(store, incident_id, fired.event_id, actor="dana").result()

    board = store.board(incident_id)
    assert all(
        board.actions[a].status is act.ActionStatus.SKIPPED
        for a in ("A1", "A2", "A3", "A4")
    )
    assert board.actions["A5"].status is act.ActionStatus.OPEN
    assert kinds(store, incident_id, rules.UNDONE) == ["start_runbooks"]
    with pytest.raises(Exception, match="undone already"):
        automation.undo(store, incident_id, fired.event_id, actor="dana").result()
    assert automation.fire(store, incident_id, book()).result() == []


def test_undoing_the_chat_rule_cancels_the_queued_room(store: Store) -> None:
    incident_id = declare(store)
    automation.fire(store, incident_id, book()).result()
    fired = next(
        f for f in rules.firings(store.timeline(incident_id)) if f.rule == "open_chat"
    )

    written = automation.undo(store, incident_id, fired.event_id, actor="dana")

    assert "2 queued chat message(s) cancelled" in written.result()[0].payload["did"]
    assert store.outbox_open() == []


# --- the recovery watch -----------------------------------------------------------


def mitigated(store: Store, clock: Clock) -> str:
    """A SEV1 whose runbook runs, its verification passed, then mitigated."""
    incident_id = declare(store)
    automation.fire(store, incident_id, book()).result()
    passed = act.CheckResult(
        RUNBOOK.verify[0].name, act.PASSED, "worst 0.002", clock(), "verify"
    )
    store.action_command(
        incident_id,
        lambda _i, _b, _r, now: [act.record_check(passed, now=now, actor="dana")],
    ).result()
    store.change_status(incident_id, Status.MITIGATED, actor="dana").result()
    automation.fire(store, incident_id, book()).result()
    return incident_id


class Checks:
    """Answers every check with the next outcome and counts the runs."""

    def __init__(self, *outcomes: str) -> None:
        self.outcomes = list(outcomes)
        self.runs: list[datetime] = []

    def __call__(self, check: Check, target: str, now: datetime) -> act.CheckResult:
        self.runs.append(now)
        outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
        return act.CheckResult(check.name, outcome, "from the test", now, target)


def rounds(store: Store, clock: Clock, run: Checks, minutes: int) -> None:
    """Move the clock a minute at a time; a round runs whenever one is due."""
    for _ in range(minutes):
        for incident_id in automation.watching(store, clock()):
            automation.watch_round(store, incident_id, run, now=clock, actor="mimdesk")
        clock.advance(1)


def test_the_watch_checks_every_five_minutes_and_says_recovery_held(
    store: Store, clock: Clock
) -> None:
    incident_id = mitigated(store, clock)
    run = Checks(act.PASSED)

    rounds(store, clock, run, 31)

    assert [int((t - START).total_seconds() // 60) for t in run.runs] == [
        0, 5, 10, 15, 20, 25,
    ]  # fmt: skip
    ended = [e for e in store.timeline(incident_id) if e.kind == rules.WATCH_ENDED]
    assert [e.payload["verdict"] for e in ended] == [rules.HELD]
    assert automation.watching(store, clock()) == []


def test_a_check_that_could_not_run_never_counts_as_held(
    store: Store, clock: Clock
) -> None:
    incident_id = mitigated(store, clock)

    rounds(store, clock, Checks(act.PASSED, act.UNKNOWN, act.PASSED), 31)

    ended = next(e for e in store.timeline(incident_id) if e.kind == rules.WATCH_ENDED)
    assert ended.payload["verdict"] == rules.UNKNOWN


def test_a_failed_check_means_recovery_did_not_hold(store: Store, clock: Clock) -> None:
    incident_id = mitigated(store, clock)

    rounds(store, clock, Checks(act.PASSED, act.FAILED, act.PASSED), 31)

    ended = next(e for e in store.timeline(incident_id) if e.kind == rules.WATCH_ENDED)
    assert ended.payload["verdict"] == rules.NOT_HELD


def test_an_undone_watch_runs_no_more_checks(store: Store, clock: Clock) -> None:
    incident_id = mitigated(store, clock)
    run = Checks(act.PASSED)
    rounds(store, clock, run, 6)
    fired = next(
        f for f in rules.firings(store.timeline(incident_id))
        if f.rule == "recovery_watch"
    )  # fmt: skip

    automation.undo(store, incident_id, fired.event_id, actor="dana").result()
    rounds(store, clock, run, 30)

    assert len(run.runs) == 2
    assert kinds(store, incident_id, rules.UNDONE) == ["recovery_watch"]


def test_a_watch_ends_early_when_the_incident_is_resolved(
    store: Store, clock: Clock
) -> None:
    incident_id = mitigated(store, clock)
    rounds(store, clock, Checks(act.PASSED), 7)

    store.change_status(incident_id, Status.RESOLVED, actor="dana").result()
    automation.fire(store, incident_id, book()).result()

    ended = next(e for e in store.timeline(incident_id) if e.kind == rules.WATCH_ENDED)
    assert (ended.payload["early"], ended.payload["verdict"]) == (True, rules.HELD)


def test_on_call_entries_the_rules_cannot_act_on_are_said() -> None:
    settings = rules.RuleSettings(
        on_call={"comander": "alice", "scribe": "zed", "commander": "alice"}
    )
    directory = Directory((Person("alice", "Alice Martin"),))

    with_people = automation.Rulebook(settings, "im", directory=directory)
    without = automation.Rulebook(settings, "im")

    assert [p.split(";")[0] for p in with_people.problems()] == [
        "[automation] on_call: no role 'comander' (roles are: business, commander, "
        "comms, deputy, observer, scribe, sponsor, tech-lead)",
        "[automation] on_call: zed (scribe) is not in the directory",
    ]
    assert len(without.problems()) == 3
    assert "no directory is set" in without.problems()[1]
