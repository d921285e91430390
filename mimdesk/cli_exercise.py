"""`mimdesk exercise`: rehearse a major incident from a scenario file.

    mimdesk exercise list                    (scenarios and past runs)
    mimdesk exercise check FILE              (read a scenario, say what is wrong)
    mimdesk exercise run SCENARIO [--speed N] [--autopilot] [--headless]
    mimdesk exercise debrief [RUN] [--format md|html|pdf] [--output FILE]

Each run keeps its own store under <data folder>/exercises/; read it with the
other commands and `--exercise RUN` (`mimdesk --exercise RUN incident list`).
"""

from __future__ import annotations

import argparse
import math
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mimdesk.domain.errors import DomainError
from mimdesk.domain.scenario import ScenarioError, offset_text

if TYPE_CHECKING:
    from mimdesk.cli import Context
    from mimdesk.domain.directory import Directory
    from mimdesk.exercise import Run
    from mimdesk.store.store import Store

FORMATS = ("md", "html", "pdf")
MIN_SPEED, MAX_SPEED = 0.1, 3600.0


def _speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or not MIN_SPEED <= value <= MAX_SPEED:
        raise argparse.ArgumentTypeError(
            f"{text} is out of range: from {MIN_SPEED:g} (ten times slower than "
            f"real time) to {MAX_SPEED:g} (an hour a second); 1 is real time"
        )
    return value


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register `exercise` and its verbs on the main parser."""
    ex = sub.add_parser(
        "exercise",
        parents=[common],
        help="rehearse a major incident from a scenario (EXERCISE, never real)",
        description="Play a scenario's injects (degraded services, alerts, "
        "messages, late joiners, a chat outage) against the console, in real "
        "time or faster, then score the team in a debrief. Exercise incidents "
        "live in their own store and nothing reaches real audiences unless the "
        "scenario allows it.",
    )
    verbs = ex.add_subparsers(dest="verb", metavar="VERB", required=True)
    p = verbs.add_parser("list", parents=[common], help="scenarios and past runs")
    p.set_defaults(func=cmd_list)
    p = verbs.add_parser("check", parents=[common], help="check a scenario file")
    p.add_argument("scenario", help="a shipped scenario's name or a .toml file")
    p.set_defaults(func=cmd_check)
    p = verbs.add_parser(
        "run",
        parents=[common],
        help="play a scenario in the console (or --headless)",
        description="Opens the console on a new exercise store, marked EXERCISE "
        "on every view, and plays the scenario. The debrief is written beside "
        "the run's store when the scenario's time is up (or Exercise > End).",
    )
    p.add_argument("scenario", help="a shipped scenario's name or a .toml file")
    p.add_argument(
        "--speed", type=_speed, default=1.0,
        help="how many times faster than real time, 0.1 to 3600 (default 1; "
        "60: an hour a minute)",
    )  # fmt: skip
    p.add_argument(
        "--autopilot", action="store_true",
        help="also play the scenario's reference response (a dry run or a demo)",
    )  # fmt: skip
    p.add_argument(
        "--wall", action="store_true",
        help="also open a wallboard window on the exercise",
    )  # fmt: skip
    p.add_argument(
        "--headless", action="store_true",
        help="no window: print the injects and write the debrief",
    )  # fmt: skip
    p.set_defaults(func=cmd_run)
    p = verbs.add_parser("debrief", parents=[common], help="write a run's debrief")
    p.add_argument("run", nargs="?", help="a run folder's name (default: the last)")
    p.add_argument("--format", choices=FORMATS, default="pdf")
    p.add_argument("--output", metavar="FILE", help="default: in the run's folder")
    p.set_defaults(func=cmd_debrief)


def cmd_list(ctx: Context, args: argparse.Namespace) -> int:
    from mimdesk.exercise import load_scenario, open_run, runs, shipped
    from mimdesk.paths import exercises_dir

    print("Scenarios (mimdesk exercise run NAME):")
    for path in shipped():
        try:
            s = load_scenario(path)
            print(f"  {path.stem:<24} {offset_text(s.length):>8}  {s.title}")
        except ScenarioError as exc:
            print(f"  {path.stem:<24} unusable: {exc}")
    found = runs(exercises_dir(ctx.base_paths))
    print("Runs (mimdesk exercise debrief RUN; mimdesk --exercise RUN incident list):")
    for folder in found:
        try:
            run = open_run(folder)
            how = "autopilot" if run.autopilot else "team"
            ended = (
                f"stopped at {offset_text(run.stopped)}"
                if run.stopped is not None
                else "stop not recorded"
            )
            print(f"  {folder.name:<40} x{run.speed:g} {how}, {ended}")
        except ScenarioError as exc:
            print(f"  {folder.name:<40} unreadable: {exc}")
    if not found:
        print("  none yet")
    return 0


def cmd_check(ctx: Context, args: argparse.Namespace) -> int:
    """0 when the scenario can be played as written; 1 when it names what the
    run would not know; 2 when the file itself has a mistake."""
    from mimdesk.exercise import find_scenario, load_scenario
    from mimdesk.exercise_app import names_missing
    from mimdesk.policy import load_policies

    path = find_scenario(args.scenario)
    scenario = load_scenario(path)
    if ctx.catalogue_problem:
        raise ScenarioError(
            f"the service catalogue did not load: {ctx.catalogue_problem}"
        )
    missing = names_missing(
        scenario, path, ctx.settings, ctx.catalogue, ctx.catalogue_path,
        _people(ctx), load_policies(ctx.settings, demo=True),
    )  # fmt: skip
    for problem in missing:
        print(problem)
    if missing:
        return 1
    print(
        f"{path}: {scenario.title}: {len(scenario.injects)} injects, "
        f"{len(scenario.response)} reference moves, {offset_text(scenario.length)}"
    )
    return 0


def _people(ctx: Context) -> Directory:
    """Exercises are played with the settings' people, else the DEMO ones."""
    from mimdesk.settings import people_directory

    directory, problem = people_directory(ctx.settings, demo=True)
    if problem:
        raise DomainError(problem)
    return directory


def cmd_run(ctx: Context, args: argparse.Namespace) -> int:
    from mimdesk.exercise_app import main

    return main(args, ctx.base_paths, ctx.settings)


def cmd_debrief(ctx: Context, args: argparse.Namespace) -> int:
    """Score a run against the scenario as it was played, up to where it
    stopped: writing it again gives the same debrief."""
    from mimdesk.exercise import find_run, open_run
    from mimdesk.paths import exercises_dir
    from mimdesk.store.db import StoreError
    from mimdesk.store.store import Store

    run = open_run(find_run(exercises_dir(ctx.base_paths), args.run))
    store_file = run.folder / "mimdesk.sqlite"
    if not store_file.is_file():
        raise DomainError(f"{run.folder} has no store: the run never started")
    try:
        store = Store(store_file, read_only=True)
        try:
            path = _debrief(ctx, args, run, store)
        finally:
            store.close()
    except (StoreError, sqlite3.Error) as exc:
        raise StoreError(_damaged(run, store_file, exc)) from exc
    print(path)  # last: the console reads the path from this line
    return 0


def _debrief(ctx: Context, args: argparse.Namespace, run: Run, store: Store) -> Path:
    from mimdesk.clock import ExerciseClock
    from mimdesk.exercise_app import Setup, write_debrief
    from mimdesk.policy import load_policies
    from mimdesk.sync.exercise import ExerciseChat, Player

    end = run.scenario_time(datetime.now(UTC))
    if run.stopped is None:
        # FIXME(exercise): a run whose process was killed records no stop; it
        # is scored to its last recorded change. A periodic "played to" mark
        # in run.json would bound it better.
        latest = max((i.updated_at for i in store.incidents()), default=None)
        end = min(end, max(latest or run.started_at, run.started_at))
        at = offset_text(end - run.started_at)
        print(
            f"warning: run {run.name} has no recorded stop (it did not end "
            f"normally, or is still playing); scored at {at}",
            file=sys.stderr,
        )
    clock = ExerciseClock(end, 1.0)
    setup = Setup(
        run, clock, store, ctx.settings, ctx.catalogue, _people(ctx),
        load_policies(ctx.settings, demo=True),
        ExerciseChat(run.scenario, clock), Player(run.scenario, clock, store),
    )  # fmt: skip
    output = Path(args.output) if args.output else None
    return write_debrief(setup, args.format, output, show_score=True, at=end)


def _damaged(run: Run, store_file: Path, exc: Exception) -> str:
    return (
        f"the store of exercise run {run.name} ({store_file}) cannot be read: "
        f"{exc}. This run cannot be debriefed; its debrief.md/pdf, if written "
        "when it ended, still stand. Other runs and real incidents keep stores "
        "of their own and are unaffected."
    )
