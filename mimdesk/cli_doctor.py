"""`mimdesk doctor`: check the store, the logs, the keyring and every configured
connection, and say exactly what failed. Exit 0 when nothing failed, 1 otherwise."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from mimdesk.logs import LOG_FILE

if TYPE_CHECKING:
    from mimdesk import doctor
    from mimdesk.cli import Context

EXIT_OK, EXIT_PROBLEMS = 0, 1
WIDTH = 13  # the longest check name and a space or two


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register `doctor` on the main parser's subcommands."""
    p = sub.add_parser(
        "doctor",
        parents=[common],
        help="check the store, logs, keyring and connections; say what failed",
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_doctor)


def cmd_doctor(ctx: Context, args: argparse.Namespace) -> int:
    from mimdesk import doctor  # connectors: loaded when used

    results = doctor.run(doctor.checks_for(ctx.paths, ctx.settings))
    if args.json:
        json.dump(doctor_json(ctx, results), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        print("\n".join(doctor_lines(ctx, results)))
    return EXIT_OK if doctor.passed(results) else EXIT_PROBLEMS


def _paths(ctx: Context) -> dict[str, str]:
    paths = ctx.paths
    return {
        "data_dir": str(paths.data_dir),
        "store": str(paths.store),
        "backups": str(paths.backups),
        "config_file": str(paths.config_file),
        "log_file": str(paths.log_dir / LOG_FILE),
    }


def doctor_json(ctx: Context, results: list[doctor.Check]) -> dict[str, Any]:
    from mimdesk import doctor  # connectors: loaded when used

    return {
        "format": doctor.FORMAT,
        "ok": doctor.passed(results),
        "paths": _paths(ctx),
        "checks": [r.as_json() for r in results],
    }


def doctor_lines(ctx: Context, results: list[doctor.Check]) -> list[str]:
    from mimdesk import doctor  # connectors: loaded when used

    lines = [f"{key + ':':13}{value}" for key, value in _paths(ctx).items()]
    lines.append("")
    for result in results:
        status = str(result.status)
        lines.append(f"{status:9}{result.name:{WIDTH}}{result.message}")
    failures = sum(r.status is doctor.Status.FAILED for r in results)
    skips = sum(r.status is doctor.Status.SKIPPED for r in results)
    lines.append("")
    if failures:
        lines.append(f"{failures} check(s) failed; {skips} skipped (not set up)")
    else:
        lines.append(f"nothing failed; {skips} skipped (not set up)")
    return lines
