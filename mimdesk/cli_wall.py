"""`mimdesk wall` and `mimdesk screenshot`: the commands that open or draw the wall."""

from __future__ import annotations

import argparse
import re
from typing import Any

VIEWS = ("wall", "health", "console")
DEFAULT_SIZE = (1920, 1080)


def parse_size(text: str) -> tuple[int, int]:
    """'1920x1080' as (1920, 1080)."""
    found = re.fullmatch(r"\s*(\d{2,5})\s*[xX×]\s*(\d{2,5})\s*", text)
    if not found:
        raise argparse.ArgumentTypeError(f"size must look like 1920x1080, not {text!r}")
    return int(found.group(1)), int(found.group(2))


def cmd_wall(ctx: Any, args: argparse.Namespace) -> int:
    from mimdesk.app import run_wall

    return run_wall(ctx.paths, ctx.settings, ctx.catalogue, args)


def cmd_screenshot(ctx: Any, args: argparse.Namespace) -> int:
    from mimdesk.app import save_view

    return save_view(ctx.paths, ctx.settings, ctx.catalogue, args)


def add_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    """Register `wall` and `screenshot` on the `mimdesk` parser's subcommands."""
    p = sub.add_parser(
        "wall", parents=[common], help="full-screen wallboard of service health"
    )
    p.add_argument(
        "--screen", metavar="NAME", help="screen to fill (default: wall_screen setting)"
    )
    p.set_defaults(func=cmd_wall)
    p = sub.add_parser(
        "screenshot", parents=[common], help="draw a view offscreen and save a PNG"
    )
    p.add_argument("--view", choices=VIEWS, default="wall")
    p.add_argument("--output", "-o", required=True, metavar="FILE.png")
    p.add_argument(
        "--size", type=parse_size, default=DEFAULT_SIZE, metavar="WxH",
        help="picture size in pixels (default 1920x1080)",
    )  # fmt: skip
    p.set_defaults(func=cmd_screenshot)
