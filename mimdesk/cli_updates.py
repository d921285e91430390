"""`mimdesk update`: preview, send and approve stakeholder updates."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from mimdesk.domain import events as ev
from mimdesk.domain import stakeholder
from mimdesk.domain.audiences import UPDATE_TYPES, Audience, Audiences
from mimdesk.domain.errors import DomainError
from mimdesk.domain.incident import Incident
from mimdesk.settings import stakeholder_audiences

if TYPE_CHECKING:
    from mimdesk.cli import Context
    from mimdesk.updates import Rendered

EXIT_OK, EXIT_PROBLEMS = 0, 1
FORMAT = "mimdesk.update/1"


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    upd = sub.add_parser(
        "update", help="stakeholder updates: preview, send, approve, drafts"
    )
    usub = upd.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, func, text in (
        ("preview", cmd_preview, "show exactly what each audience would receive"),
        ("send", cmd_send, "send (or, with approval on, draft) the update"),
    ):
        p = usub.add_parser(name, parents=[common], help=text)
        p.add_argument("id")
        p.add_argument(
            "--type", choices=UPDATE_TYPES, dest="update_type",
            help="initial, update, mitigated or resolved (default: from the status)",
        )  # fmt: skip
        p.add_argument(
            "--audience", action="append", metavar="A",
            help="an audience id (repeatable; default: those the type goes to)",
        )  # fmt: skip
        p.add_argument("--message", default="", help="what is new, in your words")
        p.add_argument("--json", action="store_true")
        p.set_defaults(func=func)
    p = usub.add_parser("drafts", parents=[common], help="updates awaiting approval")
    p.add_argument("id")
    p.set_defaults(func=cmd_drafts)
    p = usub.add_parser(
        "approve", parents=[common], help="approve a draft (not your own): sends it"
    )
    p.add_argument("id")
    p.add_argument("draft", help="the draft's id, as `update drafts` shows it")
    p.set_defaults(func=cmd_approve)
    p = usub.add_parser("audiences", parents=[common], help="who can be told, how")
    p.set_defaults(func=cmd_audiences)


def _audiences(ctx: Context) -> Audiences:
    found, problem = stakeholder_audiences(ctx.settings, demo=ctx.demo)
    if problem:
        raise DomainError(problem)
    if not found.audiences:
        raise DomainError(
            'no audiences are set up: add `audiences = "audiences.toml"` to the '
            "settings (see resources/audiences/sample.toml and the README, "
            "'Stakeholder updates')"
        )
    return found


def _chosen(
    audiences: Audiences, wanted: list[str] | None, update_type: str
) -> list[Audience]:
    if wanted:
        return [audiences.get(a.strip()) for a in wanted]
    chosen = audiences.default_for(update_type)
    if not chosen:
        raise DomainError(f"no audience receives {update_type} updates by default")
    return chosen


def render(
    ctx: Context, args: argparse.Namespace
) -> tuple[Incident, str, Audiences, list[Rendered]]:
    from mimdesk.policy import load_targets
    from mimdesk.updates import context_for, render_all, update_type_for

    store = ctx.read_store()
    incident = store.incident(args.id)
    audiences = _audiences(ctx)
    update_type = args.update_type or update_type_for(incident)
    chosen = _chosen(audiences, args.audience, update_type)
    cadence = load_targets().value.cadence
    context = context_for(
        incident, update_type=update_type, message=args.message, now=ctx.now(),
        zone=ctx.zone, severity=ctx.settings.severity,
        next_update_in=cadence.get(incident.severity), impact=None,
        operator=ctx.settings.operator,
    )  # fmt: skip
    folders = [_folder(audiences)] if audiences.templates else []
    return (
        incident,
        update_type,
        audiences,
        render_all(chosen, update_type, context, folders),
    )


def _folder(audiences: Audiences) -> Any:
    from pathlib import Path

    return Path(audiences.templates or ".")


def _copies(rendered: list[Rendered]) -> list[dict[str, str]]:
    return [r.copy() for r in rendered]


def _show(rendered: list[Rendered]) -> None:
    for r in rendered:
        routes = ", ".join(r.audience.routes())
        print(f"=== {r.audience.name} ({r.audience.id}) via {routes}")
        if r.audience.email:
            print(f"To: {', '.join(r.audience.email)}")
        print(f"Subject: {r.subject}\n\n{r.body}\n")


def cmd_preview(ctx: Context, args: argparse.Namespace) -> int:
    from mimdesk.updates import deliveries

    incident, update_type, _, rendered = render(ctx, args)
    if args.json:
        print(json.dumps({
            "format": FORMAT, "incident": incident.id, "update_type": update_type,
            "copies": _copies(rendered), "deliveries": deliveries(rendered),
        }, indent=2, ensure_ascii=False))  # fmt: skip
        return EXIT_OK
    _show(rendered)
    return EXIT_OK


def cmd_send(ctx: Context, args: argparse.Namespace) -> int:
    from mimdesk.sync.chat_setup import chat_setup
    from mimdesk.updates import deliveries, not_set_up

    incident, update_type, audiences, rendered = render(ctx, args)
    planned = deliveries(rendered)
    problem = not_set_up(planned, chat_setup(ctx.settings.chat).factories)
    if problem:
        raise DomainError(
            f"{problem}; nothing was sent (choose audiences with --audience)"
        )
    written = (
        ctx.store()
        .send_update(
            incident.id, update_type=update_type, copies=_copies(rendered),
            deliveries=planned, actor=ctx.settings.operator,
            draft=audiences.approval,
        )
        .result()
    )  # fmt: skip
    event = written[-1]
    if args.json:
        shown = {"format": FORMAT, "incident": incident.id, "event": event.id,
                 "kind": event.kind, **dict(event.payload)}  # fmt: skip
        print(json.dumps(shown, indent=2, ensure_ascii=False))
        return EXIT_OK
    names = ", ".join(r.audience.name for r in rendered)
    if event.kind == ev.UPDATE_DRAFTED:
        print(
            f"{incident.id}: {update_type} update drafted for {names}; it goes out "
            f"when someone else runs `mimdesk update approve {incident.id} "
            f"{event.id[:8]}`"
        )
    else:
        print(f"{incident.id}: {update_type} update queued for {names}")
    for skipped in event.payload.get("skipped", ()):
        print(
            f"note: not sent to {skipped['audience']} on {skipped['platform']}: "
            f"{skipped['why']} (`mimdesk chat open {incident.id}` first)",
            file=sys.stderr,
        )
    return EXIT_OK


def cmd_drafts(ctx: Context, args: argparse.Namespace) -> int:
    store = ctx.read_store()
    incident = store.incident(args.id)
    drafts = stakeholder.pending_drafts(store.timeline(incident.id))
    if not drafts:
        print(f"{incident.id}: no update awaits approval")
    for draft in drafts:
        p = draft.payload
        print(
            f"{draft.id[:8]}  by {draft.actor}  {p['update_type']} to {p['audience']}"
        )
        print(f"          {p['summary']}")
    return EXIT_OK


def cmd_approve(ctx: Context, args: argparse.Namespace) -> int:
    store = ctx.store()
    incident = store.incident(args.id)
    written = store.approve_update(
        incident.id, args.draft, actor=ctx.settings.operator
    ).result()
    sent = written[-1].payload
    print(f"{incident.id}: update approved and queued for {sent['audience']}")
    return EXIT_OK


def cmd_audiences(ctx: Context, _args: argparse.Namespace) -> int:
    audiences = _audiences(ctx)
    for a in audiences.audiences:
        kinds = ", ".join(a.types) if a.types else "all updates"
        print(f"{a.id:<16} {a.name}  via {', '.join(a.routes())}  ({kinds})")
    if audiences.approval:
        print("approval: on (an update is drafted, then approved by someone else)")
    return EXIT_OK
