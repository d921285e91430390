"""Playing an exercise: injects land at their scenario times through the same
paths as real input, the autopilot's moves are stamped when they were due,
and exercise traffic stays in the simulated platform, delivered once."""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mimdesk.clock import ExerciseClock
from mimdesk.connectors.chat import Limits, OutMessage, Posted
from mimdesk.connectors.errors import Transient
from mimdesk.domain import events as ev
from mimdesk.domain.lifecycle import Status
from mimdesk.domain.roster import of_timeline
from mimdesk.domain.scenario import parse
from mimdesk.exercise import find_scenario, load_scenario
from mimdesk.exercise_app import Setup, chat_setup, prepare
from mimdesk.paths import Paths
from mimdesk.resources import resource
from mimdesk.settings import Settings
from mimdesk.store.store import Store
from mimdesk.sync.chat_status import ChatHealth
from mimdesk.sync.exercise import ExerciseChat, Marked, Player, health_source
from mimdesk.sync.outbox_sender import OutboxSender

FAST = 3600.0  # an hour of scenario a second


def minutes(delta: timedelta) -> float:
    return delta.total_seconds() / 60


@pytest.fixture
def played(tmp_path: Path) -> Iterator[Setup]:
    """ledger-payments played by the autopilot at full speed, with the sender."""
    args = argparse.Namespace(scenario="ledger-payments", speed=FAST, autopilot=True)
    paths = Paths(tmp_path, tmp_path / "settings.toml", tmp_path / "logs")
    setup = prepare(args, paths, Settings(), resource("catalogues", "sample.toml"))
    sender = OutboxSender(
        setup.store, chat_setup(setup).factories, ChatHealth(), clock=setup.clock.now
    )
    sender.start()
    setup.player.start()
    try:
        assert setup.player.finished.wait(30)
        deadline = time.monotonic() + 10
        while setup.store.outbox_open() and time.monotonic() < deadline:
            time.sleep(0.05)
        yield setup
    finally:
        setup.player.stop()
        sender.stop(5)
        setup.store.close()


def test_autopilot_milestones_land_at_the_scenario_times(played: Setup) -> None:
    (incident,) = played.store.incidents()
    start = played.run.started_at
    assert incident.exercise
    assert incident.severity == 1
    assert incident.status is Status.RESOLVED
    reached = {s: minutes(incident.reached(s) - start) for s in incident.milestones
               if incident.reached(s)}  # type: ignore[operator]  # fmt: skip
    # Detected when the first alert fired (T+2), then the reference moves.
    assert reached == {
        Status.DETECTED: 2, Status.DECLARED: 6, Status.MOBILISED: 15,
        Status.MITIGATED: 53, Status.RESOLVED: 76,
    }  # fmt: skip
    assert played.run.folder.parent.name == "exercises"
    assert played.store.path.parent == played.run.folder


def test_injects_reach_the_timeline_roster_and_alerts(played: Setup) -> None:
    (incident,) = played.store.incidents()
    events = played.store.timeline(incident.id)
    start = played.run.started_at
    said = [e for e in events if e.kind == ev.CHAT_RECEIVED]
    assert [(e.actor, minutes(e.occurred_at - start)) for e in said] == [
        ("Service desk", 9)
    ]
    roster = of_timeline(events)
    assert "dana" in roster.holders_of("tech-lead")
    facilitator = [e for e in events if e.actor == "exercise facilitator"]
    assert any("vendor" in str(e.payload.get("text", "")) for e in facilitator)
    groups = played.store.alert_groups()
    names = {dict(a.labels)["alertname"] for g in groups for a in g.alerts}
    assert names == {"LedgerWriteLatencyHigh", "PaymentsErrorRatioHigh"}
    labels = [dict(a.labels) for g in groups for a in g.alerts]
    assert all(x.get("exercise") == "EXERCISE" for x in labels)


def test_updates_go_through_the_outbox_to_the_simulated_platform_once(
    played: Setup,
) -> None:
    (incident,) = played.store.incidents()
    sent = [e for e in played.store.timeline(incident.id)
            if e.kind == ev.UPDATE_SENT]  # fmt: skip
    assert len(sent) == 3
    assert incident.update_count == 3
    emails = [d for d in played.chat.delivered if d.platform == "email"]
    assert len(emails) == 3
    assert len({d.txn_id for d in emails}) == 3
    assert "ledger" in emails[0].text.lower() or "payments" in emails[0].text.lower()
    assert not played.store.outbox_open()


HELD = """\
[scenario]
title = "Held"
length = "10m"

[[inject]]
at = "1m"
kind = "message"
from = "Service desk"
text = "Calls are piling up"

[[inject]]
at = "9m"
kind = "note"
text = "end"
"""


def test_a_message_before_any_incident_waits_for_the_declaration(
    tmp_path: Path,
) -> None:
    scenario = parse(HELD, "held")
    clock = ExerciseClock(datetime.now(UTC), 60.0)
    store = Store(tmp_path / "s.sqlite", clock=clock.now)
    player = Player(scenario, clock, store)
    player.start()
    try:
        deadline = time.monotonic() + 10
        while clock.offset() < timedelta(minutes=2) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not store.incidents()
        incident_id = store.declare(
            title="Calls", severity=2, services=[], detected_at=None,
            actor="alice", exercise=True,
        ).result()  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            kinds = [e.kind for e in store.timeline(incident_id)]
            if ev.CHAT_RECEIVED in kinds:
                break
            time.sleep(0.02)
        events = store.timeline(incident_id)
        (said,) = [e for e in events if e.kind == ev.CHAT_RECEIVED]
        declared = next(e for e in events if e.kind == ev.STATUS_CHANGED)
        assert said.payload["text"] == "Calls are piling up"
        assert said.occurred_at >= declared.occurred_at
    finally:
        player.stop()
        store.close()


def test_chat_outage_refuses_then_takes_each_message_once() -> None:
    scenario = load_scenario(find_scenario("region-loss-chat-down"))

    class Fixed(ExerciseClock):
        def __init__(self) -> None:
            super().__init__(datetime(2026, 12, 4, 3, 0, tzinfo=UTC), 1.0)
            self.at = timedelta(minutes=10)

        def now(self) -> datetime:
            return self.start + self.at

    clock = Fixed()
    chat = ExerciseChat(scenario, clock)
    matrix, email = chat.platform("matrix"), chat.platform("email")
    message = OutMessage("Bridge on the phone: +44 20 7946 0000", txn_id="t1")
    with pytest.raises(Transient, match="exercise inject: chat outage"):
        matrix.post("exercise:INC-1", message)
    email.post("", OutMessage("by email", txn_id="e1"))  # email stays up
    clock.at = timedelta(minutes=40)
    first = matrix.post("exercise:INC-1", message)
    again = matrix.post("exercise:INC-1", message)
    assert first == again
    assert [d.txn_id for d in chat.delivered] == ["e1", "t1"]
    assert matrix.find_sent("exercise:INC-1", "t1") is not None


@dataclass
class Recording:
    name: str = "slack"
    limits: Limits = field(default_factory=lambda: Limits(max_text=100))
    can_read: bool = False
    can_create: bool = True
    can_find_sent: bool = False
    posts: list[OutMessage] = field(default_factory=list)
    channels: list[tuple[str, str]] = field(default_factory=list)

    def ensure_channel(self, incident_id: str, title: str, topic: str) -> str:
        self.channels.append((title, topic))
        return "C1"

    def post(self, channel: str, message: OutMessage) -> Posted:
        self.posts.append(message)
        return Posted("1.0")

    def close(self) -> None:
        pass


def test_real_traffic_when_allowed_is_marked_exercise() -> None:
    real = Recording()
    marked = Marked(lambda: real)  # type: ignore[arg-type, return-value]
    marked.ensure_channel("INC-1", "inc-1 payments", "SEV1")
    marked.post("C1", OutMessage("Payments down", rich="<b>x</b>", subject="Upd"))
    assert real.channels == [("[EXERCISE] inc-1 payments", "[EXERCISE] SEV1")]
    (post,) = real.posts
    assert post.text == "[EXERCISE] Payments down"
    assert post.subject == "[EXERCISE] Upd"
    assert post.rich is None


def test_the_health_source_follows_the_scenario_only() -> None:
    scenario = load_scenario(find_scenario("ledger-payments"))
    clock = ExerciseClock(datetime(2026, 12, 4, 3, 0, tzinfo=UTC), 1.0)
    source = health_source(scenario, clock)
    expr = 'sum(rate(http_requests_total{service="payments-api",code=~"5.."}[5m]))'
    at = clock.start.timestamp()

    def value(minutes_in: float) -> float:
        result = source.query(expr, at + minutes_in * 60)
        return result.series[0].values[0]

    assert value(1) < 0.01  # well before the cascade
    assert value(10) > 0.05  # down: errors well above any threshold
    assert value(80) < 0.01  # recovered
    assert "EXERCISE" in source.query(expr, at).notes
    # No built-in DEMO cycle: intranet search never goes stale in an exercise.
    stale = 'up{service="intranet-search"}'
    series = source.query_range(stale, at, at + 3600, 60).series[0]
    assert series.sample_times == series.times


TIGHT = """\
[scenario]
title = "Tight"
length = "20m"

[expect]
first_update_within = "630s"

[[inject]]
at = "0m"
kind = "health"
service = "payments-api"
state = "down"
{alert}
[[response]]
at = "1m"
kind = "declare"
title = "Payments down"
severity = 2
services = ["payments-api"]

[[response]]
at = "10m"
kind = "update"
audience = "executives"
text = "Payments are down."

[[response]]
at = "12m"
kind = "note"
text = "{note}"
"""
LATE_ALERT = """
[[inject]]
at = "5m"
kind = "alert"
name = "PaymentsDown"
service = "payments-api"
"""


class Lagging:
    """A monotonic clock that moves on a real second at every reading: each
    step of the store or the sender costs minutes of scenario at x600."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        self.t += 1.0
        return self.t


@dataclass
class Autoplayed:
    """A player run to its end, with the notices it gave and the stops noted."""

    player: Player
    notices: list[str]
    ended: list[timedelta]

    @property
    def store(self) -> Store:
        return self.player.store


def play_all(scenario_text: str, tmp_path: Path, clock: ExerciseClock) -> Autoplayed:
    """Play a scenario with the autopilot and the real update path, to its end."""
    from mimdesk.exercise_app import update_sender
    from mimdesk.policy import load_policies

    settings = Settings()
    policies = load_policies(settings, demo=True)
    store = Store(tmp_path / "s.sqlite", clock=clock.now)
    notices: list[str] = []
    ended: list[timedelta] = []
    player = Player(
        parse(scenario_text, "tight"), clock, store, autopilot=True,
        notice=notices.append, send_update=update_sender(settings, policies),
        roles=policies.roles, on_finished=ended.append,
    )  # fmt: skip
    player.start()
    assert player.finished.wait(30)
    return Autoplayed(player, notices, ended)


@pytest.mark.parametrize("alert", ["", LATE_ALERT])
def test_a_declare_with_no_alert_before_it_is_detected_when_declared(
    tmp_path: Path, alert: str
) -> None:
    clock = ExerciseClock(datetime.now(UTC), FAST)
    played = play_all(TIGHT.format(alert=alert, note="x"), tmp_path, clock)
    try:
        (incident,) = played.store.incidents()
        assert not [n for n in played.notices if "not applied" in n]
        assert incident.detected_at == clock.start + timedelta(minutes=1)
        assert incident.reached(Status.DECLARED) == clock.start + timedelta(minutes=1)
    finally:
        played.store.close()


def test_an_update_is_recorded_when_it_was_due_whatever_the_lag(
    tmp_path: Path,
) -> None:
    # Every clock reading costs a real second (10 scenario minutes at x600):
    # only the time the update was due can keep it inside its 630 s limit.
    clock = ExerciseClock(datetime.now(UTC), 600.0, monotonic=Lagging())
    played = play_all(TIGHT.format(alert="", note="x"), tmp_path, clock)
    try:
        (incident,) = played.store.incidents()
        assert incident.first_update_at == clock.start + timedelta(minutes=10)
    finally:
        played.store.close()


def test_the_stop_is_noted_once_where_it_happened(tmp_path: Path) -> None:
    clock = ExerciseClock(datetime.now(UTC), FAST)
    played = play_all(TIGHT.format(alert="", note="x"), tmp_path, clock)
    played.player.stop()
    assert played.player.ended == timedelta(minutes=20)
    assert played.ended == [timedelta(minutes=20)]
    played.store.close()

    early = ExerciseClock(datetime.now(UTC), 60.0)
    store = Store(tmp_path / "early.sqlite", clock=early.now)
    ended: list[timedelta] = []
    stopped = Player(parse(HELD, "held"), early, store, on_finished=ended.append)
    stopped.start()
    try:
        deadline = time.monotonic() + 10
        while early.offset() < timedelta(seconds=30) and time.monotonic() < deadline:
            time.sleep(0.02)
        stopped.stop()
        stopped.stop()
        assert len(ended) == 1
        assert timedelta(seconds=30) <= ended[0] < timedelta(minutes=2)
        assert stopped.ended == ended[0]
    finally:
        store.close()


def test_an_entry_that_cannot_be_applied_is_a_warning_notice(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    text = TIGHT.format(alert="", note="x").replace('"executives"', '"board"')
    clock = ExerciseClock(datetime.now(UTC), FAST)
    with caplog.at_level("WARNING", logger="mimdesk.sync.exercise"):
        played = play_all(text, tmp_path, clock)
    played.store.close()
    (notice,) = [n for n in played.notices if "not applied" in n]
    assert notice.startswith("WARNING T+10:00 update to board: not applied")
    assert "no audience 'board'" in notice
    assert any(r.levelname == "WARNING" and "not applied" in r.getMessage()
               for r in caplog.records)  # fmt: skip
