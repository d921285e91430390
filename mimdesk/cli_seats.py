"""`mimdesk seats`: the other seats this one shares incidents with.

mimdesk seats [--json]          (who was heard from when, what was refused)
mimdesk seats sync [--once]     (publish and read through Matrix, then exit
                                 with --once, else until interrupted)
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from typing import TYPE_CHECKING, Any

from mimdesk.domain.times import format_instant, utc_iso

if TYPE_CHECKING:
    from mimdesk.cli import Context

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register `seats` and `seats sync` on the main parser."""
    seats = sub.add_parser(
        "seats",
        parents=[common],
        help="other seats: when each was heard from, what was refused",
        description="Seats (workstations, wallboards) share incidents through the "
        "[matrix] homeserver when [seats] enabled = true.",
    )
    seats.add_argument("--json", action="store_true")
    seats.set_defaults(func=cmd_seats)
    verbs = seats.add_subparsers(dest="verb", metavar="VERB")
    p = verbs.add_parser(
        "sync", parents=[common], help="publish this seat's events, read the others'"
    )
    p.add_argument("--once", action="store_true", help="one round, then exit")
    p.set_defaults(func=cmd_sync)


def cmd_seats(ctx: Context, args: argparse.Namespace) -> int:
    store = ctx.read_store()
    seats, refused = store.seats(), store.refused_remote()
    if args.json:
        print(
            json.dumps(
                {
                    "seat": store.seat,
                    "seats": [
                        {
                            "seat": s.seat,
                            "account": s.account,
                            "last_heard_at": utc_iso(s.last_heard_at),
                            "events": s.events,
                        }
                        for s in seats
                    ],
                    "refused": [
                        {
                            "remote_id": r.remote_id,
                            "room": r.room,
                            "sender": r.sender,
                            "reason": r.reason,
                            "at": utc_iso(r.at),
                        }
                        for r in refused
                    ],
                },
                indent=2,
            )
        )
        return EXIT_OK
    print(f"this seat: {store.seat}")
    if not seats:
        print("no other seat heard from yet")
    for s in seats:
        heard = format_instant(s.last_heard_at, ctx.zone)
        print(f"{s.seat}  {s.account or '(account unknown)'}  last heard {heard}"
              f"  {s.events} events")  # fmt: skip
    if refused:
        print(f"\nrefused ({len(refused)}):")
    for r in refused:
        print(
            f"{format_instant(r.at, ctx.zone)}  {r.sender}  {r.remote_id}: {r.reason}"
        )
    return EXIT_OK


def cmd_sync(ctx: Context, args: argparse.Namespace) -> int:
    from mimdesk.sync.seat_sync import SeatSync, client_factory, run_rounds

    seats = ctx.settings.seats
    if not seats.enabled:
        print(
            "error: seats are not enabled: set [seats] enabled = true (see the "
            "README, 'Several seats')",
            file=sys.stderr,
        )
        return EXIT_USAGE
    store = ctx.store()
    factory = client_factory(ctx.settings, store)
    if factory is None:
        print(
            "error: seats need [matrix] url and its credentials (matrix.token or "
            "[matrix] user and matrix.password)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    sync = SeatSync(store, seats, factory)
    if not sync.claim():
        print(f"error: {sync.status().problem}; stop it first", file=sys.stderr)
        return EXIT_USAGE
    stop = threading.Event()
    try:
        run_rounds(sync, once=args.once, stop=stop)
    except KeyboardInterrupt:
        stop.set()
    status = sync.status()
    sync.stop()
    print(
        f"published {status.published}, merged {status.merged}, "
        f"refused {status.refused}"
        + ("" if status.connected else f"; {_why_not(status)}")
    )
    return EXIT_OK if status.connected else EXIT_PROBLEMS


def _why_not(status: Any) -> str:
    """Not linked: cut off (and since when), or refused outright."""
    if status.offline_since is not None:
        return f"offline since {utc_iso(status.offline_since)}: {status.problem}"
    return f"not linked: {status.problem}"
