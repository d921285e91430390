"""The `mimdesk` command: the console window by default, scriptable subcommands
for automation. Subcommands never need a display and never import Qt."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sqlite3
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from mimdesk import __version__, logs
from mimdesk.cli_actions import add_parsers as add_action_commands
from mimdesk.cli_actions import fire_rules
from mimdesk.cli_alerts import add_parsers as add_alert_commands
from mimdesk.cli_chat import add_parsers as add_chat_commands
from mimdesk.cli_doctor import add_parsers as add_doctor_command
from mimdesk.cli_exercise import add_parsers as add_exercise_commands
from mimdesk.cli_health import add_parsers as add_health_commands
from mimdesk.cli_impact import add_parsers as add_impact_commands
from mimdesk.cli_report import add_parsers as add_report_commands
from mimdesk.cli_seats import add_parsers as add_seat_commands
from mimdesk.cli_updates import add_parsers as add_update_commands
from mimdesk.cli_wall import add_commands as add_wall_commands
from mimdesk.domain import incident as model
from mimdesk.domain import roster as roster_model
from mimdesk.domain.directory import Directory
from mimdesk.domain.errors import DomainError
from mimdesk.domain.lifecycle import ORDER, parse_status
from mimdesk.domain.regulatory import Regime
from mimdesk.domain.roster import RolePolicy
from mimdesk.domain.times import TypedInstant, parse_instant
from mimdesk.paths import resolve
from mimdesk.resources import resource
from mimdesk.settings import (
    Settings,
    load_catalogue,
    load_settings,
    people_directory,
    resolve_zone,
)
from mimdesk.store import backup, journal
from mimdesk.store.db import StoreError, StoreReadOnly, quick_check
from mimdesk.store.store import Store, StoreDamaged

log = logging.getLogger(__name__)

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, EXIT_STORE, EXIT_NOT_FOUND = 0, 1, 2, 3, 4


def _scenario_now(run_folder: Path) -> datetime | None:
    """An exercise run's journal is in scenario time: read it at that time."""
    from mimdesk.domain.scenario import ScenarioError
    from mimdesk.exercise import open_run

    try:
        return open_run(run_folder).scenario_time(datetime.now(UTC))
    except ScenarioError:
        return None


class Context:
    """What every subcommand needs: paths, settings, catalogue, zone, the store."""

    def __init__(self, args: argparse.Namespace) -> None:
        paths = resolve(args.data_dir, args.config)
        self.base_paths = paths
        self.exercise: str | None = getattr(args, "exercise", None)
        self._scenario_now: datetime | None = None
        # Exercises are played with the DEMO people, roles and audiences.
        self.demo: bool = args.demo or self.exercise is not None
        self.paths = paths.for_demo() if args.demo else paths
        if self.exercise is not None:
            from mimdesk.domain.scenario import ScenarioError
            from mimdesk.exercise import find_run
            from mimdesk.paths import exercises_dir, for_exercise

            try:
                found = find_run(exercises_dir(paths), self.exercise)
            except ScenarioError as exc:
                raise DomainError(str(exc)) from None
            self.paths = for_exercise(paths, found)
            self._scenario_now = _scenario_now(found)
        loaded = load_settings(self.paths.config_file)
        self.settings: Settings = loaded.settings
        for problem in loaded.problems:
            print(f"warning: {problem}", file=sys.stderr)
        self.zone: tzinfo = resolve_zone(self.settings.timezone)
        self.catalogue_path = catalogue_path(args, self.settings)
        self.catalogue, problem = load_catalogue(self.catalogue_path)
        self.catalogue_problem = problem
        if problem:
            print(f"warning: {problem}", file=sys.stderr)
        self._store: Store | None = None
        self._directory: Directory | None = None
        self._reading = False

    def now(self) -> datetime:
        """The run's scenario clock with --exercise (frozen once it stopped)."""
        if self.exercise is not None and self._scenario_now is not None:
            return self._scenario_now
        return datetime.now(UTC)

    def check_folder(self) -> None:
        folder = self.paths.store.parent
        if folder.exists() and not folder.is_dir():
            raise StoreError(
                f"{folder} is a file, not a folder: point --data-dir or "
                "MIMDESK_DATA_DIR at a folder"
            )

    def _folder_read_only(self) -> bool:
        folder = self.paths.store.parent
        return folder.is_dir() and not os.access(folder, os.W_OK)

    def store(self) -> Store:
        if self._store is None:
            if self.exercise is not None:
                if not self._reading:
                    raise DomainError(
                        "an exercise run is read-only from the command line (its "
                        "journal is in scenario time); play along in the console"
                    )
                self._store = Store(self.paths.store, read_only=True)
                return self._store
            self.check_folder()
            if self._folder_read_only():
                raise StoreReadOnly(
                    f"the data folder {self.paths.store.parent} is read-only, so "
                    "nothing can be recorded there; use --data-dir to choose "
                    "a writable one (reading still works)"
                )
            self._store = Store.open(self.paths.store, backups=self.paths.backups)
            self._store.chat_handles = self.handles
            if self.demo and self.exercise is None:
                from mimdesk.demo import seed

                seed(self._store, self.now())
        return self._store

    def read_store(self) -> Store:
        """The store for reading; a damaged one is read through a copy."""
        if self._folder_read_only() and self.paths.store.exists():
            print(
                f"warning: {self.paths.store.parent} is read-only; "
                "showing the store as it was last written",
                file=sys.stderr,
            )
            self._store = Store(self.paths.store, immutable=True)
            return self._store
        self._reading = True
        try:
            return self.store()
        except StoreDamaged as exc:
            copy = backup.readonly_copy(
                exc.damage.path, self.paths.recovery, self.now()
            )
            print(f"warning: {exc}\nwarning: reading a copy: {copy}", file=sys.stderr)
            self._store = Store(copy, read_only=True)
            return self._store

    def regimes(self) -> list[Regime]:
        """The regulations whose report clocks run (DORA in --demo if none set)."""
        from mimdesk.policy import choose_regimes, load_regulatory

        loaded = load_regulatory()
        regimes, unknown = choose_regimes(self.settings, loaded.value, demo=self.demo)
        for problem in (*loaded.problems, *unknown):
            print(f"warning: {problem}", file=sys.stderr)
        return regimes

    def roles(self) -> RolePolicy:
        """The bridge roles (settings' file, else the bundled one)."""
        from mimdesk.policy import load_roles

        loaded = load_roles(self.settings.roles)
        for problem in loaded.problems:
            print(f"warning: {problem}", file=sys.stderr)
        return loaded.value

    def directory(self) -> Directory:
        """People to mobilise (loaded once; a broken file is a warning)."""
        if self._directory is None:
            self._directory, problem = people_directory(self.settings, demo=self.demo)
            if problem:
                print(f"warning: {problem}", file=sys.stderr)
        return self._directory

    def handles(self, person_id: str) -> dict[str, str]:
        """A person's chat handles, for invites when they are asked to join."""
        person = self.directory().get(person_id)
        return dict(person.handles) if person else {}

    def time(self, text: str | None) -> TypedInstant | None:
        if text is None:
            return None
        return parse_instant(text, zone=self.zone, now=self.now())

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


def catalogue_path(args: argparse.Namespace, settings: Settings) -> Path:
    chosen = args.catalogue or os.environ.get("MIMDESK_CATALOGUE")
    if chosen:
        return Path(chosen).expanduser()
    return settings.catalogue or resource("catalogues", "sample.toml")


def _emit_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


# --- incident -------------------------------------------------------------------


def cmd_declare(ctx: Context, args: argparse.Namespace) -> int:
    detected = ctx.time(args.detected_at)
    if args.service and ctx.catalogue_problem:
        raise DomainError(
            "cannot check the service ids, the catalogue did not load "
            f"({ctx.catalogue_problem}); fix it, or declare without --service"
        )
    known = ctx.catalogue.ids
    incident_id = (
        ctx.store()
        .declare(
            title=args.title,
            severity=args.severity,
            services=args.service or [],
            detected_at=detected.utc if detected else None,
            typed_offset=detected.typed_offset if detected else None,
            actor=ctx.settings.operator,
            known_services=known,
        )
        .result()
    )
    print(incident_id)
    fire_rules(ctx, incident_id)
    return EXIT_OK


def cmd_list(ctx: Context, args: argparse.Namespace) -> int:
    from mimdesk import report

    incidents = ctx.read_store().incidents(include_closed=not args.open)
    now = ctx.now()
    if args.json:
        scale = ctx.settings.severity
        items = [report.incident_json(i, scale, now) for i in incidents]
        _emit_json({"format": report.LIST_FORMAT, "incidents": items})
    elif not incidents:
        print(
            "No incidents. Declare one: mimdesk incident declare --title T --severity N"
        )
    else:
        for incident in incidents:
            print(report.list_line(incident, now))
    return EXIT_OK


def cmd_show(ctx: Context, args: argparse.Namespace) -> int:
    from mimdesk import report

    store = ctx.read_store()
    incident = store.incident(args.id)
    events = store.timeline(incident.id)
    now, scale = ctx.now(), ctx.settings.severity
    if args.json:
        _emit_json(
            {
                "format": report.SHOW_FORMAT,
                "incident": report.incident_json(incident, scale, now),
                "timeline": [report.event_json(e) for e in events],
            }
        )
    else:
        print("\n".join(report.incident_lines(incident, events, scale, ctx.zone, now)))
    return EXIT_OK


def cmd_note(ctx: Context, args: argparse.Namespace) -> int:
    at = ctx.time(args.at)
    events = (
        ctx.store()
        .add_note(
            args.id,
            " ".join(args.text),
            actor=ctx.settings.operator,
            at=at.utc if at else None,
            typed_offset=at.typed_offset if at else None,
        )
        .result()
    )
    print(f"{events[0].incident_id}: note recorded (event {events[0].id})")
    return EXIT_OK


def cmd_status(ctx: Context, args: argparse.Namespace) -> int:
    at = ctx.time(args.at)
    events = (
        ctx.store()
        .change_status(
            args.id,
            parse_status(args.status),
            actor=ctx.settings.operator,
            at=at.utc if at else None,
            typed_offset=at.typed_offset if at else None,
            reason=args.reason,
        )
        .result()
    )
    from mimdesk.domain.incident import describe

    print(f"{events[0].incident_id}: {describe(events[0])}")
    fire_rules(ctx, events[0].incident_id)
    return EXIT_OK


def cmd_severity(ctx: Context, args: argparse.Namespace) -> int:
    store = ctx.store()
    store.change_severity(args.id, args.severity, actor=ctx.settings.operator).result()
    print(f"{journal.normalise_id(args.id)}: severity now SEV{args.severity}")
    fire_rules(ctx, journal.normalise_id(args.id))
    return EXIT_OK


def _record(ctx: Context, incident_id: str, decide: Any) -> int:
    """Run a domain command on the incident and print what was recorded."""
    from mimdesk.domain.incident import describe

    events = ctx.store().command(incident_id, decide).result()
    print(f"{events[0].incident_id}: {describe(events[0])}")
    return EXIT_OK


def cmd_update(ctx: Context, args: argparse.Namespace) -> int:
    at, actor = ctx.time(args.at), ctx.settings.operator
    return _record(
        ctx,
        args.id,
        lambda state, now: model.record_update_sent(
            state, " ".join(args.summary), now=now, actor=actor,
            at=at.utc if at else None, audience=args.audience,
        ),
    )  # fmt: skip


def cmd_report(ctx: Context, args: argparse.Namespace) -> int:
    at, actor = ctx.time(args.at), ctx.settings.operator
    key = args.report.strip().lower()
    ctx.read_store().incident(args.id)  # an unknown incident is exit 4, first
    regimes = ctx.regimes()
    known = [f"{r.id}.{rule.id}" for r in regimes for rule in r.reports]
    if key not in known:
        choices = ", ".join(known) or "none (set regulations = [...] in settings.toml)"
        raise DomainError(f"unknown report {args.report!r}; reports here: {choices}")
    return _record(
        ctx,
        args.id,
        lambda state, now: model.record_report_sent(
            state,
            key,
            now=now,
            actor=actor,
            at=at.utc if at else None,
            regimes=regimes,
        ),
    )


def cmd_bridge(ctx: Context, args: argparse.Namespace) -> int:
    actor = ctx.settings.operator
    return _record(
        ctx,
        args.id,
        lambda state, now: model.set_bridge(
            state, args.url, dial_in=args.dial_in, now=now, actor=actor
        ),
    )


def cmd_impact(ctx: Context, args: argparse.Namespace) -> int:
    at, actor = ctx.time(args.time), ctx.settings.operator
    assert at is not None
    return _record(
        ctx,
        args.id,
        lambda state, now: model.set_impact_started(
            state, at.utc, now=now, actor=actor, typed_offset=at.typed_offset
        ),
    )


def cmd_correct(ctx: Context, args: argparse.Namespace) -> int:
    at, actor, status = (
        ctx.time(args.time),
        ctx.settings.operator,
        parse_status(args.status),
    )
    assert at is not None
    return _record(
        ctx,
        args.id,
        lambda state, now: model.correct_milestone(
            state, status, at.utc, reason=args.reason, now=now, actor=actor,
            typed_offset=at.typed_offset,
        ),
    )  # fmt: skip


def cmd_clock(ctx: Context, args: argparse.Namespace) -> int:
    from mimdesk import report
    from mimdesk.policy import load_targets

    store = ctx.read_store()
    incident = store.incident(args.id)
    targets = load_targets()
    for problem in targets.problems:
        print(f"warning: {problem}", file=sys.stderr)
    data = report.clock_json(
        incident, store.timeline(incident.id), targets.value, ctx.regimes(), ctx.now()
    )
    if args.json:
        _emit_json(data)
    else:
        print("\n".join(report.clock_lines(data, ctx.zone, ctx.now())))
    return EXIT_OK


# --- roster ---------------------------------------------------------------------

ROSTER_ACTIONS = ("show", "request", "ack", "join", "leave", "assign")


def _roster_view(ctx: Context, incident_id: str) -> dict[str, Any]:
    from mimdesk import report

    store = ctx.read_store()
    incident = store.incident(incident_id)
    roster = store.roster(incident.id)
    return report.roster_json(incident, roster, ctx.directory(), ctx.roles(), ctx.now())


def cmd_roster(ctx: Context, args: argparse.Namespace) -> int:
    from mimdesk import report

    if args.action == "show":
        data = _roster_view(ctx, args.id)
        if args.json:
            _emit_json(data)
        else:
            print("\n".join(report.roster_lines(data, ctx.zone, ctx.now())))
        return EXIT_OK
    if args.action == "assign":
        if len(args.people) != 2:
            raise DomainError("usage: mimdesk roster ID assign ROLE PERSON")
        role, person = args.people
        return _roster_change(ctx, args, [person], role=role)
    if not args.people:
        raise DomainError(
            f"name who to {args.action}: mimdesk roster ID {args.action} PERSON"
        )
    return _roster_change(ctx, args, args.people, role=args.role)


def _roster_change(
    ctx: Context, args: argparse.Namespace, people: list[str], role: str | None
) -> int:
    """Record each person on their own: one refusal does not stop the others."""
    at = ctx.time(args.at)
    directory, policy, failures = ctx.directory(), ctx.roles(), 0
    for person in people:
        when = at.utc if at else None
        decide = roster_model.decision(
            args.action, person, role, at=when, actor=ctx.settings.operator,
            policy=policy,
        )  # fmt: skip
        try:
            events = ctx.store().roster_command(args.id, decide).result()
        except DomainError as exc:
            failures += 1
            print(f"error: {person}: {exc}", file=sys.stderr)
            continue
        from mimdesk.domain.incident import describe

        unknown = "" if directory.get(person) else " (not in the directory)"
        print(f"{events[0].incident_id}: {describe(events[0])}{unknown}")
    return EXIT_USAGE if failures else EXIT_OK


# --- journal and store ----------------------------------------------------------


def cmd_verify(ctx: Context, args: argparse.Namespace) -> int:
    store = ctx.read_store()
    problems = store.verify(args.id)
    scope = journal.normalise_id(args.id) if args.id else "the whole journal"
    if not problems:
        print(f"journal ok: {store.event_count()} events, chain intact ({scope})")
        held = store.events_by_seat(args.id)
        if len(held) > 1 or store.seat not in held:
            for seat, count in held.items():
                mine = " (this seat)" if seat == store.seat else ""
                noun = "event" if count == 1 else "events"
                print(f"  seat {seat}{mine}: {count} {noun}, its chain intact")
        return EXIT_OK
    for problem in problems:
        print(problem.message)
    print(f"journal verify: {len(problems)} problem(s) in {scope}", file=sys.stderr)
    return EXIT_PROBLEMS


def cmd_rebuild(ctx: Context, args: argparse.Namespace) -> int:
    count = ctx.store().rebuild(force=args.force).result()
    print(f"read model rebuilt from the journal: {count} incident(s)")
    return EXIT_OK


def cmd_store_check(ctx: Context, args: argparse.Namespace) -> int:
    path = ctx.paths.store
    ctx.check_folder()
    if not path.exists():
        print(f"{path}: no store yet (it is created on first use)")
        return EXIT_OK
    problems = quick_check(path)
    latest = backup.latest_backup(ctx.paths.backups)
    print(f"store:  {path}\nbackup: {latest or 'none yet'}")
    if problems:
        print("quick_check FAILED:\n  " + "\n  ".join(problems[:20]))
        return EXIT_PROBLEMS
    print("quick_check ok")
    return EXIT_OK


def cmd_store_backup(ctx: Context, args: argparse.Namespace) -> int:
    print(ctx.store().backup_now().result())
    return EXIT_OK


def cmd_store_restore(ctx: Context, args: argparse.Namespace) -> int:
    from mimdesk.store import salvage

    replaced = ctx.paths.store.exists()
    ctx.paths.store.parent.mkdir(parents=True, exist_ok=True)
    aside = backup.restore(Path(args.backup), ctx.paths.store, ctx.now())
    print(f"restored {ctx.paths.store} from {args.backup}")
    if not replaced:  # a store moved to a new folder: nothing to keep or replay
        return EXIT_OK
    print(f"the previous file is kept as {aside}")
    if args.no_replay:
        return EXIT_OK
    result = salvage.replay(aside, ctx.paths.store)
    print(f"recovered {result.recovered} later event(s) from the previous file")
    if result.stopped:
        print(f"recovery stopped: {result.stopped}")
    return EXIT_OK


# --- parser ---------------------------------------------------------------------


def _global_options(parser: argparse.ArgumentParser, suppress: bool) -> None:
    default: Any = argparse.SUPPRESS if suppress else None
    parser.add_argument(
        "--data-dir", default=default, help="data folder (env MIMDESK_DATA_DIR)"
    )
    parser.add_argument(
        "--config", default=default, help="settings file (env MIMDESK_CONFIG)"
    )
    parser.add_argument(
        "--catalogue", default=default, help="service catalogue (env MIMDESK_CATALOGUE)"
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        default=argparse.SUPPRESS if suppress else False,
        help="use the separate demo store, filled with DEMO incidents",
    )
    parser.add_argument(
        "--exercise",
        metavar="RUN",
        default=default,
        help="read an exercise run's store (see `mimdesk exercise list`)",
    )
    parser.add_argument(
        "--log-level",
        default=default,
        choices=list(logs.LEVELS),
        type=str.lower,
        help="what the log file keeps (env MIMDESK_LOG_LEVEL; default info)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mimdesk",
        description="MIMDesk: command centre for major IT incidents. "
        "With no command, opens the console window.",
    )
    parser.add_argument("--version", action="version", version=f"mimdesk {__version__}")
    _global_options(parser, suppress=False)
    parser.add_argument("--screenshot", metavar="PNG", help=argparse.SUPPRESS)
    common = argparse.ArgumentParser(add_help=False)
    _global_options(common, suppress=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    inc = sub.add_parser("incident", help="declare, list, show and update incidents")
    isub = inc.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = isub.add_parser("declare", parents=[common], help="open a new incident")
    p.add_argument("--title", required=True)
    p.add_argument("--severity", type=int, required=True, choices=[1, 2, 3, 4])
    p.add_argument("--service", action="append", metavar="ID", help="repeatable")
    p.add_argument("--detected-at", metavar="TIME", help="default: now")
    p.set_defaults(func=cmd_declare)
    p = isub.add_parser("list", parents=[common], help="open, then recent incidents")
    p.add_argument("--json", action="store_true")
    p.add_argument("--open", action="store_true", help="open incidents only")
    p.set_defaults(func=cmd_list)
    p = isub.add_parser("show", parents=[common], help="one incident and its timeline")
    p.add_argument("id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_show)
    p = isub.add_parser("note", parents=[common], help="add a note to the timeline")
    p.add_argument("id")
    p.add_argument("text", nargs="+")
    p.add_argument("--at", metavar="TIME", help="when it happened (default: now)")
    p.set_defaults(func=cmd_note)
    p = isub.add_parser("status", parents=[common], help="move to a status")
    p.add_argument("id")
    p.add_argument("status", help=" | ".join(s.value for s in ORDER))
    p.add_argument("--at", metavar="TIME", help="milestone time (default: now)")
    p.add_argument("--reason", help="why (recorded with the change)")
    p.set_defaults(func=cmd_status)
    p = isub.add_parser("severity", parents=[common], help="change the severity")
    p.add_argument("id")
    p.add_argument("severity", type=int, choices=[1, 2, 3, 4])
    p.set_defaults(func=cmd_severity)

    ros = sub.add_parser(
        "roster",
        parents=[common],
        help="who is on the bridge: show, request, ack, join, leave, assign",
    )
    ros.add_argument("id")
    ros.add_argument("action", nargs="?", default="show", choices=ROSTER_ACTIONS)
    ros.add_argument(
        "people", nargs="*", metavar="PERSON", help="(assign: ROLE PERSON)"
    )
    ros.add_argument("--role", help="the role they take (request, join)")
    ros.add_argument("--at", metavar="TIME", help="when it happened (default: now)")
    ros.add_argument("--json", action="store_true")
    ros.set_defaults(func=cmd_roster)

    p = isub.add_parser(
        "update", parents=[common], help="record a stakeholder update as sent"
    )
    p.add_argument("id")
    p.add_argument("summary", nargs="*", help="what it said, in a line")
    p.add_argument("--audience", help="who it went to (executives, customers...)")
    p.add_argument("--at", metavar="TIME", help="when it went out (default: now)")
    p.set_defaults(func=cmd_update)
    p = isub.add_parser(
        "report", parents=[common], help="record a regulatory report as sent"
    )
    p.add_argument("id")
    p.add_argument("report", help="regulation.report, e.g. dora.initial (see `clock`)")
    p.add_argument("--at", metavar="TIME", help="when it was sent (default: now)")
    p.set_defaults(func=cmd_report)
    p = isub.add_parser(
        "bridge", parents=[common], help="set the conference link / dial-in"
    )
    p.add_argument("id")
    p.add_argument("url", nargs="?", help="any link: Teams, Zoom, Meet, Jitsi, tel:")
    p.add_argument("--dial-in", help="a dial-in number and code, as text")
    p.set_defaults(func=cmd_bridge)
    p = isub.add_parser("impact", parents=[common], help="set when impact started")
    p.add_argument("id")
    p.add_argument("time", metavar="TIME")
    p.set_defaults(func=cmd_impact)
    p = isub.add_parser("correct", parents=[common], help="correct a milestone's time")
    p.add_argument("id")
    p.add_argument("status")
    p.add_argument("time", metavar="TIME")
    p.add_argument("--reason", required=True, help="why (kept in the journal)")
    p.set_defaults(func=cmd_correct)
    p = isub.add_parser(
        "clock", parents=[common], help="targets, next update, report clocks"
    )
    p.add_argument("id")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_clock)

    jour = sub.add_parser("journal", help="check or rebuild from the journal")
    jsub = jour.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = jsub.add_parser("verify", parents=[common], help="check the hash chain")
    p.add_argument("id", nargs="?")
    p.set_defaults(func=cmd_verify)
    p = jsub.add_parser("rebuild", parents=[common], help="refold the read model")
    p.add_argument(
        "--force",
        action="store_true",
        help="rebuild even though the journal lost events the read model saw",
    )
    p.set_defaults(func=cmd_rebuild)

    sto = sub.add_parser("store", help="check, back up or restore the store")
    ssub = sto.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = ssub.add_parser("check", parents=[common], help="run PRAGMA quick_check")
    p.set_defaults(func=cmd_store_check)
    p = ssub.add_parser("backup", parents=[common], help="write a backup now")
    p.set_defaults(func=cmd_store_backup)
    p = ssub.add_parser(
        "restore", parents=[common], help="replace the store by a backup"
    )
    p.add_argument("backup")
    p.add_argument(
        "--no-replay",
        action="store_true",
        help="do not recover later events from the file being replaced",
    )
    p.set_defaults(func=cmd_store_restore)
    add_wall_commands(sub, common)
    add_health_commands(sub, common)
    add_alert_commands(sub, common)
    add_chat_commands(sub, common)
    add_impact_commands(sub, common)
    add_action_commands(sub, common)
    add_report_commands(sub, common)
    add_update_commands(sub, common)
    add_doctor_command(sub, common)
    add_exercise_commands(sub, common)
    add_seat_commands(sub, common)
    return parser


def _run(
    func: Callable[[Context, argparse.Namespace], int], ctx: Context, args: Any
) -> int:
    try:
        code: int = func(ctx, args)
        return code
    except journal.IncidentNotFound as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return EXIT_NOT_FOUND
    except DomainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_STORE
    except BrokenPipeError:
        raise  # the reader went away (`| head`): not the store's fault
    except (sqlite3.Error, OSError) as exc:
        # A full disk, a read-only folder, a file another program locked...
        print(
            f"error: the store at {ctx.paths.store} could not be used: {exc}. "
            "Nothing was recorded; check free space and permissions, then retry.",
            file=sys.stderr,
        )
        return EXIT_STORE
    finally:
        ctx.close()


def log_level(args: argparse.Namespace) -> int:
    """The level chosen by --log-level or MIMDESK_LOG_LEVEL (a bad one is said)."""
    level, problem = logs.chosen_level(args.log_level)
    if problem:
        print(f"warning: {problem}", file=sys.stderr)
    return level


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command is None:
        from mimdesk.app import run_gui

        return run_gui(args)
    log_dir = resolve(args.data_dir, args.config).log_dir
    log_file = logs.configure(log_dir, level=log_level(args), console=False)
    restore_hooks = logs.install_excepthooks(logs.cli_report(log_file))
    try:
        ctx = Context(args)
    except DomainError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return _run(args.func, ctx, args)
    except BrokenPipeError:
        # Output piped into `head` and the like: stop quietly.
        sys.stderr.close()
        return EXIT_OK
    except Exception as exc:  # noqa: BLE001 - a bug: logged with its traceback
        sys.excepthook(type(exc), exc, exc.__traceback__)
        return EXIT_PROBLEMS
    finally:
        restore_hooks()
