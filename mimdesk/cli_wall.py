"""`mimdesk wall` and `mimdesk screenshot`: the commands that open or draw the wall."""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import Any

VIEWS = ("wall", "health", "console")
EXIT_PROBLEMS, EXIT_USAGE = 1, 2
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

    output = Path(args.output)
    problem = output_problem(output)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return save_view(ctx.paths, ctx.settings, ctx.catalogue, args)
    except OSError as exc:
        print(
            f"error: the picture could not be saved to {output}: {exc}; check the "
            "folder exists, is writable and has free space",
            file=sys.stderr,
        )
        return EXIT_PROBLEMS


def output_problem(output: Path) -> str:
    """Why a picture cannot be saved at `output`; empty when it can be tried."""
    if output.suffix.lower() != ".png":
        shown = output.suffix or "a name without one"
        return f"--output must end in .png (pictures are saved as PNG), not {shown}"
    folder = next(
        (p for p in (output.parent, *output.parent.parents) if p.exists()), None
    )
    if folder is None or not folder.is_dir():
        return f"--output {output}: {folder} is not a folder"
    if output.is_dir():
        return f"--output {output} is a folder; name a .png file in it"
    if not os.access(folder, os.W_OK):
        return f"--output {output}: the folder {folder} cannot be written"
    return ""


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
