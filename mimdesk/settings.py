"""Operator settings (TOML) and the service catalogue file, read without ever failing.

A broken line gives a clear problem (file, line, what is wrong) and the defaults,
or the last good catalogue, so the app keeps running.
"""

from __future__ import annotations

import csv
import getpass
import logging
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, tzinfo
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import tzlocal

from mimdesk.domain.audiences import (
    EMAIL,
    AudienceError,
    Audiences,
    audiences_from_mapping,
)
from mimdesk.domain.audiences import locate as locate_audience
from mimdesk.domain.catalogue import (
    Catalogue,
    CatalogueError,
    catalogue_from_mapping,
    locate,
)
from mimdesk.domain.directory import Directory, directory_from_entries
from mimdesk.domain.errors import DomainError
from mimdesk.domain.rules import RuleSettings, rule_settings_from_mapping
from mimdesk.domain.severity import DEFAULT_NAMES, LEVELS, SeverityScale
from mimdesk.domain.times import load_zone
from mimdesk.resources import resource

log = logging.getLogger(__name__)

THEMES = ("dark", "light")
PROMETHEUS_AUTH = ("none", "bearer", "basic")
URL_RULE = "must be an http:// or https:// URL with a host, e.g. http://127.0.0.1:9090"


def _default_operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "operator"


@dataclass(frozen=True)
class PrometheusSettings:
    """`[prometheus]`: the server the wall reads. The token or password is kept in
    the keyring under "prometheus", never here."""

    url: str = ""
    ca_file: Path | None = None
    auth: str = "none"
    username: str = ""


@dataclass(frozen=True)
class AlertmanagerSettings:
    """`[alertmanager]`: the server whose API is polled for active alerts. Its
    token or password is kept in the keyring under "alertmanager"."""

    url: str = ""
    ca_file: Path | None = None
    auth: str = "none"
    username: str = ""
    poll_seconds: float = 30.0


@dataclass(frozen=True)
class ReceiverSettings:
    """`[receiver]`: the webhook endpoint Alertmanager posts to. Its bearer token
    is kept in the keyring under "receiver"."""

    enabled: bool = False
    listen: str = "127.0.0.1"
    port: int = 9095
    path: str = "/hooks/alertmanager"
    max_bytes: int = 1024 * 1024


@dataclass(frozen=True)
class ChatSettings:
    """`[matrix]`, `[slack]`, `[teams]` and `[chat]`: where incident channels
    live. Tokens, passwords and webhook URLs (which are credentials too) are
    kept in the keyring under "matrix.token" or "matrix.password",
    "slack.token", "slack.webhook" and "teams.webhook", never here."""

    matrix_url: str = ""
    matrix_user: str = ""
    matrix_ca_file: Path | None = None
    slack_api_url: str = ""
    slack_ca_file: Path | None = None
    slack_history_seconds: float = 60.0
    teams_ca_file: Path | None = None
    # Platforms an incident's channel is opened on by default, in order.
    platforms: tuple[str, ...] = ()
    # [smtp]: email for stakeholder updates (password: "smtp.password").
    smtp_host: str = ""
    smtp_port: int | None = None
    smtp_security: str = "starttls"
    smtp_user: str = ""
    smtp_from: str = ""
    smtp_ca_file: Path | None = None


SEAT_ROLES = ("workstation", "wallboard")


@dataclass(frozen=True)
class SeatSettings:
    """`[seats]`: sharing incidents with other seats through the `[matrix]`
    homeserver. `writers` are the accounts given the level to publish journal
    events; `readers` (wallboards) are invited to read only."""

    enabled: bool = False
    role: str = "workstation"
    team_room: str = ""  # an alias; empty: #mimdesk-seats:<the account's server>
    writers: tuple[str, ...] = ()
    readers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Settings:
    """What the operator can set in settings.toml."""

    timezone: str = "local"
    theme: str = "dark"
    operator: str = field(default_factory=_default_operator)
    severity: SeverityScale = field(default_factory=SeverityScale)
    catalogue: Path | None = None
    directory: Path | None = None
    roles: Path | None = None
    # Who receives stakeholder updates, and how (see resources/audiences/).
    audiences: Path | None = None
    # Regulations whose report clocks run for major incidents ("dora", "nis2"...).
    regulations: tuple[str, ...] = ()
    prometheus: PrometheusSettings = field(default_factory=PrometheusSettings)
    alertmanager: AlertmanagerSettings = field(default_factory=AlertmanagerSettings)
    receiver: ReceiverSettings = field(default_factory=ReceiverSettings)
    chat: ChatSettings = field(default_factory=ChatSettings)
    # The screen `mimdesk wall` fills, by name (`xrandr` lists them: "HDMI-1").
    wall_screen: str | None = None
    # `[automation]`: which rules fire on major incidents and after mitigation.
    automation: RuleSettings = field(default_factory=RuleSettings)
    seats: SeatSettings = field(default_factory=SeatSettings)


@dataclass(frozen=True)
class Loaded:
    settings: Settings
    problems: tuple[str, ...] = ()


def resolve_zone(name: str | None) -> tzinfo:
    """The display zone: an IANA name, 'UTC', or 'local' (the machine's zone,
    with its DST rules, not just today's offset)."""
    if not name or name.lower() == "local":
        try:
            return tzlocal.get_localzone()
        except (LookupError, ValueError, OSError) as exc:
            log.warning("cannot tell this machine's time zone (%s); using UTC", exc)
            return UTC
    return load_zone(name)


def _read_toml(path: Path) -> dict[str, Any]:
    with path.open("rb") as handle:
        return tomllib.load(handle)


def load_settings(path: Path) -> Loaded:
    """Settings from `path`; a missing file is the defaults, a broken one too."""
    if not path.exists():
        return Loaded(Settings())
    try:
        data = _read_toml(path)
    except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError) as exc:
        problem = f"{path}: {exc}; using default settings"
        log.warning("%s", problem)
        return Loaded(Settings(), (problem,))
    return _settings_from(data, path)


def _settings_from(data: dict[str, Any], path: Path) -> Loaded:
    problems: list[str] = []
    values: dict[str, Any] = {}

    def problem(key: str, text: str) -> None:
        problems.append(f"{path}: {key}: {text}; using the default")

    zone = data.pop("timezone", None)
    if zone is not None:
        try:
            resolve_zone(str(zone))
            values["timezone"] = str(zone)
        except DomainError as exc:
            problem("timezone", str(exc))
    theme = data.pop("theme", None)
    if theme is not None:
        if theme in THEMES:
            values["theme"] = theme
        else:
            problem("theme", f"must be 'dark' or 'light', not {theme!r}")
    operator = data.pop("operator", None)
    if operator is not None:
        if isinstance(operator, str) and operator.strip():
            values["operator"] = operator.strip()
        else:
            problem("operator", f"must be a non-empty name, not {operator!r}")
    for key in ("catalogue", "roles", "directory", "audiences"):
        value = data.pop(key, None)
        if value is None:
            continue
        if isinstance(value, str) and value.strip():
            # Relative paths are read from the settings file's own folder.
            values[key] = (path.parent / Path(value).expanduser()).resolve()
        else:
            problem(key, f"must be a file path, not {value!r}")
    regulations = data.pop("regulations", None)
    if regulations is not None:
        if isinstance(regulations, list) and all(
            isinstance(r, str) for r in regulations
        ):
            values["regulations"] = tuple(r.strip().lower() for r in regulations)
        else:
            problem("regulations", f'must be a list like ["dora"], not {regulations!r}')
    wall_screen = data.pop("wall_screen", None)
    if wall_screen is not None:
        if isinstance(wall_screen, str) and wall_screen.strip():
            values["wall_screen"] = wall_screen.strip()
        else:
            problem("wall_screen", f"must be a screen name, not {wall_screen!r}")
    names = data.pop("severity_names", None)
    if names is not None:
        values["severity"] = _severity_names(names, path, problems)
    prometheus = data.pop("prometheus", None)
    if prometheus is not None:
        values["prometheus"] = _prometheus(prometheus, path, problems)
    alertmanager = data.pop("alertmanager", None)
    if alertmanager is not None:
        values["alertmanager"] = _alertmanager(alertmanager, path, problems)
    receiver = data.pop("receiver", None)
    if receiver is not None:
        values["receiver"] = _receiver(receiver, path, problems)
    automation = data.pop("automation", None)
    if automation is not None:
        values["automation"], wrong = rule_settings_from_mapping(automation)
        problems += [_automation_problem(path, text) for text in wrong]
    seats = data.pop("seats", None)
    if seats is not None:
        values["seats"] = _seats(seats, path, problems)
    chat = _chat(data, path, problems)
    if chat is not None:
        values["chat"] = chat
    problems += [f"{path}: unknown setting {key!r} ignored" for key in data]
    for text in problems:
        log.warning("%s", text)
    return Loaded(Settings(**values), tuple(problems))


def _automation_problem(path: Path, text: str) -> str:
    """'file:line: [automation] key: what is wrong', and what happens instead."""
    key = text.removeprefix("[automation] ").split(":", 1)[0].strip()
    where = _line_of(_lines(path), "automation", key)
    return f"{path}{where}: {text}" + (
        "" if "stay off" in text else "; using the default"
    )


def _severity_names(names: object, path: Path, problems: list[str]) -> SeverityScale:
    merged = dict(DEFAULT_NAMES)
    if not isinstance(names, dict):
        problems.append(f"{path}: severity_names must be a table like [severity_names]")
        return SeverityScale(merged)
    for key, name in names.items():
        if (
            key.isdigit()
            and int(key) in LEVELS
            and isinstance(name, str)
            and name.strip()
        ):
            merged[int(key)] = name.strip()
        else:
            problems.append(
                f"{path}: severity_names: {key} = {name!r} ignored (use 1 to 4 "
                "and a non-empty name)"
            )
    return SeverityScale(merged)


def url_problem(url: str) -> str:
    """Why `url` cannot be a monitoring server's address; empty when it can."""
    try:
        parts = urlsplit(url)
        usable = parts.scheme in ("http", "https") and bool(parts.hostname)
        usable = usable and parts.port != 0  # a port that is not one raises
    except ValueError:
        usable = False
    return "" if usable and not any(c.isspace() for c in url) else URL_RULE


def without_credentials(url: str) -> str:
    """The URL without any user name or password in it (safe to show and log)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url.rsplit("@", 1)[-1]
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=netloc))


def ca_file_problem(ca_file: Path) -> str:
    """Why the CA file cannot be used to check a server; empty when it can."""
    if not ca_file.is_file():
        return f"{ca_file} does not exist or is not a file"
    if not os.access(ca_file, os.R_OK):
        return f"{ca_file} cannot be read (check its permissions)"
    return ""


def _prometheus(raw: object, path: Path, problems: list[str]) -> PrometheusSettings:
    if not isinstance(raw, dict):
        problems.append(f"{path}: prometheus must be a table like [prometheus]")
        return PrometheusSettings()
    # Kept even when wrong: a configured server that cannot be used must fail
    # loudly, never turn quietly into the DEMO source.
    url = raw.pop("url", "")
    values = _server(raw, "prometheus", path, problems)
    text = url.strip() if isinstance(url, str) else str(url)
    values["url"] = text
    if text and url_problem(text):
        shown = without_credentials(url) if isinstance(url, str) else url
        problems.append(f"{path}: [prometheus] url {URL_RULE}, not {shown!r}")
    ca_file = values.get("ca_file")
    if ca_file is not None and ca_file_problem(ca_file):
        problems.append(
            f"{path}: [prometheus] ca_file: {ca_file_problem(ca_file)}; "
            "fix the path, or remove the line to use the system's CAs"
        )
    problems += [f"{path}: unknown setting prometheus.{key} ignored" for key in raw]
    return PrometheusSettings(**values)


def _server(
    raw: dict[str, Any], section: str, path: Path, problems: list[str]
) -> dict[str, Any]:
    """url, auth, ca_file and username of a server's table (taken out of `raw`)."""
    values: dict[str, Any] = {}
    url = raw.pop("url", "")
    if isinstance(url, str) and (not url or url.startswith(("http://", "https://"))):
        values["url"] = url.strip()
    else:
        problems.append(f"{path}: {section}.url must start with http(s)://: {url!r}")
    auth = raw.pop("auth", "none")
    if auth in PROMETHEUS_AUTH:
        values["auth"] = auth
    else:
        problems.append(
            f"{path}: {section}.auth must be one of {', '.join(PROMETHEUS_AUTH)}, "
            f"not {auth!r}"
        )
    for key in ("ca_file", "username"):
        value = raw.pop(key, None)
        if value is None:
            continue
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{path}: {section}.{key} must be text, not {value!r}")
        elif key == "ca_file":
            values[key] = (path.parent / Path(value).expanduser()).resolve()
        else:
            values[key] = value.strip()
    return values


def _alertmanager(raw: object, path: Path, problems: list[str]) -> AlertmanagerSettings:
    if not isinstance(raw, dict):
        problems.append(f"{path}: alertmanager must be a table like [alertmanager]")
        return AlertmanagerSettings()
    values = _server(raw, "alertmanager", path, problems)
    seconds = raw.pop("poll_seconds", None)
    if seconds is not None:
        if _number(seconds) and 5 <= seconds <= 3600:
            values["poll_seconds"] = float(seconds)
        else:
            problems.append(
                f"{path}: alertmanager.poll_seconds must be 5 to 3600, not {seconds!r}"
            )
    problems += [f"{path}: unknown setting alertmanager.{key} ignored" for key in raw]
    return AlertmanagerSettings(**values)


def _receiver(raw: object, path: Path, problems: list[str]) -> ReceiverSettings:
    if not isinstance(raw, dict):
        problems.append(f"{path}: receiver must be a table like [receiver]")
        return ReceiverSettings()
    checks: dict[str, tuple[Callable[[Any], bool], str]] = {
        "enabled": (lambda v: isinstance(v, bool), "true or false"),
        "listen": (lambda v: isinstance(v, str) and bool(v.strip()), "an address"),
        "port": (lambda v: _whole(v) and 0 < v < 65536, "a port from 1 to 65535"),
        "path": (lambda v: isinstance(v, str) and v.startswith("/"), "like /hooks"),
        "max_bytes": (lambda v: _whole(v) and 1024 <= v <= 64 << 20, "1 KiB to 64 MiB"),
    }
    values: dict[str, Any] = {}
    for key, (valid, wanted) in checks.items():
        value = raw.pop(key, None)
        if value is None:
            continue
        if valid(value):
            values[key] = value.strip() if isinstance(value, str) else value
        else:
            problems.append(f"{path}: receiver.{key} must be {wanted}, not {value!r}")
    problems += [f"{path}: unknown setting receiver.{key} ignored" for key in raw]
    return ReceiverSettings(**values)


def _seats(raw: object, path: Path, problems: list[str]) -> SeatSettings:
    if not isinstance(raw, dict):
        problems.append(f"{path}: seats must be a table like [seats]")
        return SeatSettings()
    text = _lines(path)
    checks: dict[str, tuple[Callable[[Any], bool], str]] = {
        "enabled": (lambda v: isinstance(v, bool), "true or false"),
        "role": (lambda v: v in SEAT_ROLES, " or ".join(map(repr, SEAT_ROLES))),
        "team_room": (_room_alias, "a room alias like '#mimdesk-seats:example.org'"),
        "writers": (_user_ids, "a list of Matrix user ids like '@ops:example.org'"),
        "readers": (_user_ids, "a list of Matrix user ids like '@wall:example.org'"),
    }
    values: dict[str, Any] = {}
    for key, (valid, wanted) in checks.items():
        value = raw.pop(key, None)
        if value is None:
            continue
        if not valid(value):
            where = _line_of(text, "seats", key)
            instead = "using the default"
            if key == "role":
                # A mistyped role must not give a seat the right to write.
                values["role"] = "wallboard"
                instead = "this seat only reads (as a wallboard) until it is fixed"
            problems.append(
                f"{path}{where}: seats.{key} must be {wanted}, not {value!r}; {instead}"
            )
        elif isinstance(value, list):
            values[key] = tuple(dict.fromkeys(v.strip() for v in value))
        else:
            values[key] = value.strip() if isinstance(value, str) else value
    problems += [f"{path}: unknown setting seats.{key} ignored" for key in raw]
    return SeatSettings(**values)


def _room_alias(value: object) -> bool:
    return isinstance(value, str) and bool(re.fullmatch(r"#[^:\s]+:\S+", value.strip()))


def _user_ids(value: object) -> bool:
    return isinstance(value, list) and all(
        isinstance(v, str) and re.fullmatch(r"@[^:\s]+:\S+", v.strip()) for v in value
    )


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []


def _line_of(lines: list[str], table: str, key: str) -> str:
    """':N' for the line that sets `key` in `[table]`, or empty when not found."""
    inside = False
    for number, line in enumerate(lines, 1):
        bare = line.strip()
        if bare.startswith("["):
            inside = bare.split("#", 1)[0].strip() == f"[{table}]"
        elif inside and re.match(rf"{re.escape(key)}\s*=", bare):
            return f":{number}"
    return ""


CHAT_PLATFORMS = ("matrix", "slack", "teams")
_CHAT_KEYS: dict[str, tuple[str, ...]] = {
    "matrix": ("url", "user", "ca_file"),
    "slack": ("api_url", "ca_file", "history_seconds"),
    "teams": ("ca_file",),
    "chat": ("platforms",),
    "smtp": ("host", "port", "security", "user", "from", "ca_file"),
}
SMTP_SECURITY = ("starttls", "ssl", "none")


def _chat(data: dict[str, Any], path: Path, problems: list[str]) -> ChatSettings | None:
    """The chat tables, taken out of `data`; None when there are none."""
    tables = {name: data.pop(name) for name in _CHAT_KEYS if name in data}
    if not tables:
        return None
    values: dict[str, Any] = {}
    for name, raw in tables.items():
        if not isinstance(raw, dict):
            problems.append(f"{path}: {name} must be a table like [{name}]")
            continue
        for key, value in raw.items():
            if key not in _CHAT_KEYS[name]:
                problems.append(f"{path}: unknown setting {name}.{key} ignored")
                continue
            _chat_value(name, key, value, path, values, problems)
    return ChatSettings(**values)


def _chat_value(
    name: str,
    key: str,
    value: object,
    path: Path,
    values: dict[str, Any],
    problems: list[str],
) -> None:
    where = f"{path}: {name}.{key}"
    if key == "platforms":
        if isinstance(value, list) and all(v in CHAT_PLATFORMS for v in value):
            values["platforms"] = tuple(dict.fromkeys(value))
        else:
            problems.append(
                f"{where} must be a list of {', '.join(CHAT_PLATFORMS)}, not {value!r}"
            )
    elif key == "port":
        if _whole(value) and 0 < value < 65536:  # type: ignore[operator]
            values["smtp_port"] = value
        else:
            problems.append(f"{where} must be a port number, not {value!r}")
    elif key == "security":
        if value in SMTP_SECURITY:
            values["smtp_security"] = value
        else:
            problems.append(
                f"{where} must be one of {', '.join(SMTP_SECURITY)}, not {value!r}"
            )
    elif key == "history_seconds":
        if _number(value) and 1 <= value <= 3600:  # type: ignore[operator]
            values["slack_history_seconds"] = float(value)  # type: ignore[arg-type]
        else:
            problems.append(f"{where} must be 1 to 3600 seconds, not {value!r}")
    elif not isinstance(value, str) or not value.strip():
        problems.append(f"{where} must be text, not {value!r}")
    elif key == "ca_file":
        values[f"{name}_ca_file"] = (path.parent / Path(value).expanduser()).resolve()
    elif key == "from" and not EMAIL.match(value.strip()):
        problems.append(f"{where} must be an email address, not {value!r}")
    elif key in ("url", "api_url") and url_problem(value.strip()):
        problems.append(f"{where} {URL_RULE}, not {without_credentials(value)!r}")
    else:
        values[f"{name}_{key}"] = value.strip()


def chat_from_environment(
    chat: ChatSettings, environ: Mapping[str, str] | None = None
) -> tuple[ChatSettings, tuple[str, ...]]:
    """The chat settings with MIMDESK_MATRIX_URL, MIMDESK_MATRIX_USER,
    MIMDESK_SLACK_API_URL, MIMDESK_CHAT_PLATFORMS and MIMDESK_SMTP_HOST, _PORT,
    _SECURITY, _USER, _FROM applied (kiosks, scripts)."""
    env = os.environ if environ is None else environ
    problems: list[str] = []
    values: dict[str, Any] = {}
    for var, key in (
        ("MIMDESK_MATRIX_URL", "matrix_url"),
        ("MIMDESK_SLACK_API_URL", "slack_api_url"),
    ):
        text = env.get(var, "").strip()
        if text and url_problem(text):
            problems.append(f"{var} {URL_RULE}, not {without_credentials(text)!r}")
        elif text:
            values[key] = text
    for var, key in (
        ("MIMDESK_MATRIX_USER", "matrix_user"),
        ("MIMDESK_SMTP_HOST", "smtp_host"),
        ("MIMDESK_SMTP_USER", "smtp_user"),
        ("MIMDESK_SMTP_FROM", "smtp_from"),
    ):
        text = env.get(var, "").strip()
        if key == "smtp_from" and text and not EMAIL.match(text):
            problems.append(f"{var} must be an email address, not {text!r}")
        elif text:
            values[key] = text
    port = env.get("MIMDESK_SMTP_PORT", "").strip()
    if port.isdigit() and 0 < int(port) < 65536:
        values["smtp_port"] = int(port)
    elif port:
        problems.append(f"MIMDESK_SMTP_PORT must be a port number, not {port!r}")
    security = env.get("MIMDESK_SMTP_SECURITY", "").strip().lower()
    if security in SMTP_SECURITY:
        values["smtp_security"] = security
    elif security:
        problems.append(
            f"MIMDESK_SMTP_SECURITY must be one of {', '.join(SMTP_SECURITY)}"
        )
    listed = env.get("MIMDESK_CHAT_PLATFORMS", "").strip()
    if listed:
        chosen = [p.strip().lower() for p in listed.split(",") if p.strip()]
        unknown = [p for p in chosen if p not in CHAT_PLATFORMS]
        if unknown:
            problems.append(
                f"MIMDESK_CHAT_PLATFORMS: unknown platform {unknown[0]!r} "
                f"(use {', '.join(CHAT_PLATFORMS)})"
            )
        else:
            values["platforms"] = tuple(dict.fromkeys(chosen))
    return replace(chat, **values), tuple(problems)


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def load_catalogue(
    path: Path, last_good: Catalogue | None = None
) -> tuple[Catalogue, str]:
    """The catalogue in `path`, or `last_good` (or empty) with the reason it failed."""
    fallback = last_good or Catalogue()
    try:
        text = path.read_text(encoding="utf-8")
        return catalogue_from_mapping(tomllib.loads(text)), ""
    except FileNotFoundError:
        problem = f"{path}: catalogue file not found"
    except CatalogueError as exc:
        line = locate(text, exc)
        problem = f"{path}:{line}: {exc}" if line else f"{path}: {exc}"
    except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError, DomainError) as exc:
        problem = f"{path}: {exc}"
    log.warning("%s; keeping the previous catalogue", problem)
    return fallback, problem


def load_directory(path: Path) -> tuple[Directory, str]:
    """The people directory from TOML (`[[person]]`) or CSV, or empty and why."""
    try:
        if path.suffix.lower() == ".csv":
            with path.open(newline="", encoding="utf-8") as handle:
                entries: list[dict[str, Any]] = list(csv.DictReader(handle))
        else:
            people = _read_toml(path).get("person", [])
            if not isinstance(people, list):
                raise DomainError("'person' must be a list of [[person]] tables")
            entries = people
        return directory_from_entries(entries), ""
    except FileNotFoundError:
        problem = f"{path}: directory file not found"
    except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError, DomainError) as exc:
        problem = f"{path}: {exc}"
    except csv.Error as exc:
        problem = f"{path}: {exc}"
    log.warning("%s; the directory is empty", problem)
    return Directory(), problem


def people_directory(settings: Settings, *, demo: bool) -> tuple[Directory, str]:
    """People to mobilise: the settings' file, else the DEMO people in --demo."""
    path = settings.directory
    if path is None and demo:
        path = resource("directory", "sample.toml")
    return load_directory(path) if path is not None else (Directory(), "")


def load_audiences(path: Path) -> tuple[Audiences, str]:
    """The audiences of stakeholder updates from TOML, or none and why."""
    try:
        text = path.read_text(encoding="utf-8")
        found = audiences_from_mapping(tomllib.loads(text))
    except FileNotFoundError:
        problem = f"{path}: audiences file not found"
    except AudienceError as exc:
        line = locate_audience(text, exc)
        problem = f"{path}:{line}: {exc}" if line else f"{path}: {exc}"
    except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError) as exc:
        problem = f"{path}: {exc}"
    else:
        if found.templates:
            templates = (path.parent / Path(found.templates).expanduser()).resolve()
            found = replace(found, templates=str(templates))
        return found, ""
    log.warning("%s; no stakeholder audiences", problem)
    return Audiences(), problem


def stakeholder_audiences(settings: Settings, *, demo: bool) -> tuple[Audiences, str]:
    """Who receives updates: the settings' file, else the DEMO sample."""
    path = settings.audiences
    if path is None and demo:
        path = resource("audiences", "sample.toml")
    return load_audiences(path) if path is not None else (Audiences(), "")
