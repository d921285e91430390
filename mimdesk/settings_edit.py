"""Writing a few values into settings.toml while keeping everything else in it,
comments included. The result is read back before it replaces the file: an
edit that would change anything but the values asked for is refused."""

from __future__ import annotations

import os
import re
import stat
import tempfile
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

HEADER = (
    "# MIMDesk settings (see the README, 'Configuration').\n"
    "# Secrets are kept in the system keyring, never in this file.\n"
)
_ANY_HEADER = re.compile(r"^\s*\[")

Values = Mapping[tuple[str, str], str]  # (table, key) -> text


class SettingsEditError(Exception):
    """The settings file cannot be changed safely; the message says why."""


def toml_string(text: str) -> str:
    """`text` as a TOML basic string."""
    out = []
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def write_values(path: Path, values: Values) -> None:
    """Set `[table] key = "text"` for each of `values` in the file at `path`
    (made if missing), atomically; SettingsEditError if that cannot be done."""
    if path.exists() and not path.is_file():
        raise SettingsEditError(f"{path} is not a file")
    try:
        text = path.read_text(encoding="utf-8") if path.exists() else HEADER
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsEditError(f"{path} cannot be read: {exc}") from None
    before = _parse(text, path)
    for (table, key), value in values.items():
        text = _set(text, before, table, key, value, path)
    try:
        after = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        after = None
    if after != _expected(before, values):
        raise SettingsEditError(
            f"{path} is laid out in a way that cannot be edited safely here; "
            "change it by hand"
        )
    _replace(path, text)


def _parse(text: str, path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsEditError(
            f"{path} does not read as TOML ({exc}); fix it by hand first"
        ) from None


def _expected(before: dict[str, Any], values: Values) -> dict[str, Any]:
    expected = {k: dict(v) if isinstance(v, dict) else v for k, v in before.items()}
    for (table, key), value in values.items():
        expected.setdefault(table, {})[key] = value
    return expected


def _set(
    text: str, data: dict[str, Any], table: str, key: str, value: str, path: Path
) -> str:
    lines = text.splitlines(keepends=True)
    line = f"{key} = {toml_string(value)}\n"
    header = re.compile(rf"^\s*\[\s*{re.escape(table)}\s*\]\s*(#.*)?$")
    start = next((n for n, t in enumerate(lines) if header.match(t)), None)
    if start is None:
        if table in data:
            raise SettingsEditError(
                f"{path} sets {table} without a [{table}] table; change "
                f"{table}.{key} by hand"
            )
        ending = "" if not text or text.endswith("\n") else "\n"
        gap = "" if not text or text.endswith("\n\n") else "\n"
        return f"{text}{ending}{gap}[{table}]\n{line}"
    end = next(
        (n for n in range(start + 1, len(lines)) if _ANY_HEADER.match(lines[n])),
        len(lines),
    )
    assignment = re.compile(rf"^\s*{re.escape(key)}\s*=")
    for n in range(start + 1, end):
        if assignment.match(lines[n]):
            lines[n] = line
            return "".join(lines)
    # After the table's last value, before the blank lines and comments that
    # lead into the next table.
    values = (n for n in range(start, end) if _is_value(lines[n]))
    last = max(values, default=start)
    if not lines[last].endswith("\n"):
        lines[last] += "\n"
    lines.insert(last + 1, line)
    return "".join(lines)


def _is_value(line: str) -> bool:
    text = line.strip()
    return bool(text) and not text.startswith("#")


def _replace(path: Path, text: str) -> None:
    """Write to a temporary file beside `path`, then move it into place."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
        )
        try:
            if path.exists():  # keep the permissions the operator gave it
                os.chmod(temporary, stat.S_IMODE(path.stat().st_mode))
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise SettingsEditError(f"{path} cannot be written: {exc}") from None
