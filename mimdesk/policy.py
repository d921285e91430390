"""Milestone targets and regulatory clocks from TOML files, read without ever failing.

A broken file gives a problem (file, line, what is wrong) and the built-in
defaults; a bad value gives a problem naming the file and the key, and that
severity or regime keeps its default. The bundled files are resources/policy/.
"""

from __future__ import annotations

import logging
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Generic, TypeVar

from mimdesk.domain.errors import DomainError
from mimdesk.domain.lifecycle import parse_status
from mimdesk.domain.regulatory import (
    PRESETS,
    Anchor,
    Deadline,
    Period,
    Regime,
    ReportRule,
    ReportSent,
    Start,
)
from mimdesk.domain.roster import DEFAULT_REQUIRED, DEFAULT_ROLES, Role, RolePolicy
from mimdesk.domain.severity import LEVELS
from mimdesk.domain.targets import (
    DEFAULT_POLICY,
    FIRST_UPDATE,
    Point,
    SeverityTargets,
    Target,
    TargetPolicy,
)
from mimdesk.resources import resource
from mimdesk.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")

_PERIOD = re.compile(r"\s*(?:\d+\s*[a-z]+\s*)+", re.IGNORECASE)
_PART = re.compile(r"(\d+)\s*([a-z]+)", re.IGNORECASE)
_UNITS = {
    **dict.fromkeys(("min", "mins", "minute", "minutes"), timedelta(minutes=1)),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), timedelta(hours=1)),
    **dict.fromkeys(("d", "day", "days"), timedelta(days=1)),
}
_MONTHS = ("month", "months")
_SENT = "sent:"


class PolicyError(ValueError):
    """A value in a policy file cannot be used; the message says which and why."""


@dataclass(frozen=True)
class Loaded(Generic[T]):
    """What a policy file gave, and the problems found reading it."""

    value: T
    problems: tuple[str, ...] = ()


def parse_period(text: object) -> Period:
    """'4 h', '72 h', '1 month', '1 h 30 min' as a Period."""
    if not isinstance(text, str) or not _PERIOD.fullmatch(text):
        raise PolicyError(f"{text!r} is not a duration like '15 min', '4 h', '1 month'")
    months, fixed = 0, timedelta(0)
    for count, unit in _PART.findall(text):
        key = unit.lower()
        if key in _MONTHS:
            months += int(count)
        elif key in _UNITS:
            fixed += int(count) * _UNITS[key]
        else:
            raise PolicyError(
                f"unknown unit {unit!r} in {text!r}; use min, h, d, month"
            )
    if not months and not fixed:
        raise PolicyError(f"{text!r} is no time at all")
    return Period(months, fixed)


def parse_duration(text: object) -> timedelta:
    """A fixed duration ('15 min', '4 h'); calendar months are refused."""
    period = parse_period(text)
    if period.months:
        raise PolicyError(f"{text!r}: months vary in length; give hours or days")
    return period.fixed


def parse_point(text: object) -> Point:
    """A milestone name: a status, or 'first_update'."""
    if text == FIRST_UPDATE:
        return FIRST_UPDATE
    try:
        return parse_status(str(text))
    except DomainError as exc:
        raise PolicyError(f"{exc}, or {FIRST_UPDATE}") from None


def parse_start(text: object) -> Start:
    """What starts a reporting clock: an anchor milestone or 'sent:<report id>'."""
    name = str(text).strip()
    if name.startswith(_SENT) and name[len(_SENT) :].strip():
        return ReportSent(name[len(_SENT) :].strip())
    try:
        return Anchor(name)
    except ValueError:
        known = ", ".join(a.value for a in Anchor)
        raise PolicyError(f"unknown start {text!r}; use {known} or sent:<id>") from None


def _field(table: dict[str, Any], key: str, parse: Callable[[object], T]) -> T:
    """`table[key]` read by `parse`, with the key named in any error."""
    if key not in table:
        raise PolicyError(f"{key} is missing")
    try:
        return parse(table[key])
    except PolicyError as exc:
        raise PolicyError(f"{key}: {exc}") from None


def _table(value: object, what: str, keys: set[str]) -> dict[str, Any]:
    """`value` as a table holding only `keys` (a misspelt key is an error)."""
    if not isinstance(value, dict):
        raise PolicyError(f"{what} must be a table, not {value!r}")
    unknown = sorted(set(value) - keys)
    if unknown:
        raise PolicyError(f"unknown key {', '.join(unknown)} in {what}")
    return value


def _text(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise PolicyError(f"must be non-empty text, not {value!r}")
    return value.strip()


def _read(path: Path) -> tuple[dict[str, Any] | None, str]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle), ""
    except FileNotFoundError:
        return None, f"{path}: file not found"
    except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError) as exc:
        return None, f"{path}: {exc}"


def _loaded(value: T, problems: list[str]) -> Loaded[T]:
    for problem in problems:
        log.warning("%s", problem)
    return Loaded(value, tuple(problems))


# --- targets ----------------------------------------------------------------------


def _target(value: object, index: int) -> Target:
    what = f"targets[{index}]"
    entry = _table(value, what, {"from", "to", "within"})
    try:
        start = _field(entry, "from", parse_point)
        end = _field(entry, "to", parse_point)
        within = _field(entry, "within", parse_duration)
    except PolicyError as exc:
        raise PolicyError(f"{what}.{exc}") from None
    if start == end:
        raise PolicyError(f"{what}: from and to are both {start}")
    return Target(start, end, within)


def _severity_targets(value: object) -> SeverityTargets:
    table = _table(value, "the severity", {"targets", "update_every"})
    entries = table.get("targets", [])
    if not isinstance(entries, list):
        raise PolicyError("targets must be a list of { from, to, within }")
    every = None
    if "update_every" in table:
        every = _field(table, "update_every", parse_duration)
    targets = tuple(_target(entry, i) for i, entry in enumerate(entries, 1))
    return SeverityTargets(targets, every)


def _warn_fraction(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PolicyError(f"must be a number between 0 and 1, not {value!r}")
    if not 0 <= value < 1:
        raise PolicyError(f"must be at least 0 and below 1, not {value!r}")
    return float(value)


def _severities(
    value: object, path: Path, problems: list[str]
) -> dict[int, SeverityTargets]:
    merged = dict(DEFAULT_POLICY.by_severity)
    if not isinstance(value, dict):
        problems.append(f"{path}: severity must be tables like [severity.1]")
        return merged
    for key, table in value.items():
        if not (key.isdigit() and int(key) in LEVELS):
            problems.append(f"{path}: severity.{key} ignored: use 1 to 4")
            continue
        try:
            merged[int(key)] = _severity_targets(table)
        except PolicyError as exc:
            problems.append(
                f"{path}: severity.{key}: {exc}; keeping the default SEV{key} targets"
            )
    return merged


def _targets_from(
    data: dict[str, Any], path: Path, problems: list[str]
) -> TargetPolicy:
    values: dict[str, Any] = {}
    for key, parse in (
        ("warn_fraction", _warn_fraction),
        ("warn_margin", parse_duration),
    ):
        if key in data:
            try:
                values[key] = _field(data, key, parse)
            except PolicyError as exc:
                problems.append(f"{path}: {exc}; using the default")
    severities = _severities(data.get("severity", {}), path, problems)
    known = {"warn_fraction", "warn_margin", "severity"}
    problems += [f"{path}: unknown key {k!r} ignored" for k in data if k not in known]
    return TargetPolicy(severities, **values)


def load_targets(path: Path | None = None) -> Loaded[TargetPolicy]:
    """Targets from `path` (default: the bundled file), merged over the defaults."""
    path = path or resource("policy", "targets.toml")
    data, problem = _read(path)
    if data is None:
        return _loaded(DEFAULT_POLICY, [f"{problem}; using the built-in targets"])
    problems: list[str] = []
    return _loaded(_targets_from(data, path, problems), problems)


# --- regulatory -------------------------------------------------------------------


def _deadline(value: object) -> Deadline:
    table = _table(value, "backstop", {"within", "after"})
    return Deadline(
        _field(table, "within", parse_period), _field(table, "after", parse_start)
    )


def _report(value: object, index: int) -> ReportRule:
    what = f"report[{index}]"
    keys = {"id", "title", "within", "after", "backstop"}
    table = _table(value, what, keys)
    try:
        deadline = Deadline(
            _field(table, "within", parse_period), _field(table, "after", parse_start)
        )
        backstop = _field(table, "backstop", _deadline) if "backstop" in table else None
        return ReportRule(
            _field(table, "id", _text),
            _field(table, "title", _text),
            deadline,
            backstop,
        )
    except PolicyError as exc:
        raise PolicyError(f"{what}.{exc}") from None


def _check_links(reports: tuple[ReportRule, ...]) -> None:
    """Report ids are unique and every 'sent:<id>' names another report."""
    ids = [r.id for r in reports]
    if len(set(ids)) != len(ids):
        raise PolicyError(f"report ids repeat: {', '.join(ids)}")
    for rule in reports:
        for deadline in filter(None, (rule.deadline, rule.backstop)):
            start = deadline.after
            if isinstance(start, ReportSent) and start.report not in set(ids) - {
                rule.id
            }:
                raise PolicyError(
                    f"{rule.id}: after sent:{start.report}, no such report"
                )


def _regime(key: str, value: object) -> Regime:
    table = _table(value, "the regime", {"title", "report"})
    entries = table.get("report")
    if not isinstance(entries, list) or not entries:
        raise PolicyError("needs at least one [[report]]")
    reports = tuple(_report(entry, i) for i, entry in enumerate(entries, 1))
    _check_links(reports)
    return Regime(key, _field(table, "title", _text), reports)


def load_regulatory(path: Path | None = None) -> Loaded[dict[str, Regime]]:
    """Regimes from `path` (default: the bundled presets), merged over the presets."""
    path = path or resource("policy", "regulatory.toml")
    data, problem = _read(path)
    if data is None:
        return _loaded(dict(PRESETS), [f"{problem}; using the built-in presets"])
    regimes, problems = dict(PRESETS), []
    for key, value in data.items():
        try:
            regimes[key] = _regime(key, value)
        except PolicyError as exc:
            kept = "keeping the preset" if key in PRESETS else "regime ignored"
            problems.append(f"{path}: {key}: {exc}; {kept}")
    return _loaded(regimes, problems)


# --- roles ------------------------------------------------------------------------


def _role(value: object, index: int) -> Role:
    entry = _table(value, f"role[{index}]", {"id", "label", "many"})
    role_id = _field(entry, "id", _text)
    if " " in role_id:
        raise PolicyError(f"role[{index}].id {role_id!r} must be one word")
    label = _text(entry.get("label", role_id))
    many = entry.get("many", False)
    if not isinstance(many, bool):
        raise PolicyError(f"role[{index}].many must be true or false")
    return Role(role_id, label, many)


def _roles_from(data: dict[str, Any], path: Path, problems: list[str]) -> RolePolicy:
    roles = DEFAULT_ROLES
    if "role" in data:
        try:
            entries = data["role"]
            if not isinstance(entries, list):
                raise PolicyError("role must be a list of [[role]] tables")
            roles = tuple(_role(entry, i) for i, entry in enumerate(entries, 1))
        except PolicyError as exc:
            problems.append(f"{path}: {exc}; using the built-in roles")
            roles = DEFAULT_ROLES
    known = {r.id for r in roles}
    required = dict(DEFAULT_REQUIRED)
    table = data.get("required", {})
    for key, ids in table.items() if isinstance(table, dict) else ():
        bad = not (key.isdigit() and int(key) in LEVELS) or not isinstance(ids, list)
        unknown = [] if bad else [i for i in ids if i not in known]
        if bad or unknown:
            problems.append(
                f"{path}: required.{key} ignored (use 1 to 4 and known role ids"
                + (f"; unknown: {', '.join(map(str, unknown))})" if unknown else ")")
            )
            continue
        required[int(key)] = tuple(ids)
    problems += [
        f"{path}: unknown key {k!r} ignored"
        for k in data
        if k not in ("role", "required")
    ]
    return RolePolicy(roles, required)


def load_roles(path: Path | None = None) -> Loaded[RolePolicy]:
    """Roles and required roles from `path` (default: the bundled file)."""
    path = path or resource("policy", "roles.toml")
    data, problem = _read(path)
    if data is None:
        return _loaded(RolePolicy(), [f"{problem}; using the built-in roles"])
    problems: list[str] = []
    return _loaded(_roles_from(data, path, problems), problems)


# --- what the app runs on -------------------------------------------------------


def choose_regimes(
    settings: Settings, known: Mapping[str, Regime], *, demo: bool
) -> tuple[list[Regime], list[str]]:
    """The regimes settings name (DORA in the demo when they name none), and a
    problem for each name no policy file knows."""
    chosen = tuple(dict.fromkeys(settings.regulations)) or (("dora",) if demo else ())
    regimes = [known[name] for name in chosen if name in known]
    problems = [
        f"settings: regulation {name!r} is not known, so it has no report clocks "
        f"(known: {', '.join(sorted(known))})"
        for name in chosen
        if name not in known
    ]
    return regimes, problems


@dataclass(frozen=True)
class Policies:
    """The policy files the console runs on, and what was wrong in them."""

    targets: TargetPolicy
    regimes: list[Regime]
    roles: RolePolicy
    problems: list[str]


def load_policies(settings: Settings, *, demo: bool) -> Policies:
    """Milestone targets, the chosen regimes and the bridge roles."""
    targets, regulatory = load_targets(), load_regulatory()
    roles = load_roles(settings.roles)
    regimes, unknown = choose_regimes(settings, regulatory.value, demo=demo)
    problems = [*targets.problems, *regulatory.problems, *roles.problems, *unknown]
    return Policies(targets.value, regimes, roles.value, problems)
