"""`mimdesk actions`: an incident's recovery actions, runbooks, checks and the
verification that holds back "mitigated" and "resolved".

    mimdesk actions ID [--json]
    mimdesk actions ID add TITLE [--owner P] [--due 30m|14:30] [--after A1 A2]
    mimdesk actions ID assign A1 PERSON | start A1 | done A1
    mimdesk actions ID block A1 --reason TEXT | skip A1 --reason TEXT
    mimdesk actions ID depend A2 A1          (A2 waits for A1; circles refused)
    mimdesk actions ID runbook [RUNBOOK]     (list the fitting ones, or start one)
    mimdesk actions ID check [A1]            (run action checks now)
    mimdesk actions ID verify [--override mitigated --reason TEXT]
    mimdesk actions ID rules [--json]         (what the automation rules did)
    mimdesk actions ID undo FIRING            (take a rule's firing back)
    mimdesk actions ID watch                  (run the recovery watch if due)
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mimdesk.domain import actions as model
from mimdesk.domain import rules as rules_model
from mimdesk.domain.errors import DomainError
from mimdesk.domain.lifecycle import parse_status
from mimdesk.domain.runbooks import Library, matching, parse_duration
from mimdesk.domain.times import format_clock, utc_iso

if TYPE_CHECKING:
    from mimdesk.automation import Rulebook
    from mimdesk.cli import Context

EXIT_OK, EXIT_USAGE, EXIT_FAILED, EXIT_UNCHECKED = 0, 2, 1, 5
VERBS = ("list", "add", "assign", "start", "done", "block", "skip", "reopen",
         "depend", "runbook", "check", "verify", "rules", "undo",
         "watch")  # fmt: skip
STATUS_OF = {
    "start": model.ActionStatus.IN_PROGRESS, "done": model.ActionStatus.DONE,
    "block": model.ActionStatus.BLOCKED, "skip": model.ActionStatus.SKIPPED,
    "reopen": model.ActionStatus.OPEN,
}  # fmt: skip


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register `actions` on the main parser's subcommands."""
    p = sub.add_parser(
        "actions",
        parents=[common],
        help="recovery actions and runbooks of an incident; run its checks",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("id", help="an incident id")
    p.add_argument("verb", nargs="?", default="list", choices=VERBS)
    p.add_argument("args", nargs="*", metavar="ARG")
    p.add_argument("--owner", help="add: who owns it (someone on the roster)")
    p.add_argument("--due", help="add: when it is due ('30m' from now, or a time)")
    p.add_argument("--after", nargs="+", default=[], help="add: actions it waits for")
    p.add_argument("--reason", help="block, skip, verify --override: why (kept)")
    p.add_argument("--override", metavar="STATUS", help="verify: mitigated/resolved")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_actions)


def cmd_actions(ctx: Context, args: argparse.Namespace) -> int:
    if args.verb == "list":
        return _list(ctx, args)
    if args.verb == "runbook":
        return _runbook(ctx, args)
    if args.verb == "check":
        return _check(ctx, args)
    if args.verb == "verify":
        return _verify(ctx, args)
    if args.verb in ("rules", "undo", "watch"):
        return _automation(ctx, args)
    decide = _decision(ctx, args)
    return _record(ctx, args.id, decide)


def _decision(ctx: Context, args: argparse.Namespace) -> model.Decision:
    actor, verb, rest = ctx.settings.operator, args.verb, args.args
    if verb == "add":
        if not rest:
            raise DomainError('usage: mimdesk actions ID add "TITLE" [--owner P]')
        due = _due(ctx, args.due)
        return lambda inc, board, roster, now: [
            model.add_action(
                inc, board, roster, " ".join(rest), now=now, actor=actor,
                owner=args.owner, due=due, after=args.after,
            )
        ]  # fmt: skip
    if verb == "assign":
        _want(rest, 2, "assign ACTION PERSON")
        return lambda inc, board, roster, now: [
            model.assign(inc, board, roster, rest[0], rest[1], now=now, actor=actor)
        ]
    if verb == "depend":
        if len(rest) < 2:
            raise DomainError("usage: mimdesk actions ID depend ACTION WAITS_FOR...")
        return lambda inc, board, _roster, now: [
            model.depend(inc, board, rest[0], rest[1:], now=now, actor=actor)
        ]
    _want(
        rest,
        1,
        f"{verb} ACTION" + (" --reason TEXT" if verb in ("block", "skip") else ""),
    )
    status = STATUS_OF[verb]
    return lambda inc, board, _roster, now: [
        model.set_status(
            inc, board, rest[0], status, now=now, actor=actor, reason=args.reason
        )
    ]


def _want(rest: list[str], count: int, usage: str) -> None:
    if len(rest) != count:
        raise DomainError(f"usage: mimdesk actions ID {usage}")


def _due(ctx: Context, text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        return ctx.now() + parse_duration(text)
    except DomainError:
        typed = ctx.time(text)
        return typed.utc if typed else None


def _record(ctx: Context, incident_id: str, decide: model.Decision) -> int:
    from mimdesk.domain.incident import describe

    events = ctx.store().action_command(incident_id, decide).result()
    for event in events:
        print(f"{event.incident_id}: {describe(event)}")
    return EXIT_OK


def _list(ctx: Context, args: argparse.Namespace) -> int:
    if args.args:
        raise DomainError("list takes no arguments")
    store = ctx.read_store()
    incident = store.incident(args.id)
    board, now = store.board(incident.id), ctx.now()
    if args.json:
        _emit(board_json(board, now) | {"incident": incident.id})
        return EXIT_OK
    print("\n".join(board_lines(board, now, ctx)))
    return EXIT_OK


def board_json(board: model.Board, now: datetime) -> dict[str, Any]:
    done = model.progress(board, now)
    return {
        "format": "mimdesk.actions/1",
        "actions": [model.action_json(a, now) for a in board.actions.values()],
        "runbooks": dict(board.runbooks),
        "progress": {"done": done.done, "total": done.total,
                     "blocked": done.blocked,
                     "overdue": [a.id for a in done.overdue]},
        "verify": [
            {"name": c.name, "latest": r.outcome if r else None,
             "reason": r.reason if r else None}
            for c in board.verify
            for r in [board.latest("verify", c.name)]
        ],
        "overrides": [{"status": o.status, "reason": o.reason, "by": o.actor}
                      for o in board.overrides],
    }  # fmt: skip


def board_lines(board: model.Board, now: datetime, ctx: Context) -> list[str]:
    if not board.actions:
        return ["No actions yet. Add one with `mimdesk actions ID add TITLE`, or "
                "start a runbook with `mimdesk actions ID runbook`."]  # fmt: skip
    done = model.progress(board, now)
    lines = [f"Recovery: {done.done}/{done.total} done, {done.blocked} blocked, "
             f"{len(done.overdue)} overdue"]  # fmt: skip
    for a in board.actions.values():
        due = f" due {format_clock(a.due, ctx.zone)}" if a.due else ""
        late = " OVERDUE" if a.overdue(now) else ""
        waits = f" after {','.join(a.after)}" if a.after else ""
        why = f" ({a.reason})" if a.reason else ""
        lines.append(
            f"  {a.id:<4} {a.status.value:<12} {a.owner or '-':<10} {a.title}"
            f"{why}{waits}{due}{late}"
        )
        if a.decision:
            lines.append(f"       decision: {a.decision}")
    for check in board.verify:
        latest = board.latest("verify", check.name)
        lines.append(
            f"Verify: {check.name}: {latest.outcome if latest else 'not run yet'}"
        )
    return lines


def _library(ctx: Context) -> Library:
    from mimdesk.runbook_files import library

    found = library(ctx.paths.config_file, demo=ctx.demo)
    for problem in found.problems:
        print(f"warning: {problem}", file=sys.stderr)
    return found


def _runbook(ctx: Context, args: argparse.Namespace) -> int:
    found = _library(ctx)
    if not args.args:
        incident = ctx.read_store().incident(args.id)
        fits = matching(found.runbooks, incident.services, incident.severity)
        for r in found.runbooks:
            mark = "*" if r in fits else " "
            print(f"{mark} {r.id:<24} {r.name} ({len(r.steps)} steps)")
        if not found.runbooks:
            print("No runbooks found.")
        return EXIT_OK
    _want(args.args, 1, "runbook [RUNBOOK]")
    chosen, actor = found.get(args.args[0]), ctx.settings.operator
    return _record(
        ctx,
        args.id,
        lambda inc, board, roster, now: model.start_runbook(
            inc, board, roster, chosen, now=now, actor=actor
        ),
    )


def _check(ctx: Context, args: argparse.Namespace) -> int:
    """Run the checks of the chosen actions (all with a check if none named)."""
    board = ctx.read_store().board(args.id)
    chosen = [board.get(a) for a in args.args] or list(board.actions.values())
    jobs = [(a.check, a.id) for a in chosen if a.check is not None]
    if not jobs:
        raise DomainError("no action chosen has a check")
    return _run(ctx, args.id, jobs)


def _verify(ctx: Context, args: argparse.Namespace) -> int:
    if args.override:
        target = parse_status(args.override)
        actor = ctx.settings.operator
        return _record(
            ctx,
            args.id,
            lambda inc, board, _roster, now: [
                model.override_verification(
                    inc, board, target, args.reason or "", now=now, actor=actor
                )
            ],
        )
    board = ctx.read_store().board(args.id)
    if not board.verify:
        print("No verification checks (start a runbook that has [[verify]]).")
        return EXIT_OK
    return _run(ctx, args.id, [(c, "verify") for c in board.verify])


def _run(ctx: Context, incident_id: str, jobs: list[Any]) -> int:
    """Run the checks, record each result, exit 1 if one failed, 5 if one
    could not check."""
    from mimdesk.checks import run_check

    source = _check_source(ctx)
    try:
        results = [
            run_check(check, target=target, now=ctx.now(), source=source)
            for check, target in jobs
        ]
    finally:
        if source is not None:
            source.close()
    actor = ctx.settings.operator
    _record(
        ctx,
        incident_id,
        lambda _inc, _board, _roster, now: [
            model.record_check(r, now=now, actor=actor) for r in results
        ],
    )
    outcomes = {r.outcome for r in results}
    if model.FAILED in outcomes:
        return EXIT_FAILED
    return EXIT_UNCHECKED if model.UNKNOWN in outcomes else EXIT_OK


def _check_source(ctx: Context) -> Any:
    """The monitoring checks ask (None: they say they could not check); its
    warnings and why it cannot be used on stderr."""
    from mimdesk.sync.sources import source_for_checks

    chosen = source_for_checks(ctx.settings, demo=ctx.demo)
    if chosen is None:
        print(
            "warning: no Prometheus is configured ([prometheus] url): PromQL "
            "checks are recorded as could not check",
            file=sys.stderr,
        )
        return None
    for warning in chosen.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if chosen.unusable:
        print(f"error: {chosen.unusable}", file=sys.stderr)
    return chosen.source


def _emit(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


# --- automation rules ---------------------------------------------------------------


def rulebook(ctx: Context) -> Rulebook:
    from mimdesk.automation import rulebook as make
    from mimdesk.policy import load_targets

    targets = load_targets()
    for problem in targets.problems:
        print(f"warning: {problem}", file=sys.stderr)
    book = make(
        ctx.settings, runbooks=_library(ctx).runbooks, roles=ctx.roles(),
        directory=ctx.directory(), cadence=targets.value.cadence,
    )  # fmt: skip
    for problem in book.problems():
        print(f"warning: {problem}", file=sys.stderr)
    return book


def fire_rules(ctx: Context, incident_id: str) -> None:
    """After a declaration or a status or severity change: the rules due fire,
    each said on stderr (stdout stays what scripts read)."""
    from mimdesk.automation import fire
    from mimdesk.domain.incident import describe

    if not ctx.settings.automation.enabled:
        return
    for event in fire(ctx.store(), incident_id, rulebook(ctx)).result():
        if event.kind in rules_model.KINDS:  # what each rule did, in one line
            print(f"{event.incident_id}: {describe(event)}", file=sys.stderr)


def _automation(ctx: Context, args: argparse.Namespace) -> int:
    from mimdesk import automation

    if args.verb == "undo":
        _want(args.args, 1, "undo FIRING (an id from `mimdesk actions ID rules`)")
        actor = ctx.settings.operator
        firing = args.args[0].strip().upper()  # ids are read out and typed
        future = automation.undo(ctx.store(), args.id, firing, actor=actor)
        return _print(future.result())
    if args.verb == "watch":
        from mimdesk.checks import run_check

        source = _check_source(ctx)
        try:
            return _print_or(
                "No recovery watch round is due on this incident (a watch runs "
                "after mitigated; see `mimdesk actions ID rules`).",
                automation.watch_round(
                    ctx.store(), args.id,
                    lambda check, target, now: run_check(
                        check, target=target, now=now, source=source
                    ),
                    now=ctx.now, actor=ctx.settings.operator,
                ),
            )  # fmt: skip
        finally:
            if source is not None:
                source.close()
    store = ctx.read_store()
    store.incident(args.id)  # an id that names nothing is an error, not "none"
    found = rules_model.firings(store.timeline(args.id))
    if args.json:
        _emit({"format": "mimdesk.rules/1", "firings": [
            {"id": f.event_id, "rule": f.rule, "trigger": f.trigger,
             "at": utc_iso(f.at), "did": list(f.payload.get("did", ())),
             "undone": f.undone}
            for f in found
        ]})  # fmt: skip
        return EXIT_OK
    for f in found:
        undone = " (undone)" if f.undone else ""
        did = "; ".join(f.payload.get("did", ()))
        print(f"{f.event_id}  {format_clock(f.at, ctx.zone)}  {f.rule}: {did}"
              f"{undone}")  # fmt: skip
    if not found:
        print("No automation rule has fired on this incident.")
    return EXIT_OK


def _print_or(nothing: str, events: list[Any]) -> int:
    if not events:
        print(nothing)
    return _print(events)


def _print(events: list[Any]) -> int:
    from mimdesk.domain.incident import describe

    for event in events:
        print(f"{event.incident_id}: {describe(event)}")
    return EXIT_OK
