"""Composition for `mimdesk exercise run`: a run folder with its own store and
scenario clock, the scenario's health source, simulated chat, the player, and
either the console (marked EXERCISE) or a headless run that prints the injects.
The debrief is written when the scenario's time is up, or of what was played
when the run is stopped early; the stop is recorded with the run."""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from mimdesk.clock import ExerciseClock
from mimdesk.domain.catalogue import Catalogue
from mimdesk.domain.directory import Directory
from mimdesk.domain.errors import DomainError
from mimdesk.domain.incident import Incident
from mimdesk.domain.roster import PARTICIPANT
from mimdesk.domain.scenario import (
    Known,
    Scenario,
    ScenarioError,
    offset_text,
    problems_with,
)
from mimdesk.exercise import Run, find_scenario, load_scenario, new_run, record_stop
from mimdesk.paths import Paths, exercises_dir, for_exercise
from mimdesk.policy import Policies, load_policies
from mimdesk.resources import resource
from mimdesk.settings import (
    Settings,
    load_catalogue,
    people_directory,
    resolve_zone,
    stakeholder_audiences,
)
from mimdesk.store.store import Store
from mimdesk.sync.exercise import (
    AUTOPILOT_ACTOR,
    ExerciseChat,
    Player,
    SendUpdate,
    health_source,
)

if TYPE_CHECKING:
    from mimdesk.sync.chat_setup import ChatSetup
    from mimdesk.ui.console import ConsoleContext
    from mimdesk.ui.wallboard import WallBoard

log = logging.getLogger(__name__)

PLATFORMS = ("matrix", "slack", "teams", "email")
SENDER_STOP_S = 10.0
EXIT_INTERRUPTED = 130  # stopped with Ctrl+C, as a shell reports SIGINT


@dataclass
class Setup:
    """Everything an exercise run is played with."""

    run: Run
    clock: ExerciseClock
    store: Store
    settings: Settings
    catalogue: Catalogue
    directory: Directory
    policies: Policies
    chat: ExerciseChat
    player: Player
    catalogue_file: Path | None = None


def prepare(
    args: argparse.Namespace, paths: Paths, settings: Settings, catalogue_file: Path
) -> Setup:
    """Read and check the scenario, make the run folder and its store, and
    the player (not started). ScenarioError says what is wrong."""
    scenario_file = find_scenario(args.scenario)
    scenario = load_scenario(scenario_file)
    catalogue, problem = load_catalogue(catalogue_file)
    if problem:
        raise ScenarioError(f"the service catalogue did not load: {problem}")
    directory, problem = people_directory(settings, demo=True)
    if problem:
        raise ScenarioError(f"the people directory did not load: {problem}")
    policies = load_policies(settings, demo=True)
    missing = names_missing(
        scenario, scenario_file, settings, catalogue, catalogue_file, directory,
        policies,
    )  # fmt: skip
    if missing:
        raise ScenarioError("\n".join(missing))
    start = datetime.now(UTC).replace(microsecond=0)
    clock = ExerciseClock(start, args.speed)
    run = new_run(
        exercises_dir(paths), scenario_file, scenario,
        started_at=start, speed=args.speed, autopilot=args.autopilot,
    )  # fmt: skip
    store = Store(run.folder / "mimdesk.sqlite", clock=clock.now)
    chat = ExerciseChat(scenario, clock)
    player = Player(
        scenario, clock, store, autopilot=args.autopilot,
        send_update=update_sender(settings, policies),
        known_services=sorted(catalogue.ids), roles=policies.roles,
        on_finished=partial(_record_stop, run),
    )  # fmt: skip
    log.info(
        "exercise %s: %s at x%g in %s", run.name, scenario.title, args.speed, run.folder
    )
    return Setup(
        run, clock, store, settings, catalogue, directory, policies, chat, player,
        catalogue_file,
    )  # fmt: skip


def names_missing(
    scenario: Scenario,
    scenario_file: Path,
    settings: Settings,
    catalogue: Catalogue,
    catalogue_file: Path,
    directory: Directory,
    policies: Policies,
) -> list[str]:
    """`file:line: ...` for each service, person, audience or role the
    scenario names that the run would not know (and so would not play)."""
    audiences, problem = stakeholder_audiences(settings, demo=True)
    if problem:
        raise ScenarioError(f"the stakeholder audiences did not load: {problem}")
    people_file = settings.directory or resource("directory", "sample.toml")
    audiences_file = settings.audiences or resource("audiences", "sample.toml")
    roles = frozenset(r.id for r in policies.roles.roles) | {PARTICIPANT}
    known = Known(
        services=frozenset(catalogue.ids),
        people=frozenset(p.id for p in directory.people),
        audiences=frozenset(a.id for a in audiences.audiences),
        roles=roles,
        sources={
            "services": f"the service catalogue ({catalogue_file})",
            "people": f"the people directory ({people_file})",
            "audiences": f"the audiences file ({audiences_file})",
            "roles": f"the role policy (roles: {', '.join(sorted(roles))})",
        },
    )
    return [p.located(scenario_file) for p in problems_with(scenario, known)]


def _record_stop(run: Run, offset: timedelta) -> None:
    record_stop(run, offset)
    log.info("exercise %s stopped at %s", run.name, offset_text(offset))


def update_sender(settings: Settings, policies: Policies) -> SendUpdate:
    """How the autopilot sends an update: rendered for the audience and queued
    through the outbox, as the console's composer does, and recorded at the
    scenario time it was due (not when the store got to it: at high speed
    that is minutes of scenario later)."""

    def send(
        store: Store, incident: Incident, audience_id: str, text: str, at: datetime
    ) -> None:
        from mimdesk.updates import context_for, deliveries, render_all, update_type_for

        audiences, problem = stakeholder_audiences(settings, demo=True)
        if problem:
            raise DomainError(problem)
        audience = audiences.get(audience_id)
        update_type = update_type_for(incident)
        context = context_for(
            incident, update_type=update_type, message=text, now=at,
            zone=resolve_zone(settings.timezone), severity=settings.severity,
            next_update_in=policies.targets.cadence.get(incident.severity),
            impact=None, operator=AUTOPILOT_ACTOR,
        )  # fmt: skip
        folders = [Path(audiences.templates)] if audiences.templates else []
        rendered = render_all([audience], update_type, context, folders)
        store.send_update(
            incident.id, update_type=update_type,
            copies=[r.copy() for r in rendered], deliveries=deliveries(rendered),
            actor=AUTOPILOT_ACTOR, at=at,
        ).result()  # fmt: skip

    return send


def chat_setup(setup: Setup) -> ChatSetup:
    """Every platform simulated, so nothing reaches a real audience; or, when
    the scenario allows real traffic, the configured ones, marked EXERCISE."""
    from mimdesk.sync.chat_setup import ChatSetup
    from mimdesk.sync.chat_setup import chat_setup as real_setup
    from mimdesk.sync.exercise import Marked

    if setup.run.scenario.allow_real_traffic:
        real = real_setup(setup.settings.chat)
        real.factories = {
            name: partial(Marked, factory) for name, factory in real.factories.items()
        }
        return real
    return ChatSetup(
        factories={name: partial(setup.chat.platform, name) for name in PLATFORMS},
        default_platforms=setup.settings.chat.platforms or ("matrix",),
    )


def write_debrief(
    setup: Setup,
    form: str = "pdf",
    output: Path | None = None,
    *,
    show_score: bool = False,
    at: datetime | None = None,
) -> Path:
    """The scored debrief of the run (see mimdesk.debrief), beside its store;
    with a PDF, the Markdown too. `show_score` prints the score table. Scored
    at `at` (scenario time), by default where the run stopped."""
    from mimdesk.debrief import debrief_data, print_score
    from mimdesk.debrief import write_debrief as write

    data = debrief_data(
        setup.run, setup.store, catalogue=setup.catalogue,
        directory=setup.directory, scale=setup.settings.severity,
        targets=setup.policies.targets, zone=resolve_zone(setup.settings.timezone),
        now=at or scored_at(setup),
    )  # fmt: skip
    path = write(data, form, output)
    if form == "pdf":
        write(data, "md", None)
    if show_score:
        print_score(data)
    return path


def scored_at(setup: Setup) -> datetime:
    """What a debrief is scored at: where this process's player stopped, else
    the stop recorded with the run, else the run's clock (within its length)."""
    if setup.player.ended is not None:
        return setup.run.started_at + setup.player.ended
    return setup.run.scenario_time(datetime.now(UTC))


def debrief_apart(setup: Setup, config_file: Path) -> Path:
    """Write the debrief in a separate `mimdesk exercise debrief` process: the
    console's GUI thread stays free, and Qt's PDF writer runs on the main
    thread of a process of its own."""
    command = (
        [sys.executable]
        if getattr(sys, "frozen", False)
        else [sys.executable, "-m", "mimdesk"]
    )
    command += ["--data-dir", str(setup.run.folder.parent.parent),
                "--config", str(config_file)]  # fmt: skip
    if setup.catalogue_file is not None:
        command += ["--catalogue", str(setup.catalogue_file)]
    command += ["exercise", "debrief", str(setup.run.folder), "--format", "pdf"]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=300, env=env, check=False
    )
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or ["no reason given"])[-1]
        raise RuntimeError(f"`mimdesk exercise debrief` failed: {why}")
    return Path(done.stdout.strip().splitlines()[-1])


# --- headless -------------------------------------------------------------------


def run_headless(setup: Setup, out: Callable[[str], None] = print) -> int:
    """Play the scenario with no window: injects (and the autopilot's moves)
    printed as they happen, the outbox sent to the simulated platforms, and
    the debrief written at the end."""
    from mimdesk.sync.chat_status import ChatHealth
    from mimdesk.sync.outbox_sender import OutboxSender

    chat = chat_setup(setup)
    sender = OutboxSender(
        setup.store, chat.factories, ChatHealth(), clock=setup.clock.now
    )
    setup.player._notice = lambda text: out(f"  {text}")
    s = setup.run.scenario
    autopilot = "on" if setup.run.autopilot else "off"
    out(f"EXERCISE {s.title} ({setup.run.name}), {offset_text(s.length)} "
        f"at x{setup.run.speed:g}; autopilot {autopilot}")  # fmt: skip
    sender.start()
    setup.player.start()
    shown, interrupted = 0, False
    try:
        while not setup.player.finished.wait(0.2):
            shown = _show_played(setup, shown, out)
    except KeyboardInterrupt:
        interrupted = True
        setup.player.stop()
    finally:
        _show_played(setup, shown, out)
        _drain(setup.store, time.monotonic() + 5.0)
        sender.stop(SENDER_STOP_S)
    if interrupted:
        ended = offset_text(setup.player.ended or timedelta(0))
        out(f"Stopped at {ended}; the debrief covers what was played.")
    path = write_debrief(setup, show_score=True)
    out(f"Debrief: {path}")
    out(f"Store:   {setup.store.path}")
    out(f"         (read it with: mimdesk --exercise {setup.run.name} incident list)")
    return EXIT_INTERRUPTED if interrupted else 0


def _show_played(setup: Setup, shown: int, out: Callable[[str], None]) -> int:
    played = list(setup.player.played)
    for at, text in played[shown:]:
        out(f"{offset_text(at):>9}  {text}")
    return len(played)


def _drain(store: Store, deadline: float) -> None:
    """Give the outbox a moment to send what the last moves queued."""
    while time.monotonic() < deadline and store.outbox_open():
        time.sleep(0.1)


# --- with the console -------------------------------------------------------------


def console_context(
    setup: Setup, paths: Paths, banners: list[tuple[str, str]]
) -> tuple[ConsoleContext, list[Callable[[], None]]]:
    """The console's context on the run's store, and what stops what it
    started (call them in reverse once the window is closed). The player is
    not started yet."""
    from mimdesk.app import start_chat, start_health
    from mimdesk.runbook_files import library
    from mimdesk.ui.console import ConsoleContext
    from mimdesk.ui.exercise_bar import ExerciseMode

    stops: list[Callable[[], None]] = [setup.player.stop]
    source = health_source(setup.run.scenario, setup.clock)
    feed, stop_health = start_health(
        setup.settings, setup.catalogue, for_exercise(paths, setup.run.folder),
        demo=False, notices=banners,
        exercise=(source, lambda: setup.clock.now().timestamp(), setup.run.speed),
    )  # fmt: skip
    stops.append(stop_health)
    chat = start_chat(
        setup.settings, setup.store, setup.directory, demo=False,
        notices=banners, setup=chat_setup(setup), clock=setup.clock.now,
    )  # fmt: skip
    stops.append(chat.stop)
    mode = ExerciseMode(
        setup.run, setup.clock, setup.player, setup.chat,
        write_debrief=partial(debrief_apart, setup, paths.config_file),
        real_traffic=setup.run.scenario.allow_real_traffic,
    )  # fmt: skip
    setup.player._notice = mode.notices.append
    p = setup.policies
    ctx = ConsoleContext(
        setup.store, setup.settings, setup.catalogue, setup.clock, False,
        banners, setup.directory, roles=p.roles, targets=p.targets,
        regimes=p.regimes, health=feed, chat=chat.feed, exercise=mode,
        # The shipped runbooks, as on the sample data; their checks ask the
        # scenario's signals.
        runbooks=library(paths.config_file, demo=True),
        check_source=partial(health_source, setup.run.scenario, setup.clock),
    )  # fmt: skip
    return ctx, stops


def wallboard(setup: Setup, ctx: ConsoleContext) -> WallBoard:
    """A wallboard window on the same run: its health, its incidents, marked
    EXERCISE; windowed, for a second screen or beside the console."""
    from mimdesk.store.store import Store as ReadStore
    from mimdesk.ui.incident_feed import IncidentFeed, WallPolicies
    from mimdesk.ui.theme import THEMES
    from mimdesk.ui.wallboard import WallBoard

    assert ctx.health is not None
    p, settings = setup.policies, setup.settings
    policies = WallPolicies(
        scale=settings.severity, directory=setup.directory, roles=p.roles,
        targets=p.targets, regimes=tuple(p.regimes),
    )  # fmt: skip
    incidents = IncidentFeed(ReadStore(setup.store.path, read_only=True), policies)
    return WallBoard(
        ctx.health, THEMES.get(settings.theme, THEMES["dark"]),
        resolve_zone(settings.timezone), setup.catalogue.wall, setup.clock,
        incidents=incidents, exercise=setup.run.scenario.title,
    )  # fmt: skip


def run_console(setup: Setup, args: argparse.Namespace, paths: Paths) -> int:
    """The console on the run's store, marked EXERCISE on every view (and,
    with --wall, a wallboard window too)."""
    from mimdesk.ui.main import run_console as show

    stops: list[Callable[[], None]] = []
    try:
        ctx, stops = console_context(setup, paths, [])
        setup.player.start()
        if args.wall:
            from mimdesk.ui.qapp import application

            application(setup.settings.theme)
            board = wallboard(setup, ctx)
            board.resize(1280, 720)
            board.show()
        return show(
            ctx, theme=setup.settings.theme, screenshot=args.screenshot,
            size=getattr(args, "size", None),
        )  # fmt: skip
    finally:
        for stop in reversed(stops):
            try:
                stop()
            except Exception:
                log.exception("stopping %s failed", stop)
        setup.store.close()


def main(args: argparse.Namespace, paths: Paths, settings: Settings) -> int:
    """`mimdesk exercise run`: 0 when played, 2 when the scenario is unusable."""
    from mimdesk.cli import catalogue_path

    try:
        setup = prepare(args, paths, settings, catalogue_path(args, settings))
    except (ScenarioError, OSError) as exc:
        print(f"mimdesk: {exc}", file=sys.stderr)
        return 2
    if args.headless:
        try:
            return run_headless(setup)
        finally:
            setup.store.close()
    return run_console(setup, args, paths)
