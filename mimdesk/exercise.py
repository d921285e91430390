"""Exercise runs: finding scenario files and keeping each run in its own folder.

A run folder (under <data folder>/exercises/) holds the run's own store, a
`run.json` that says which scenario was played, from when and how fast, and
the debrief written at its end. Real incidents never share a store with one.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from mimdesk.domain.scenario import Scenario, ScenarioError, parse
from mimdesk.domain.times import parse_utc, utc_iso
from mimdesk.resources import resource

RUN_FILE = "run.json"
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


def load_scenario(path: Path) -> Scenario:
    """Parse a scenario file; errors say `file:line: what is wrong`."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: cannot read it: {exc}") from exc
    try:
        return parse(text, path.stem)
    except ScenarioError as exc:
        where = f"{path}:{exc.line}" if exc.line else str(path)
        raise ScenarioError(f"{where}: {exc}", exc.line) from None


@dataclass(frozen=True)
class Run:
    """One playing of a scenario: where it is kept and how it was started."""

    folder: Path
    scenario_file: Path
    scenario: Scenario
    started_at: datetime  # T+0, in scenario time
    speed: float
    autopilot: bool

    @property
    def name(self) -> str:
        return self.folder.name

    def to_json(self) -> dict[str, object]:
        return {
            "scenario": self.scenario.name,
            "scenario_file": str(self.scenario_file),
            "title": self.scenario.title,
            "started_at": utc_iso(self.started_at),
            "speed": self.speed,
            "autopilot": self.autopilot,
        }


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
    run = Run(folder, scenario_file, scenario, started_at, speed, autopilot)
    (folder / RUN_FILE).write_text(
        json.dumps(run.to_json(), indent=2) + "\n", encoding="utf-8"
    )
    return run


def open_run(folder: Path) -> Run:
    """A run recorded earlier; its scenario is read again from where it was."""
    try:
        data = json.loads((folder / RUN_FILE).read_text(encoding="utf-8"))
        scenario_file = Path(data["scenario_file"])
        started_at = parse_utc(data["started_at"])
        speed, autopilot = float(data["speed"]), bool(data["autopilot"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ScenarioError(f"{folder}: not an exercise run ({exc})") from exc
    if not scenario_file.is_file():
        scenario_file = find_scenario(str(data["scenario"]))
    scenario = load_scenario(scenario_file)
    return Run(folder, scenario_file, scenario, started_at, speed, autopilot)


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
