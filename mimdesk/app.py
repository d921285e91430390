"""Composition root for the console window: settings, store and UI wired together."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from mimdesk import logs
from mimdesk.clock import MonotonicClock
from mimdesk.paths import resolve
from mimdesk.policy import load_policies
from mimdesk.settings import load_catalogue, load_settings, people_directory
from mimdesk.store import backup
from mimdesk.store.db import StoreError
from mimdesk.store.store import Store, StoreDamaged

log = logging.getLogger(__name__)


def _open_store(paths_store: Path, backups: Path, recovery: Path) -> tuple[Store, str]:
    """The store, or a read-only copy of a damaged one with the reason to show."""
    try:
        return Store.open(paths_store, backups=backups), ""
    except StoreDamaged as exc:
        copy = backup.readonly_copy(paths_store, recovery, datetime.now(UTC))
        text = f"{exc} Showing a READ-ONLY copy ({copy}); nothing can be changed."
        return Store(copy, read_only=True), text


def _no_display() -> str | None:
    """Why no window can open here, before Qt aborts the process saying less."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    return (
        "error: no display to open the console on (DISPLAY and WAYLAND_DISPLAY "
        "are unset).\n  Run it in a desktop session, use the subcommands "
        "(mimdesk --help), or set QT_QPA_PLATFORM=offscreen for a headless check."
    )


def run_gui(args: argparse.Namespace) -> int:
    """Assemble what the console runs on, then hand it to the UI."""
    from mimdesk.cli import catalogue_path

    problem = _no_display()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    paths = resolve(args.data_dir, args.config)
    paths = paths.for_demo() if args.demo else paths
    log_file = logs.configure(paths.log_dir)
    loaded = load_settings(paths.config_file)
    catalogue, catalogue_problem = load_catalogue(catalogue_path(args, loaded.settings))
    policies = load_policies(loaded.settings, demo=args.demo)
    directory, directory_problem = people_directory(loaded.settings, demo=args.demo)
    problems = [
        *loaded.problems,
        catalogue_problem,
        *policies.problems,
        directory_problem,
    ]
    banners = [("warning", text) for text in problems if text]
    screenshot = Path(args.screenshot) if args.screenshot else None

    from mimdesk.ui.console import ConsoleContext
    from mimdesk.ui.main import run_console

    try:
        store, damage = _open_store(paths.store, paths.backups, paths.recovery)
    except (StoreError, OSError) as exc:
        log.error("cannot open the store: %s", exc)
        fatal = f"{exc}\n\nLog: {log_file}"
        return run_console(None, theme=loaded.settings.theme, fatal=fatal)
    if damage:
        banners.insert(0, ("danger", damage))
    clock = MonotonicClock()
    if args.demo and not store.read_only:
        from mimdesk.demo import seed

        seed(store, clock.now())
    store.backup_if_due()
    ctx = ConsoleContext(
        store, loaded.settings, catalogue, clock, args.demo, banners, directory,
        roles=policies.roles, targets=policies.targets, regimes=policies.regimes,
    )  # fmt: skip
    try:
        return run_console(ctx, theme=loaded.settings.theme, screenshot=screenshot)
    finally:
        store.close()
