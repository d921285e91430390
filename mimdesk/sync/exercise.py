"""Playing an exercise: injects at their scenario times, a simulated chat
platform that keeps exercise traffic in, and the health source it drives.

The player runs on its own thread and writes through the store like any other
seat: alerts go through the alert path, messages and late joiners into the
timeline, and (with autopilot) the reference response through the same
commands the console uses. Nothing here imports Qt.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from itertools import count

from mimdesk.clock import ExerciseClock
from mimdesk.connectors.chat import Batch, ChatPlatform, Limits, OutMessage, Posted
from mimdesk.connectors.errors import Transient
from mimdesk.domain import chat as chat_model
from mimdesk.domain import roster as roster_model
from mimdesk.domain.errors import DomainError
from mimdesk.domain.events import NewEvent
from mimdesk.domain.incident import Incident
from mimdesk.domain.roster import RolePolicy
from mimdesk.domain.scenario import Inject, Scenario, offset_text
from mimdesk.domain.times import utc_iso
from mimdesk.store.store import Store
from mimdesk.sync.demo import DemoSource

log = logging.getLogger(__name__)

EXERCISE = "EXERCISE"
INJECT_ACTOR = "exercise facilitator"
AUTOPILOT_ACTOR = "exercise autopilot"
# The player looks at the clock this often (in real seconds) while waiting.
TICK_S = 0.05


def health_source(scenario: Scenario, clock: ExerciseClock) -> DemoSource:
    """The DEMO source's signals, degraded only as the scenario says."""
    start = clock.start.timestamp()

    def level(service: str, t: float) -> float:
        return scenario.health_at(service, timedelta(seconds=t - start))

    return DemoSource(lambda: clock.now().timestamp(), level=level, label=EXERCISE)


@dataclass
class Delivered:
    """What the simulated platform took: kept so the debrief and the tests can
    see every exercise message arrived, once."""

    platform: str
    channel: str
    text: str
    txn_id: str
    at: datetime


@dataclass
class ExerciseChat:
    """Stands in for every chat platform and email during an exercise, so no
    exercise message reaches a real audience. During a scenario's chat outage
    it refuses posts as a real platform would (transient), and the outbox
    holds them until it ends."""

    scenario: Scenario
    clock: ExerciseClock
    delivered: list[Delivered] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: count[int] = field(default_factory=lambda: count(1))

    def platform(self, name: str) -> ExercisePlatform:
        return ExercisePlatform(name, self)

    def _check_up(self, name: str) -> None:
        if name != "email" and self.scenario.chat_down_at(self.clock.offset()):
            raise Transient(f"{name} is down (exercise inject: chat outage)")

    def take(self, name: str, channel: str, message: OutMessage) -> Posted:
        self._check_up(name)
        with self._lock:
            key = message.txn_id or f"n{next(self._ids)}"
            if not any(d.txn_id == key for d in self.delivered):
                self.delivered.append(
                    Delivered(name, channel, message.text, key, self.clock.now())
                )
            return Posted(f"exercise-{name}-{key}")

    def find(self, txn_id: str) -> str | None:
        with self._lock:
            hit = any(d.txn_id == txn_id for d in self.delivered)
        return f"exercise-{txn_id}" if hit else None


class ExercisePlatform:
    """One simulated platform (see ExerciseChat)."""

    limits = Limits(max_text=30_000)
    can_read = False
    can_create = True
    can_find_sent = True

    def __init__(self, name: str, chat: ExerciseChat) -> None:
        self.name = name
        self._chat = chat

    def ensure_channel(self, incident_id: str, title: str, topic: str) -> str:
        self._chat._check_up(self.name)
        return f"exercise:{incident_id}"

    def set_topic(self, channel: str, topic: str) -> None:
        self._chat._check_up(self.name)

    def invite(self, channel: str, user: str) -> None:
        self._chat._check_up(self.name)

    def post(self, channel: str, message: OutMessage) -> Posted:
        return self._chat.take(self.name, channel, message)

    def find_sent(self, channel: str, txn_id: str) -> str | None:
        return self._chat.find(txn_id)

    def read(
        self,
        channels: Sequence[str],
        position: str | None,
        *,
        since: datetime | None = None,
    ) -> Batch:
        return Batch()

    def close(self) -> None:
        """Nothing to release."""


class Marked:
    """A real platform for a scenario allowed to reach real audiences: every
    channel and message says EXERCISE, so no one mistakes it for the real thing."""

    PREFIX = "[EXERCISE] "

    def __init__(self, factory: Callable[[], ChatPlatform]) -> None:
        self._real = factory()
        self.name = self._real.name
        self.limits = self._real.limits
        self.can_read = self._real.can_read
        self.can_create = self._real.can_create
        self.can_find_sent = self._real.can_find_sent

    def ensure_channel(self, incident_id: str, title: str, topic: str) -> str:
        return self._real.ensure_channel(
            incident_id, self.PREFIX + title, self.PREFIX + topic
        )

    def set_topic(self, channel: str, topic: str) -> None:
        self._real.set_topic(channel, self.PREFIX + topic)

    def invite(self, channel: str, user: str) -> None:
        self._real.invite(channel, user)

    def post(self, channel: str, message: OutMessage) -> Posted:
        marked = replace(
            message,
            text=self.PREFIX + message.text,
            rich=None,
            subject=self.PREFIX + message.subject if message.subject else "",
        )
        return self._real.post(channel, marked)

    def find_sent(self, channel: str, txn_id: str) -> str | None:
        return self._real.find_sent(channel, txn_id)

    def read(
        self,
        channels: Sequence[str],
        position: str | None,
        *,
        since: datetime | None = None,
    ) -> Batch:
        return self._real.read(channels, position, since=since)

    def close(self) -> None:
        self._real.close()


# What the autopilot needs to send a stakeholder update the way the console
# does (render for the audience, queue every copy): given the incident, the
# audience, the scenario's text and when it was due (what it is recorded at,
# so the score does not depend on the speed). Composed by the caller, which
# knows the audiences.
SendUpdate = Callable[[Store, Incident, str, str, datetime], None]


class Player:
    """Plays `scenario` into `store` against `clock`. `notice(text)` tells the
    team what happens (a banner in the console, a line in the command). Call
    `start()`, then `stop()`; `finished` is set when the scenario's time is up
    or `stop()` was called, and `ended` then holds the scenario offset it
    stopped at, also given to `on_finished` (once)."""

    def __init__(
        self,
        scenario: Scenario,
        clock: ExerciseClock,
        store: Store,
        *,
        autopilot: bool = False,
        notice: Callable[[str], None] = lambda _text: None,
        send_update: SendUpdate | None = None,
        known_services: Sequence[str] | None = None,
        roles: RolePolicy | None = None,
        on_finished: Callable[[timedelta], None] = lambda _offset: None,
    ) -> None:
        self.scenario = scenario
        self.clock = clock
        self.store = store
        self.autopilot = autopilot
        self._notice = notice
        self._send_update = send_update
        self._known = known_services
        self._roles = roles or RolePolicy()
        # Where the autopilot opens the incident's channel and posts.
        self.platforms: tuple[str, ...] = ("matrix",)
        self._opened: set[str] = set()
        entries = [(i.at, 0, n, i) for n, i in enumerate(scenario.injects)]
        if autopilot:
            entries += [(r.at, 1, n, r) for n, r in enumerate(scenario.response)]
        self._queue = [(e[3], e[1] == 1) for e in sorted(entries)]
        self._held: list[Inject] = []
        self.played: list[tuple[timedelta, str]] = []
        self.finished = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="exercise", daemon=True)
        self._alert_seq = count(1)
        self._incident_id: str | None = None
        self._due = clock.start
        self._on_finished = on_finished
        self._ending = threading.Lock()
        self.ended: timedelta | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._end(min(self.clock.offset(), self.scenario.length))

    def _run(self) -> None:
        over = False
        try:
            over = self._play()
        except Exception:  # the exercise ends; the console stays up
            log.exception("exercise %s stopped on an error", self.scenario.name)
            self._notice("The exercise stopped on an error; see the log.")
        finally:
            length = self.scenario.length
            self._end(length if over else min(self.clock.offset(), length))

    def _end(self, offset: timedelta) -> None:
        """Note where the run stopped, once, then say it has finished."""
        with self._ending:
            if self.ended is None:
                self.ended = offset
                try:
                    self._on_finished(offset)
                except Exception:  # the stop is still known to this process
                    log.exception("the end of exercise %s was not recorded",
                                  self.scenario.name)  # fmt: skip
        self.finished.set()

    def _play(self) -> bool:
        """Play every entry at its time; True when the scenario's time is up."""
        for entry, is_response in self._queue:
            if not self._wait_until(entry.at):
                return False
            self._apply(entry, is_response)
        if not self._wait_until(self.scenario.length):
            return False
        self._notice(f"{offset_text(self.scenario.length)}: the exercise is over.")
        return True

    def _wait_until(self, at: timedelta) -> bool:
        while (left := at - self.clock.offset()) > timedelta(0):
            self._retry_held()
            # Wake on time, not a tick late: at x900 a tick is 45 scenario seconds.
            real = left.total_seconds() / self.clock.speed
            if self._stop.wait(min(TICK_S, real)):
                return False
        return not self._stop.is_set()

    def _apply(self, entry: Inject, is_response: bool) -> None:
        when = offset_text(entry.at)
        # Recorded at the scenario time it was due, not when the thread woke:
        # at high speed a tick is many scenario seconds.
        self._due = self.clock.start + entry.at
        try:
            if is_response:
                self._respond(entry)
            else:
                self._inject(entry)
        except DomainError as exc:
            log.warning("exercise %s at %s not applied: %s", entry.kind, when, exc)
            self._notice(f"WARNING {when} {entry.describe()}: not applied ({exc})")
            return
        self.played.append((entry.at, entry.describe()))
        log.info("exercise %s: %s", when, entry.describe())

    # --- injects --------------------------------------------------------------

    def _inject(self, inject: Inject) -> None:
        when = offset_text(inject.at)
        if inject.kind == "health":
            return  # the health source reads the scenario; the team sees graphs
        if inject.kind == "alert":
            self._alert(inject)
        elif inject.kind == "chat_outage":
            self._notice(f"{when}: the chat platform is down until "
                         f"{offset_text(inject.fields['until'])}")  # fmt: skip
        elif inject.kind == "note":
            self._notice(f"{when} FACILITATOR: {inject.fields['text']}")
            self._needs_incident(inject)
        else:
            self._needs_incident(inject)

    def _needs_incident(self, inject: Inject) -> None:
        """Messages, joiners and notes go to the exercise incident; before one
        is declared they wait for it."""
        incident = self._incident()
        if incident is None:
            self._held.append(inject)
            return
        self._into_incident(inject, incident)

    def _retry_held(self) -> None:
        if not self._held:
            return
        incident = self._incident()
        if incident is None:
            return
        held, self._held = self._held, []
        self._due = self.clock.now()
        for inject in held:
            try:
                self._into_incident(inject, incident)
            except DomainError as exc:
                when = offset_text(inject.at)
                log.warning("exercise %s at %s not applied: %s", inject.kind, when,
                            exc)  # fmt: skip
                self._notice(f"WARNING {when} {inject.describe()}: not applied ({exc})")

    def _into_incident(self, inject: Inject, incident: Incident) -> None:
        f = inject.fields
        if inject.kind == "message":
            remote = f"inject-{self.scenario.injects.index(inject)}"
            event = chat_model.received(
                platform="exercise", remote_id=remote, author=str(f["from"]),
                author_name=str(f["from"]), text=str(f["text"]),
                at=self._when(),
            )  # fmt: skip
            self.store.store_chat("exercise", [(incident.id, remote, event)], None)
        elif inject.kind == "join":
            person, role = str(f["person"]), str(f["role"])
            self.store.roster_command(
                incident.id,
                lambda r, now: roster_model.join(
                    r, person, role=role, at=min(self._when(), now), now=now,
                    actor=INJECT_ACTOR, policy=self._roles,
                ),
            ).result()  # fmt: skip
        elif inject.kind == "note":
            self.store.add_note(
                incident.id, f"Facilitator: {f['text']}", actor=INJECT_ACTOR,
                at=self._when(),
            ).result()  # fmt: skip

    def _alert(self, inject: Inject) -> None:
        f = inject.fields
        now = self.clock.now()
        firing = f["status"] == "firing"
        started = self.clock.start + inject.at
        alert = {
            "status": f["status"],
            "labels": {"alertname": f["name"], "service": f["service"],
                       "severity": f["severity"], "exercise": EXERCISE},
            "annotations": {"summary": f.get("summary", f["name"])},
            "startsAt": utc_iso(started),
            "endsAt": "0001-01-01T00:00:00Z" if firing else utc_iso(now),
            "generatorURL": "",
            "fingerprint": f"exercise-{f['name']}-{f['service']}",
        }  # fmt: skip
        body = {
            "receiver": "exercise", "status": f["status"], "alerts": [alert],
            "groupLabels": {"service": f["service"]},
            "commonLabels": alert["labels"], "commonAnnotations": {},
            "externalURL": "exercise:", "version": "4",
            "groupKey": f'{{}}:{{service="{f["service"]}"}}',
            "truncatedAlerts": 0,
        }  # fmt: skip
        result = self.store.receive_alerts(
            json.dumps(body), source="exercise", received_at=now
        )
        if result.errors:
            raise DomainError("; ".join(result.errors))

    # --- the reference response (autopilot) ------------------------------------

    def _respond(self, step: Inject) -> None:
        f = step.fields
        if step.kind == "declare":
            self._declare(step)
            return
        incident = self._incident()
        if incident is None:
            raise DomainError("no exercise incident has been declared")
        if step.kind == "status":
            self.store.change_status(
                incident.id, f["to"], actor=AUTOPILOT_ACTOR, at=self._when()
            ).result()
        elif step.kind in ("request", "join"):
            self._roster(incident, step.kind, str(f["person"]), str(f["role"]))
        elif step.kind == "note":
            self.store.add_note(
                incident.id, str(f["text"]), actor=AUTOPILOT_ACTOR, at=self._when()
            ).result()
        elif step.kind == "post":
            self._post(incident, str(f["text"]))
        elif step.kind == "update":
            if self._send_update is None:
                raise DomainError("updates cannot be sent from here")
            self._send_update(
                self.store, incident, str(f["audience"]), str(f["text"]), self._when()
            )

    def _declare(self, step: Inject) -> None:
        """Declared when due; detected when the first alert fired before it,
        else at the declaration (the team noticed it themselves)."""
        f, declared = step.fields, self._when()
        fired = [
            self.clock.start + i.at
            for i in self.scenario.injects
            if i.kind == "alert" and i.fields["status"] == "firing" and i.at <= step.at
        ]
        self._incident_id = self.store.declare(
            title=str(f["title"]), severity=int(f["severity"]),
            services=list(f["services"]), detected_at=min([*fired, declared]),
            declared_at=declared, actor=AUTOPILOT_ACTOR,
            known_services=self._known, exercise=True,
        ).result()  # fmt: skip

    def _roster(self, incident: Incident, kind: str, person: str, role: str) -> None:
        step = roster_model.request if kind == "request" else roster_model.join

        def move(r: roster_model.Roster, now: datetime) -> NewEvent:
            return step(r, person, role=role, at=min(self._when(), now), now=now,
                        actor=AUTOPILOT_ACTOR, policy=self._roles)  # fmt: skip

        self.store.roster_command(incident.id, move).result()

    def _post(self, incident: Incident, text: str) -> None:
        """Open the incident's channel (once) and post in it, through the outbox."""
        platforms = list(self.platforms)
        missing = [
            p for p in platforms if self.store.chat_channel(incident.id, p) is None
        ]
        if missing and not self._opened.issuperset(missing):
            self.store.open_chat(incident.id, missing, actor=AUTOPILOT_ACTOR).result()
            self._opened.update(missing)
        self.store.post_chat(
            incident.id, text, platforms, actor=AUTOPILOT_ACTOR
        ).result()

    def _when(self) -> datetime:
        """When the entry being applied was due (held ones: now)."""
        return min(self._due, self.clock.now())

    def _incident(self) -> Incident | None:
        """The exercise incident: the open one declared first (most severe on a
        tie), or the one the autopilot declared."""
        if self._incident_id is not None:
            try:
                return self.store.incident(self._incident_id)
            except DomainError:
                pass
        open_ = [i for i in self.store.incidents(include_closed=False) if i.is_open]
        if not open_:
            return None
        return min(open_, key=lambda i: (i.created_at, i.severity))
