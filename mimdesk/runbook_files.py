"""Runbook files: the DEMO ones shipped in resources/runbooks/ and the operator's
own, in the `runbooks` folder beside settings.toml.

A file that does not load is left out with a problem line (file, line, what is
wrong); the others still load.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Iterable
from pathlib import Path

from mimdesk.domain.runbooks import (
    Library,
    Runbook,
    RunbookError,
    locate,
    runbook_from_mapping,
)
from mimdesk.resources import resource

log = logging.getLogger(__name__)


def load_runbook(path: Path) -> tuple[Runbook | None, str]:
    """One runbook, or None and why (with the line where it can be found)."""
    try:
        text = path.read_text(encoding="utf-8")
        return runbook_from_mapping(tomllib.loads(text), str(path)), ""
    except RunbookError as exc:
        line = locate(text, exc)
        problem = f"{path}:{line}: {exc}" if line else f"{path}: {exc}"
    except tomllib.TOMLDecodeError as exc:
        problem = f"{path}: {exc}"
    except (OSError, UnicodeDecodeError) as exc:
        problem = f"{path}: cannot read it ({exc})"
    log.warning("runbook left out: %s", problem)
    return None, problem


def load_folders(folders: Iterable[Path]) -> Library:
    """Every *.toml in the folders, in name order; an id seen again is refused."""
    found: list[Runbook] = []
    problems: list[str] = []
    for folder in folders:
        for path in sorted(folder.glob("*.toml")) if folder.is_dir() else ():
            runbook, problem = load_runbook(path)
            if runbook is None:
                problems.append(problem)
            elif any(r.id == runbook.id for r in found):
                problems.append(f"{path}: runbook id {runbook.id!r} is used twice")
            else:
                found.append(runbook)
    return Library(tuple(found), tuple(problems))


def user_folder(config_file: Path) -> Path:
    # FIXME(runbooks): a `runbooks = "folder"` setting would let a team share one
    # folder; for now it is the folder beside settings.toml.
    return config_file.parent / "runbooks"


def library(config_file: Path, *, demo: bool) -> Library:
    """The operator's runbooks, and with --demo the DEMO ones first."""
    folders = [resource("runbooks")] if demo else []
    return load_folders([*folders, user_folder(config_file)])
