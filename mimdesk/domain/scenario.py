"""Exercise scenarios: a timeline of injects, what the team is expected to do,
and (optionally) a reference response to play the team's part in a dry run.

A scenario is a TOML file (resources/scenarios/ ships three; see its README).
Times are offsets from the moment the fault begins, the scenario's "T+0".
Parsing is pure: catalogue and directory names are checked by `problems_with`.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from mimdesk.domain.errors import DomainError
from mimdesk.domain.lifecycle import Status
from mimdesk.domain.runbooks import parse_duration
from mimdesk.domain.toml_lines import key_line

HEALTH_STATES = {"ok": 0.0, "degraded": 0.5, "down": 1.0}
INJECT_KINDS = ("health", "alert", "message", "join", "chat_outage", "note")
RESPONSE_KINDS = ("declare", "status", "request", "join", "update", "post", "note")
TOP_KEYS = frozenset({"scenario", "expect", "inject", "response"})
SCENARIO_KEYS = frozenset({"title", "summary", "length", "allow_real_traffic"})
EXPECT_KEYS = frozenset(
    {"severity", "services", "declare_within", "mobilise_within",
     "first_update_within", "mitigate_within", "resolve_within", "roles",
     "update_every"}
)  # fmt: skip
INJECT_KEYS = {
    "health": {"service", "state", "strength"},
    "alert": {"name", "service", "severity", "summary", "status"},
    "message": {"from", "text"},
    "join": {"person", "role"},
    "chat_outage": {"until"},
    "note": {"text"},
}
RESPONSE_KEYS = {
    "declare": {"title", "severity", "services"},
    "status": {"to"},
    "request": {"person", "role"},
    "join": {"person", "role"},
    "update": {"audience", "text"},
    "post": {"text"},
    "note": {"text"},
}
MAX_INJECTS = 500
MAX_LENGTH = timedelta(hours=24)
MAX_TEXT = 2000


class ScenarioError(DomainError):
    """A mistake in a scenario file; `line` is where, when it can be found."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class Inject:
    """One thing the facilitator makes happen at `at` after the fault began."""

    at: timedelta
    kind: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    # Where it is in the file: the n-th [[inject]] or [[response]] (from 1).
    number: int = field(default=0, compare=False)

    def get(self, key: str, default: Any = None) -> Any:
        return self.fields.get(key, default)

    def describe(self) -> str:
        f = self.fields
        if self.kind == "health":
            return f"{f['service']} {f['state']}"
        if self.kind == "alert":
            return f"alert {f['name']} {f.get('status', 'firing')} on {f['service']}"
        if self.kind == "message":
            return f"message from {f['from']}: {f['text']}"
        if self.kind == "join":
            return f"{f['person']} joins as {f['role']}"
        if self.kind == "chat_outage":
            return f"chat down until T+{_clock(f['until'])}"
        if self.kind == "declare":
            return f"declare SEV{f['severity']} {f['title']}"
        if self.kind == "status":
            return f"status \u2192 {f['to'].value}"
        if self.kind == "request":
            return f"request {f['person']} as {f['role']}"
        if self.kind == "update":
            return f"update to {f['audience']}"
        if self.kind == "post":
            return f"post in the incident channel: {f['text']}"
        return str(f["text"])


@dataclass(frozen=True)
class Expectations:
    """What the team is scored against; each limit counts from T+0."""

    severity: int | None = None
    services: tuple[str, ...] = ()
    declare_within: timedelta | None = None
    mobilise_within: timedelta | None = None
    first_update_within: timedelta | None = None
    mitigate_within: timedelta | None = None
    resolve_within: timedelta | None = None
    roles: tuple[str, ...] = ()
    update_every: timedelta | None = None


@dataclass(frozen=True)
class Scenario:
    """A parsed scenario: `name` is the file's stem."""

    name: str
    title: str
    summary: str
    length: timedelta
    allow_real_traffic: bool
    expect: Expectations
    injects: tuple[Inject, ...]
    response: tuple[Inject, ...] = ()
    # The text it was read from: kept with a run, and for finding lines.
    source: str = field(default="", compare=False, repr=False)

    def health_at(self, service: str, offset: timedelta) -> float:
        """How degraded `service` is `offset` after T+0: 0 well, 1 down."""
        level = 0.0
        for inject in self.injects:
            if inject.at > offset:
                break
            if inject.kind == "health" and inject.fields["service"] == service:
                level = float(inject.fields["strength"])
        return level

    def chat_down_at(self, offset: timedelta) -> bool:
        return any(
            i.at <= offset < i.fields["until"]
            for i in self.injects
            if i.kind == "chat_outage"
        )

    def services(self) -> set[str]:
        named = {i.fields["service"] for i in self.injects if "service" in i.fields}
        return named | set(self.expect.services)

    def people(self) -> set[str]:
        found = {i.fields["person"] for i in self.injects if "person" in i.fields}
        return found | {
            i.fields["person"] for i in self.response if "person" in i.fields
        }

    def line_of(self, entry: Inject | None, key: str) -> int | None:
        """The line of `key` in `entry` (None: in [expect]) in `source`."""
        if entry is None:
            return table_line(self.source, "expect", key)
        table = "response" if any(entry is r for r in self.response) else "inject"
        return key_line(self.source, table, entry.number, key)


def _clock(offset: timedelta) -> str:
    minutes, seconds = divmod(int(offset.total_seconds()), 60)
    return f"{minutes}:{seconds:02d}"


def offset_text(offset: timedelta) -> str:
    """T+12:30 for an offset of 12 min 30 s."""
    return f"T+{_clock(offset)}"


_TOML_WHERE = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")


def parse(text: str, name: str) -> Scenario:
    """Read a scenario file's text; ScenarioError names the line of a mistake."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _toml_error(exc) from None
    try:
        return replace(_scenario(data, name), source=text)
    except _Mistake as exc:
        if exc.number:
            line = key_line(text, exc.table, exc.number, exc.key)
        else:
            line = table_line(text, exc.table, exc.key)
        raise ScenarioError(str(exc), line) from None


def _toml_error(exc: tomllib.TOMLDecodeError) -> ScenarioError:
    """tomllib's message without its "(at line, column)", which goes to `line`."""
    message = str(exc)
    found = _TOML_WHERE.search(message)
    if found is None:
        return ScenarioError(f"not valid TOML: {message}")
    what = message[: found.start()].rstrip(". ").lower()
    return ScenarioError(
        f"not valid TOML at column {found[2]}: {what}; check the quotes, brackets "
        "and commas on this line (text goes in double quotes, times too: "
        'at = "5m")',
        int(found[1]),
    )


def table_line(text: str, table: str, key: str) -> int | None:
    """The line of `key` in a plain `[table]` (no table: before the first
    header), else the table's header line; None when neither is there."""
    header = 0
    if table:
        header = next(
            (n for n, line in enumerate(text.splitlines(), 1)
             if line.strip().split("#", 1)[0].strip() == f"[{table}]"),
            0,
        )  # fmt: skip
        if not header:
            return None
    lines = text.splitlines()
    for n in range(header + 1, len(lines) + 1):
        line = lines[n - 1].strip()
        if line.startswith("["):
            break
        if key and line.split("=", 1)[0].strip() == key:
            return n
    return header or None


class _Mistake(DomainError):
    def __init__(self, message: str, table: str = "", number: int = 0, key: str = ""):
        super().__init__(message)
        self.table, self.number, self.key = table, number, key


def _scenario(data: Mapping[str, Any], name: str) -> Scenario:
    _known(data, TOP_KEYS, "the file", "")
    head = _table(data.get("scenario"), "scenario")
    _known(head, SCENARIO_KEYS, "[scenario]", "scenario")
    title = _text(head.get("title"), "title", "scenario")
    if "length" not in head:
        raise _Mistake('[scenario] needs length, when the exercise ends (as '
                       'length = "90m")', "scenario")  # fmt: skip
    length = _duration(head["length"], "length", "scenario")
    if not timedelta(minutes=1) <= length <= MAX_LENGTH:
        raise _Mistake("[scenario] length must be between 1 minute and 24 hours",
                       "scenario", key="length")  # fmt: skip
    real = head.get("allow_real_traffic", False)
    if not isinstance(real, bool):
        raise _Mistake("allow_real_traffic must be true or false",
                       "scenario", key="allow_real_traffic")  # fmt: skip
    summary = head.get("summary", "")
    if not isinstance(summary, str):
        raise _Mistake("[scenario] summary must be text", "scenario", key="summary")
    expect = _expectations(_table(data.get("expect", {}), "expect"), length)
    injects = _timeline(data.get("inject", []), "inject", INJECT_KEYS, length)
    if not injects:
        raise _Mistake("a scenario needs at least one [[inject]]")
    response = _timeline(data.get("response", []), "response", RESPONSE_KEYS, length)
    return Scenario(
        name, title, summary.strip(), length, real, expect, injects, response
    )


def _expectations(table: Mapping[str, Any], length: timedelta) -> Expectations:
    _known(table, EXPECT_KEYS, "[expect]", "expect")
    limits = {
        key: _duration(table[key], key, "expect")
        for key in sorted(EXPECT_KEYS)
        if key.endswith(("_within", "_every")) and key in table
    }
    for key, limit in limits.items():
        if limit > length:
            raise _Mistake(
                f"[expect] {key} = {offset_text(limit)} is after the scenario's "
                f"end ({offset_text(length)}), so it could never be scored; make "
                "it shorter or the scenario longer",
                "expect", key=key,
            )  # fmt: skip
    severity = table.get("severity")
    if severity is not None and severity not in (1, 2, 3, 4):
        raise _Mistake("[expect] severity must be 1, 2, 3 or 4", "expect",
                       key="severity")  # fmt: skip
    return Expectations(
        severity=severity,
        services=_names(table.get("services", []), "services", table="expect"),
        roles=_names(table.get("roles", []), "roles", table="expect"),
        **limits,
    )


def _timeline(
    raw: object, table: str, keys: Mapping[str, set[str]], length: timedelta
) -> tuple[Inject, ...]:
    if not isinstance(raw, list):
        raise _Mistake(f"[[{table}]] must be tables, each with `at` and `kind`")
    if len(raw) > MAX_INJECTS:
        raise _Mistake(f"at most {MAX_INJECTS} [[{table}]] tables")
    found = [_entry(item, table, n, keys, length) for n, item in enumerate(raw, 1)]
    # Stable: two injects at the same offset keep the file's order.
    return tuple(sorted(found, key=lambda i: i.at))


def _entry(
    item: object,
    table: str,
    number: int,
    keys: Mapping[str, set[str]],
    length: timedelta,
) -> Inject:
    where = f"[[{table}]] {number}"

    def fail(text: str, key: str = "") -> _Mistake:
        return _Mistake(f"{where}: {text}", table, number, key)

    if not isinstance(item, dict):
        raise fail("must be a table")
    kind = item.get("kind")
    if not isinstance(kind, str) or kind not in keys:
        raise fail(f"kind must be one of {', '.join(keys)}", "kind")
    unknown = set(item) - keys[kind] - {"at", "kind"}
    if unknown:
        raise fail(f"{kind} does not take {', '.join(sorted(unknown))}",
                   sorted(unknown)[0])  # fmt: skip
    try:
        at = parse_duration(item.get("at"))
    except DomainError as exc:
        raise fail(f"at: {exc}", "at") from None
    if at > length:
        raise fail(f"at {offset_text(at)} is after the scenario's end", "at")
    fields = _fields(kind, item, fail, length, at)
    return Inject(at, kind, fields, number)


def _fields(
    kind: str, item: Mapping[str, Any], fail: Any, length: timedelta, at: timedelta
) -> dict[str, Any]:
    fields = {k: v for k, v in item.items() if k not in ("at", "kind")}
    for key in sorted(fields):
        value = fields[key]
        if isinstance(value, str) and not value.strip():
            raise fail(f"{key} is empty", key)
        if isinstance(value, str) and len(value) > MAX_TEXT:
            raise fail(f"{key} is longer than {MAX_TEXT} characters", key)
    needed = {
        "health": ("service", "state"), "alert": ("name", "service"),
        "message": ("from", "text"), "join": ("person", "role"),
        "chat_outage": ("until",), "note": ("text",),
        "declare": ("title", "severity", "services"), "status": ("to",),
        "request": ("person", "role"), "update": ("audience", "text"),
        "post": ("text",),
    }[kind]  # fmt: skip
    for key in needed:
        if key not in fields:
            raise fail(f"{kind} needs {key}")
    if kind == "health":
        _health(fields, fail)
    elif kind == "alert":
        _alert(fields, fail)
    elif kind == "chat_outage":
        try:
            until = parse_duration(fields["until"])
        except DomainError as exc:
            raise fail(f"until: {exc}", "until") from None
        if not at < until <= length:
            raise fail("until must be after `at` and within the scenario", "until")
        fields["until"] = until
    elif kind == "declare":
        if fields["severity"] not in (1, 2, 3, 4):
            raise fail("severity must be 1, 2, 3 or 4", "severity")
        fields["services"] = _names(fields["services"], "services", fail)
    elif kind == "status":
        try:
            fields["to"] = Status(fields["to"])
        except ValueError:
            names = ", ".join(s.value for s in Status)
            raise fail(f"to must be one of {names}", "to") from None
    return fields


def _health(fields: dict[str, Any], fail: Any) -> None:
    state = fields["state"]
    if state not in HEALTH_STATES:
        raise fail(f"state must be one of {', '.join(HEALTH_STATES)}", "state")
    strength = fields.get("strength", HEALTH_STATES[state])
    if (
        not isinstance(strength, int | float)
        or isinstance(strength, bool)
        or not math.isfinite(strength)
        or not 0 <= strength <= 1
    ):
        raise fail("strength must be a number from 0 to 1", "strength")
    fields["strength"] = float(strength)


def _alert(fields: dict[str, Any], fail: Any) -> None:
    status = fields.setdefault("status", "firing")
    if status not in ("firing", "resolved"):
        raise fail("status must be firing or resolved", "status")
    fields.setdefault("severity", "critical")
    for key in ("name", "service", "severity", "summary"):
        if key in fields and not isinstance(fields[key], str):
            raise fail(f"{key} must be text", key)


def _known(
    table: Mapping[str, Any], keys: frozenset[str], where: str, name: str
) -> None:
    unknown = sorted(set(table) - keys)
    if unknown:
        raise _Mistake(f"{where} does not take {', '.join(unknown)}", name,
                       key=unknown[0])  # fmt: skip


def _table(value: object, name: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise _Mistake(f"the file needs a [{name}] table", name)
    return value


def _text(value: object, key: str, table: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Mistake(f"[{table}] needs {key} (text)", table, key=key)
    return value.strip()


def _duration(value: object, key: str, table: str) -> timedelta:
    try:
        return parse_duration(value)
    except DomainError as exc:
        raise _Mistake(f"[{table}] {key}: {exc}", table, key=key) from None


def _names(
    value: object, key: str, fail: Any = None, table: str = ""
) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(
        isinstance(v, str) and v.strip() for v in value
    ):
        if fail is not None:
            raise fail(f"{key} must be a list of names", key)
        raise _Mistake(f"{key} must be a list of names", table, key=key)
    return tuple(v.strip() for v in value)


@dataclass(frozen=True)
class Known:
    """The names a scenario may use, and where each kind comes from (said in
    a problem's message). None: that kind is not checked."""

    services: frozenset[str]
    people: frozenset[str]
    audiences: frozenset[str] | None = None
    roles: frozenset[str] | None = None
    sources: Mapping[str, str] = field(default_factory=dict)

    def source(self, kind: str, default: str) -> str:
        return self.sources.get(kind, default)


@dataclass(frozen=True)
class Problem:
    """A name the scenario uses that is not known: `line` is where."""

    line: int | None
    text: str

    def located(self, path: object) -> str:
        return (
            f"{path}:{self.line}: {self.text}" if self.line else f"{path}: {self.text}"
        )


def problems_with(scenario: Scenario, known: Known) -> list[Problem]:
    """Names the scenario uses that the catalogue, the directory, the
    audiences or the roles lack, each with its line, in the file's order."""
    found: list[Problem] = []
    catalogue = known.source("services", "the service catalogue")
    directory = known.source("people", "the people directory")
    audiences = known.source("audiences", "the audiences file")
    roles = known.source("roles", "the roles")

    def check(entry: Inject | None, key: str, name: str, names: frozenset[str] | None,
              what: str, where: str) -> None:  # fmt: skip
        if names is not None and name not in names:
            line = scenario.line_of(entry, key)
            found.append(Problem(line, f"{what} {name!r} is not in {where}"))

    for s in scenario.expect.services:
        check(None, "services", s, known.services, "service", catalogue)
    for r in scenario.expect.roles:
        check(None, "roles", r, known.roles, "role", roles)
    for entry in (*scenario.injects, *scenario.response):
        f = entry.fields
        if "service" in f:
            check(entry, "service", f["service"], known.services, "service", catalogue)
        for s in f.get("services", ()) if entry.kind == "declare" else ():
            check(entry, "services", s, known.services, "service", catalogue)
        if "person" in f:
            check(entry, "person", f["person"], known.people, "person", directory)
        if "role" in f:
            check(entry, "role", f["role"], known.roles, "role", roles)
        if entry.kind == "update":
            check(entry, "audience", f["audience"], known.audiences, "audience",
                  audiences)  # fmt: skip
    return sorted(found, key=lambda p: p.line or 0)
