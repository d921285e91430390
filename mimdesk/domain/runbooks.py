"""Runbook templates: ordered recovery steps, each owned by a bridge role.

A runbook is a TOML file (DEMO ones ship in resources/runbooks/, the operator's
own live in a folder of their choosing). It names the services and severities it
fits, then `[[step]]` tables: a title, the role that owns the step, an optional
expected duration, the steps it waits for (`after`), an optional automated check
and an optional decision point. `[[verify]]` tables are the checks that must
pass (or be overridden on the record) before the incident is called mitigated.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from mimdesk.domain.errors import DomainError
from mimdesk.domain.toml_lines import key_line

TOP_KEYS = frozenset({"id", "name", "services", "severities", "step", "verify"})
STEP_KEYS = frozenset({"id", "title", "role", "expected", "after", "check", "decision"})
CHECK_KEYS = frozenset(
    {"name", "promql", "below", "above", "for", "url", "status", "body",
     "max_latency", "tls", "timeout"}
)  # fmt: skip
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_DURATION = re.compile(
    r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hours?)\s*$"
)
_UNIT = {"s": 1, "m": 60, "h": 3600}
DEFAULT_TIMEOUT = 10.0


class RunbookError(DomainError):
    """A mistake in a runbook file: `table` ("step" or "verify") and `number`
    (from 1) say which table, `key` which key, to find the line."""

    def __init__(
        self, text: str, table: str = "", number: int = 0, key: str = ""
    ) -> None:
        super().__init__(text)
        self.table = table
        self.number = number
        self.key = key


@dataclass(frozen=True)
class Check:
    """An automated check: a PromQL condition held for a while, or an HTTP probe.

    PromQL: every sample of `promql` over the last `hold` is below `below` (or
    above `above`). HTTP: `url` answers `status` within `max_latency` seconds,
    its body contains `body`, and its certificate is valid unless `tls` is off.
    """

    name: str
    promql: str = ""
    below: float | None = None
    above: float | None = None
    hold: timedelta = timedelta(0)
    url: str = ""
    status: int = 200
    body: str = ""
    max_latency: float | None = None
    tls: bool = True
    timeout: float = DEFAULT_TIMEOUT

    @property
    def kind(self) -> str:
        return "promql" if self.promql else "http"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "timeout": self.timeout}
        if self.promql:
            out |= {"promql": self.promql, "below": self.below, "above": self.above,
                    "for": self.hold.total_seconds()}  # fmt: skip
        else:
            out |= {"url": self.url, "status": self.status, "body": self.body,
                    "max_latency": self.max_latency, "tls": self.tls}  # fmt: skip
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Check:
        return cls(
            name=str(data["name"]),
            promql=str(data.get("promql") or ""),
            below=data.get("below"),
            above=data.get("above"),
            hold=timedelta(seconds=float(data.get("for") or 0)),
            url=str(data.get("url") or ""),
            status=int(data.get("status") or 200),
            body=str(data.get("body") or ""),
            max_latency=data.get("max_latency"),
            tls=bool(data.get("tls", True)),
            timeout=float(data.get("timeout") or DEFAULT_TIMEOUT),
        )


@dataclass(frozen=True)
class Step:
    id: str
    title: str
    role: str
    expected: timedelta | None = None
    after: tuple[str, ...] = ()
    check: Check | None = None
    # "if payments still fail after failover, escalate to the vendor"
    decision: str = ""


@dataclass(frozen=True)
class Runbook:
    """One template; `services` and `severities` say which incidents it fits."""

    id: str
    name: str
    steps: tuple[Step, ...]
    services: tuple[str, ...] = ()
    severities: tuple[int, ...] = ()
    verify: tuple[Check, ...] = ()
    source: str = ""

    def fits(self, services: Iterable[str], severity: int) -> bool:
        """Matches one of the incident's services, at a severity it covers."""
        # FIXME(runbooks): incidents have no type yet, so runbooks cannot be
        # chosen by one; an `incident_types` key would match it when they do.
        if self.severities and severity not in self.severities:
            return False
        return bool(set(self.services) & set(services))


def parse_duration(text: object) -> timedelta:
    """'5m', '30 min', '2h', '90s' as a duration."""
    found = _DURATION.match(text) if isinstance(text, str) else None
    if found is None:
        raise DomainError(f"{text!r} is not a duration like '5m', '30 min' or '2h'")
    return timedelta(seconds=float(found[1]) * _UNIT[found[2][0]])


def runbook_from_mapping(data: Mapping[str, Any], source: str = "") -> Runbook:
    """A runbook from parsed TOML; RunbookError says what is wrong and where."""
    unknown = [k for k in data if k not in TOP_KEYS]
    if unknown:
        raise RunbookError(
            f"unknown key {unknown[0]!r} (use {', '.join(sorted(TOP_KEYS))})",
            key=unknown[0],
        )
    runbook_id = data.get("id")
    if not isinstance(runbook_id, str) or not _ID.match(runbook_id):
        raise RunbookError("id must be a short lower-case name", key="id")
    name = data.get("name", runbook_id)
    if not isinstance(name, str) or not name.strip():
        raise RunbookError("name must be text", key="name")
    services = _texts(data.get("services", []), "services")
    severities = data.get("severities", [])
    if not isinstance(severities, list) or not all(
        isinstance(s, int) and 1 <= s <= 4 for s in severities
    ):
        raise RunbookError("severities must be a list of 1 to 4", key="severities")
    steps = _steps(data.get("step", []))
    verify = _tables(data.get("verify", []), "verify")
    checks = tuple(_check(t, "verify", n) for n, t in enumerate(verify, start=1))
    return Runbook(
        runbook_id, name.strip(), steps, services, tuple(severities), checks, source
    )


def _tables(value: object, table: str) -> list[Any]:
    if not isinstance(value, list):
        raise RunbookError(f"{table} entries are [[{table}]] tables", key=table)
    return value


def _steps(raw: object) -> tuple[Step, ...]:
    tables = _tables(raw, "step")
    if not tables:
        raise RunbookError("a runbook needs at least one [[step]]", key="step")
    steps: list[Step] = []
    for number, table in enumerate(tables, start=1):
        step = _step(table, number)
        if any(s.id == step.id for s in steps):
            raise RunbookError(f"step {step.id!r} twice", "step", number, "id")
        steps.append(step)
    ids = {s.id for s in steps}
    for number, step in enumerate(steps, start=1):
        missing = [a for a in step.after if a not in ids]
        if missing:
            raise RunbookError(
                f"step {step.id!r} waits for {missing[0]!r}, which is not a step",
                "step", number, "after",
            )  # fmt: skip
    cycle = find_cycle({s.id: s.after for s in steps})
    if cycle:
        number = next(n for n, s in enumerate(steps, start=1) if s.id == cycle[0])
        raise RunbookError(
            f"steps wait for each other in a circle: {' -> '.join(cycle)}",
            "step", number, "after",
        )  # fmt: skip
    return tuple(steps)


def _step(table: object, number: int) -> Step:
    def fail(text: str, key: str = "") -> RunbookError:
        return RunbookError(text, "step", number, key)

    if not isinstance(table, dict):
        raise fail("a step must be a [[step]] table")
    unknown = [k for k in table if k not in STEP_KEYS]
    if unknown:
        raise fail(
            f"unknown key {unknown[0]!r} (use {', '.join(sorted(STEP_KEYS))})",
            unknown[0],
        )
    step_id = table.get("id", f"step-{number}")
    if not isinstance(step_id, str) or not _ID.match(step_id):
        raise fail("id must be a short lower-case name like 'failover'", "id")
    title = table.get("title")
    if not isinstance(title, str) or not title.strip():
        raise fail("every step needs a title", "title")
    role = table.get("role")
    if not isinstance(role, str) or not _ID.match(role):
        raise fail("role must be a bridge role id like 'tech-lead'", "role")
    expected = None
    if "expected" in table:
        try:
            expected = parse_duration(table["expected"])
        except DomainError as exc:
            raise fail(f"expected: {exc}", "expected") from None
    after = _texts(table.get("after", []), "after", number)
    check = table.get("check")
    decision = table.get("decision", "")
    if not isinstance(decision, str):
        raise fail("decision must be text", "decision")
    return Step(
        step_id, " ".join(title.split()), role, expected, after,
        _check(check, "step", number) if check is not None else None,
        " ".join(decision.split()),
    )  # fmt: skip


def _check(table: object, where: str, number: int) -> Check:
    def fail(text: str, key: str = "check") -> RunbookError:
        return RunbookError(f"check: {text}", where, number, key)

    if not isinstance(table, dict):
        raise fail("a check is a table with promql or url")
    unknown = [k for k in table if k not in CHECK_KEYS]
    if unknown:
        raise fail(f"unknown key {unknown[0]!r}", unknown[0])
    promql, url = table.get("promql", ""), table.get("url", "")
    if bool(promql) == bool(url):
        raise fail("give either promql or url", "promql" if promql else "url")
    name = table.get("name", promql or url)
    if not isinstance(name, str) or not name.strip():
        raise fail("name must be text", "name")
    timeout = _number(table.get("timeout", DEFAULT_TIMEOUT), "timeout", fail)
    if promql:
        return _promql_check(table, name, timeout, fail)
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise fail("url must start with http:// or https://", "url")
    status = table.get("status", 200)
    if not isinstance(status, int) or not 100 <= status <= 599:
        raise fail("status must be an HTTP status like 200", "status")
    body = table.get("body", "")
    if not isinstance(body, str):
        raise fail("body must be text the answer contains", "body")
    latency = table.get("max_latency")
    if latency is not None:
        latency = _number(latency, "max_latency", fail)
    tls = table.get("tls", True)
    if not isinstance(tls, bool):
        raise fail("tls must be true or false", "tls")
    return Check(
        name.strip(), url=url, status=status, body=body, max_latency=latency,
        tls=tls, timeout=timeout,
    )  # fmt: skip


def _promql_check(
    table: Mapping[str, Any], name: str, timeout: float, fail: Any
) -> Check:
    if not isinstance(table["promql"], str):
        raise fail("promql must be a query", "promql")
    if ("below" in table) == ("above" in table):
        raise fail("a promql check needs below or above (one of them)", "below")
    below = _number(table["below"], "below", fail) if "below" in table else None
    above = _number(table["above"], "above", fail) if "above" in table else None
    hold = timedelta(0)
    if "for" in table:
        try:
            hold = parse_duration(table["for"])
        except DomainError as exc:
            raise fail(f"for: {exc}", "for") from None
    return Check(
        name.strip(), promql=table["promql"], below=below, above=above, hold=hold,
        timeout=timeout,
    )  # fmt: skip


def _number(value: object, key: str, fail: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise fail(f"{key} must be a number", key)
    return float(value)


def _texts(value: object, key: str, number: int = 0) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(
        isinstance(v, str) and v.strip() for v in value
    ):
        raise RunbookError(
            f"{key} must be a list of text", "step" if number else "", number, key
        )
    return tuple(dict.fromkeys(v.strip() for v in value))


def find_cycle(after: Mapping[str, Sequence[str]]) -> list[str]:
    """A circle of waits (first id repeated at the end), or [] when there is none."""
    state: dict[str, int] = {}  # 1 = being visited, 2 = done

    def visit(node: str, path: list[str]) -> list[str]:
        state[node], path = 1, [*path, node]
        for nxt in after.get(node, ()):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt, path)
                if found:
                    return found
        state[node] = 2
        return []

    for start in after:
        if start not in state:
            found = visit(start, [])
            if found:
                return found
    return []


def locate(text: str, error: RunbookError) -> int | None:
    """The line (from 1) an error is about: the key in its table, the table's
    header, or a top-level key."""
    return key_line(text, error.table, error.number, error.key, stop_at="[[")


def matching(
    runbooks: Iterable[Runbook], services: Iterable[str], severity: int
) -> list[Runbook]:
    """The runbooks that fit an incident, in the order given."""
    chosen = list(services)
    return [r for r in runbooks if r.fits(chosen, severity)]


@dataclass(frozen=True)
class Library:
    """The runbooks that loaded, and a problem line for each file that did not."""

    runbooks: tuple[Runbook, ...] = ()
    problems: tuple[str, ...] = field(default=())

    def get(self, runbook_id: str) -> Runbook:
        for runbook in self.runbooks:
            if runbook.id == runbook_id:
                return runbook
        known = ", ".join(r.id for r in self.runbooks) or "none loaded"
        raise DomainError(f"no runbook {runbook_id!r} (known: {known})")
