"""`mimdesk chat`, `mimdesk outbox` and `mimdesk secret`: incident channels,
the queue of outbound messages, and the secrets they need."""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from typing import TYPE_CHECKING, Any

from mimdesk.domain import chat as chat_model
from mimdesk.domain.errors import DomainError
from mimdesk.domain.outbox import BLOCKING, Item
from mimdesk.domain.times import format_duration, format_instant, utc_iso
from mimdesk.secrets import delete_secret, env_name, keyring_problem, set_secret

if TYPE_CHECKING:
    from mimdesk.cli import Context
    from mimdesk.sync.chat_setup import ChatSetup

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2
OTHER_SECRETS = ("prometheus", "alertmanager", "receiver")
DEVICE_KEY = "matrix.device_id"


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    chat = sub.add_parser("chat", help="incident channels on Matrix, Slack, Teams")
    csub = chat.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = csub.add_parser(
        "open", parents=[common], help="open the incident's channel, invite the roster"
    )
    p.add_argument("id")
    p.add_argument(
        "--platform", action="append", metavar="P",
        help="matrix, slack or teams (repeatable; default: [chat] platforms)",
    )  # fmt: skip
    p.set_defaults(func=cmd_open)
    p = csub.add_parser("post", parents=[common], help="post a message to the channel")
    p.add_argument("id")
    p.add_argument("text", nargs="+")
    p.add_argument("--platform", action="append", metavar="P")
    p.set_defaults(func=cmd_post)
    p = csub.add_parser(
        "pin", parents=[common], help="pin a chat message as a key timeline entry"
    )
    p.add_argument("id")
    p.add_argument("event", help="the event id shown by `incident show --json`")
    p.add_argument("--unpin", action="store_true")
    p.set_defaults(func=cmd_pin)
    p = csub.add_parser(
        "sync",
        parents=[common],
        help="deliver queued messages and read replies, then exit",
    )
    p.add_argument(
        "--wait", type=float, default=30.0, metavar="SECONDS",
        help="give up waiting for the queue to drain after this long (default 30)",
    )  # fmt: skip
    p.set_defaults(func=cmd_sync)

    out = sub.add_parser(
        "outbox", help="messages waiting to go out: list, retry, cancel"
    )
    osub = out.add_subparsers(dest="action", metavar="ACTION", required=True)
    p = osub.add_parser("list", parents=[common], help="waiting messages, oldest first")
    p.add_argument("--all", action="store_true", help="delivered and cancelled too")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_outbox_list)
    for name, func, text in (
        ("retry", cmd_outbox_retry, "send a failed or unknown message again"),
        ("cancel", cmd_outbox_cancel, "drop a message so the ones after it can go"),
    ):
        p = osub.add_parser(name, parents=[common], help=text)
        p.add_argument("item", type=int, metavar="ID")
        p.set_defaults(func=func)

    sec = sub.add_parser("secret", help="store or delete a secret in the keyring")
    ssub = sec.add_subparsers(dest="action", metavar="ACTION", required=True)
    names = ", ".join(secret_names())
    p = ssub.add_parser("set", parents=[common], help=f"prompt for one of: {names}")
    p.add_argument("name")
    p.set_defaults(func=cmd_secret_set)
    p = ssub.add_parser("delete", parents=[common], help="remove a stored secret")
    p.add_argument("name")
    p.set_defaults(func=cmd_secret_delete)


def secret_names() -> tuple[str, ...]:
    from mimdesk.sync.chat_setup import SECRETS

    return (*SECRETS, *OTHER_SECRETS)


# --- chat -------------------------------------------------------------------------


def setup_for(ctx: Context) -> ChatSetup:
    from mimdesk.sync.chat_setup import chat_setup

    store = ctx.store()

    def save(device: str) -> None:
        store.set_meta(DEVICE_KEY, device).result()

    setup = chat_setup(ctx.settings.chat, device=(lambda: store.meta(DEVICE_KEY), save))
    for problem in setup.problems:
        print(f"warning: {problem}", file=sys.stderr)
    if setup.keyring:
        print(f"warning: {setup.keyring}", file=sys.stderr)
    return setup


def _platforms(ctx: Context, chosen: list[str] | None) -> list[str]:
    if chosen:
        return list(chat_model.check_platforms(chosen))
    setup = setup_for(ctx)
    if not setup.default_platforms:
        raise DomainError(
            "no chat platform is set up: add [matrix], [slack] or [teams] to the "
            "settings (see the README, 'Chat'), or name one with --platform"
        )
    return list(setup.default_platforms)


def cmd_open(ctx: Context, args: argparse.Namespace) -> int:
    store = ctx.store()
    incident = store.incident(args.id)
    platforms = _platforms(ctx, args.platform)
    people = list(store.roster(incident.id).participants)
    invites: dict[str, list[chat_model.Invite]] = {}
    for platform in platforms:
        found, missing = chat_model.invites_for(people, ctx.directory(), platform)
        invites[platform] = found
        if missing:
            print(
                f"note: no {platform} handle for {', '.join(missing)} "
                "(add one to the directory to invite them)",
                file=sys.stderr,
            )
    store.open_chat(incident.id, platforms, actor=ctx.settings.operator,
                    invites=invites).result()  # fmt: skip
    count = sum(len(v) for v in invites.values())
    print(
        f"{incident.id}: channel queued on {', '.join(platforms)}, "
        f"{count} invite(s); `mimdesk chat sync` or the console delivers them"
    )
    return EXIT_OK


def cmd_post(ctx: Context, args: argparse.Namespace) -> int:
    store = ctx.store()
    incident = store.incident(args.id)
    platforms = _platforms(ctx, args.platform)
    text = " ".join(args.text)
    store.post_chat(incident.id, text, platforms, actor=ctx.settings.operator).result()
    print(f"{incident.id}: message queued for {', '.join(platforms)}")
    return EXIT_OK


def cmd_pin(ctx: Context, args: argparse.Namespace) -> int:
    store = ctx.store()
    incident = store.incident(args.id)
    store.pin_chat(incident.id, args.event, actor=ctx.settings.operator,
                   unpin=args.unpin).result()  # fmt: skip
    print(f"{incident.id}: {'unpinned' if args.unpin else 'pinned'} {args.event}")
    return EXIT_OK


def cmd_sync(ctx: Context, args: argparse.Namespace) -> int:
    """Deliver, read once, report: for scripts, kiosks and a quick check."""
    from mimdesk.sync.chat_poller import ChatPoller
    from mimdesk.sync.chat_status import ChatHealth, Link
    from mimdesk.sync.outbox_sender import OutboxSender

    store = ctx.store()
    setup = setup_for(ctx)
    health = ChatHealth()
    sender = OutboxSender(store, setup.factories, health)
    deadline = time.monotonic() + max(args.wait, 0.0)
    try:
        while True:
            wait = sender.run_once()
            due_soon = any(i.state.value == "queued" for i in store.outbox_open())
            stuck = health.needs_auth()
            if not due_soon or stuck or time.monotonic() + wait > deadline:
                break
            time.sleep(max(min(wait, deadline - time.monotonic()), 0.05))
        new: list[int] = []
        for name in sorted(setup.readable):
            if name in health.needs_auth():
                continue
            poller = ChatPoller(store, name, setup.factories[name], health,
                                ctx.directory, on_new=new.append)  # fmt: skip
            poller.read_once()
            poller.stop()
    finally:
        sender.stop()
    waiting = store.outbox_waiting()
    if new:
        print(f"chat: {sum(new)} new message(s) or membership change(s) recorded")
    for state in health.snapshot().values():
        print(state.line())
    print(f"outbox: {waiting.queued} waiting, {waiting.needs_operator} need you")
    for item in store.outbox_open():
        if item.state in BLOCKING:
            print(f"  #{item.id} {item.state}: {item.advice()}")
    bad = any(
        s.link in (Link.NEEDS_AUTH, Link.OFFLINE, Link.NOT_CONFIGURED)
        for s in health.snapshot().values()
    )
    return EXIT_PROBLEMS if waiting.needs_operator or bad else EXIT_OK


# --- outbox -------------------------------------------------------------------------


def item_json(item: Item) -> dict[str, Any]:
    return {
        "id": item.id,
        "incident": item.incident_id,
        "platform": item.platform,
        "kind": item.kind.value,
        "state": item.state.value,
        "what": item.describe(),
        "created_at": utc_iso(item.created_at),
        "attempts": item.attempts,
        "next_attempt_at": utc_iso(item.next_attempt_at)
        if item.next_attempt_at
        else None,
        "last_error": item.last_error or None,
        "remote_id": item.remote_id or None,
        "delivered_at": utc_iso(item.delivered_at) if item.delivered_at else None,
        "advice": item.advice() or None,
    }


def cmd_outbox_list(ctx: Context, args: argparse.Namespace) -> int:
    import json

    store = ctx.read_store()
    items = store.outbox_items(include_done=args.all)
    if args.json:
        print(json.dumps({"format": "mimdesk.outbox/1",
                          "items": [item_json(i) for i in items]}, indent=2,
                         ensure_ascii=False))  # fmt: skip
        return EXIT_OK
    if not items:
        print("the outbox is empty: nothing waits to go out")
        return EXIT_OK
    now = ctx.now()
    for item in items:
        age = format_duration(now - item.created_at)
        when = format_instant(item.created_at, ctx.zone)
        line = (
            f"#{item.id:<5} {item.state.value:<9} {item.platform:<6} "
            f"{item.incident_id}  {item.describe()}  (queued {when}, {age} ago"
        )
        line += f", {item.attempts} attempt(s))" if item.attempts else ")"
        print(line)
        if item.last_error and item.state.value != "delivered":
            print(f"        last error: {item.last_error}")
        if item.advice():
            print(f"        {item.advice()}")
    waiting = store.outbox_waiting()
    if waiting.oldest:
        print(
            f"{waiting.queued} waiting since {format_instant(waiting.oldest, ctx.zone)}"
        )
    return EXIT_OK


def cmd_outbox_retry(ctx: Context, args: argparse.Namespace) -> int:
    item = ctx.store().outbox_retry(args.item, actor=ctx.settings.operator).result()
    print(f"#{item.id} queued again: {item.describe()}")
    return EXIT_OK


def cmd_outbox_cancel(ctx: Context, args: argparse.Namespace) -> int:
    item = ctx.store().outbox_cancel(args.item, actor=ctx.settings.operator).result()
    print(f"#{item.id} cancelled: {item.describe()}")
    return EXIT_OK


# --- secrets -------------------------------------------------------------------------


def _check_name(name: str) -> str:
    if name not in secret_names():
        raise DomainError(
            f"unknown secret {name!r}; one of: {', '.join(secret_names())}"
        )
    return name


def cmd_secret_set(_ctx: Context, args: argparse.Namespace) -> int:
    name = _check_name(args.name)
    banner = keyring_problem()
    if banner:
        print(
            f"error: {banner}: nothing was stored. On this machine set "
            f"{env_name(name)} in the environment of the program instead.",
            file=sys.stderr,
        )
        return EXIT_PROBLEMS
    if sys.stdin.isatty():
        value = getpass.getpass(f"{name} (not shown): ")
    else:
        value = sys.stdin.readline().rstrip("\n")
    if not value.strip():
        raise DomainError("empty secret: nothing was stored")
    problem = set_secret(name, value.strip())
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_PROBLEMS
    print(f"{name} stored in the system keyring")
    return EXIT_OK


def cmd_secret_delete(_ctx: Context, args: argparse.Namespace) -> int:
    name = _check_name(args.name)
    problem = delete_secret(name)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_PROBLEMS
    print(f"{name} deleted from the system keyring")
    return EXIT_OK
