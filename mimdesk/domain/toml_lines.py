"""Finding the line of a mistake in a TOML file the operator owns, for
messages that say "file:line: what is wrong" (tomllib gives no positions)."""

from __future__ import annotations


def key_line(
    text: str, table: str, number: int, key: str, *, stop_at: str = "["
) -> int | None:
    """The line (from 1) of `key` in the `number`-th `[[table]]` (counted from
    1), else that table's header; with `number` 0, a top-level `key`. A table
    ends at the next line starting with `stop_at`."""
    lines = text.splitlines()
    start, seen = 0, 0
    if number:
        for line_no, line in enumerate(lines, start=1):
            if line.strip().startswith(f"[[{table}]]"):
                seen += 1
                if seen == number:
                    start = line_no
                    break
        if not start:
            return None
    for line_no in range(start + 1, len(lines) + 1):
        line = lines[line_no - 1].strip()
        if number and line.startswith(stop_at):
            break
        if key and line.split("=", 1)[0].strip() == key:
            return line_no
    return start or None
