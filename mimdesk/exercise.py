"""Exercise runs: finding scenario files and keeping each run in its own folder.

A run folder (under <data folder>/exercises/) holds the run's own store, a
`run.json` that says which scenario was played, from when, how fast and when
it stopped, a copy of the scenario as it was played (`scenario.toml`), and
the debrief written at its end. Real incidents never share a store with one.
A debrief is scored against that copy and that stop, so writing it again
gives the same score whatever became of the scenario's file.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from mimdesk.domain.scenario import Scenario, ScenarioError, parse
from mimdesk.domain.times import parse_utc, utc_iso
from mimdesk.resources import resource

RUN_FILE = "run.json"
SCENARIO_COPY = "scenario.toml"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def scenario_dir() -> Path:
    return resource("scenarios")


def shipped() -> list[Path]:
    """The scenarios that ship with MIMDesk, by name."""
    return sorted(scenario_dir().glob("*.toml"))


def find_scenario(name_or_path: str) -> Path:
    """A scenario by its shipped name ("ledger-payments") or a file path."""
    path = Path(name_or_path).expanduser()
    if path.suffix == ".toml" or path.exists():
        if not path.is_file():
            raise ScenarioError(f"{path}: no such scenario file")
        return path
    if not _NAME.match(name_or_path):
        raise ScenarioError(f"{name_or_path!r} is not a scenario name")
    found = scenario_dir() / f"{name_or_path}.toml"
    if not found.is_file():
        names = ", ".join(p.stem for p in shipped()) or "none"
        raise ScenarioError(
            f"no scenario named {name_or_path!r}; the shipped ones are: {names}"
        )
    return found


def load_scenario(path: Path, name: str | None = None) -> Scenario:
    """Parse a scenario file (named `name`, else by its file's stem); errors
    say `file:line: what is wrong`."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: cannot read it: {exc}") from exc
    try:
        return parse(text, name or path.stem)
    except ScenarioError as exc:
        where = f"{path}:{exc.line}" if exc.line else str(path)
        raise ScenarioError(f"{where}: {exc}", exc.line) from None


@dataclass(frozen=True)
class Run:
    """One playing of a scenario: where it is kept and how it was started."""

    folder: Path
    scenario_file: Path
    scenario: Scenario
    started_at: datetime  # T+0: the real time it started, and scenario time
    speed: float
    autopilot: bool
    stopped: timedelta | None = None  # the scenario offset it stopped at

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def ends_at(self) -> datetime:
        """When the scenario's time is up (scenario time)."""
        return self.started_at + self.scenario.length

    def scenario_time(self, real_now: datetime) -> datetime:
        """The run's clock as it stands at `real_now`: frozen at its stop once
        it has stopped, never past the scenario's end."""
        if self.stopped is not None:
            return self.started_at + self.stopped
        played = (real_now - self.started_at) * self.speed
        return min(self.started_at + max(played, timedelta(0)), self.ends_at)

    def to_json(self) -> dict[str, object]:
        data: dict[str, object] = {
            "scenario": self.scenario.name,
            "scenario_file": str(self.scenario_file),
            "scenario_copy": SCENARIO_COPY,
            "title": self.scenario.title,
            "started_at": utc_iso(self.started_at),
            "speed": self.speed,
            "autopilot": self.autopilot,
        }
        if self.stopped is not None:
            data["stopped_offset_s"] = self.stopped.total_seconds()
            data["stopped_at"] = utc_iso(self.started_at + self.stopped)
        return data


def new_run(
    runs_dir: Path,
    scenario_file: Path,
    scenario: Scenario,
    *,
    started_at: datetime,
    speed: float,
    autopilot: bool,
) -> Run:
    """Make a fresh folder for a run and record how it starts."""
    stamp = started_at.strftime("%Y%m%d-%H%M%S")
    folder = runs_dir / f"{stamp}-{scenario.name}"
    n = 1
    while folder.exists():
        n += 1
        folder = runs_dir / f"{stamp}-{scenario.name}-{n}"
    folder.mkdir(parents=True)
    # The scenario as played: later edits to its file change no past run.
    (folder / SCENARIO_COPY).write_text(scenario.source, encoding="utf-8")
    run = Run(folder, scenario_file.resolve(), scenario, started_at, speed, autopilot)
    _write(run)
    return run


def _write(run: Run) -> None:
    """Replace run.json whole (never a half-written one)."""
    path = run.folder / RUN_FILE
    part = path.with_suffix(".json.part")
    part.write_text(json.dumps(run.to_json(), indent=2) + "\n", encoding="utf-8")
    os.replace(part, path)


def record_stop(run: Run, offset: timedelta) -> Run:
    """Record the scenario offset the run stopped at (within its length). The
    first stop recorded is kept: a debrief written later scores to it."""
    if run.stopped is not None:
        return run
    stopped = replace(run, stopped=min(max(offset, timedelta(0)), run.scenario.length))
    _write(stopped)
    return stopped


def open_run(folder: Path) -> Run:
    """A run recorded earlier, with the scenario as it was played (its copy;
    runs from before copies were kept read the scenario file again)."""
    try:
        data = json.loads((folder / RUN_FILE).read_text(encoding="utf-8"))
        scenario_file = Path(data["scenario_file"])
        started_at = parse_utc(data["started_at"])
        speed, autopilot = float(data["speed"]), bool(data["autopilot"])
        stopped = data.get("stopped_offset_s")
        stopped_at = None if stopped is None else timedelta(seconds=float(stopped))
        name = str(data["scenario"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ScenarioError(f"{folder}: not an exercise run ({exc})") from exc
    copy = folder / SCENARIO_COPY
    if copy.is_file():
        scenario = load_scenario(copy, name)
    else:
        if not scenario_file.is_file():
            scenario_file = find_scenario(name)
        scenario = load_scenario(scenario_file)
    return Run(
        folder, scenario_file, scenario, started_at, speed, autopilot, stopped_at
    )


def runs(runs_dir: Path) -> list[Path]:
    """Run folders, newest last."""
    if not runs_dir.is_dir():
        return []
    return sorted(p for p in runs_dir.iterdir() if (p / RUN_FILE).is_file())


def find_run(runs_dir: Path, name: str | None) -> Path:
    """A run by folder name or path; the newest one when `name` is None."""
    if name is None:
        found = runs(runs_dir)
        if not found:
            raise ScenarioError(
                "no exercise has been run yet; start one with "
                "`mimdesk exercise run SCENARIO`"
            )
        return found[-1]
    path = Path(name).expanduser()
    if not (path / RUN_FILE).is_file():
        path = runs_dir / name
    if not (path / RUN_FILE).is_file():
        raise ScenarioError(f"no exercise run {name!r} in {runs_dir}")
    return path
