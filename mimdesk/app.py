"""Composition root for the console window: settings, store and UI wired together."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mimdesk import logs
from mimdesk.clock import MonotonicClock
from mimdesk.domain.regulatory import Regime
from mimdesk.domain.roster import RolePolicy
from mimdesk.domain.targets import TargetPolicy
from mimdesk.paths import resolve
from mimdesk.policy import load_regulatory, load_roles, load_targets
from mimdesk.settings import Settings, load_catalogue, load_settings, people_directory
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


def choose_regimes(
    settings: Settings, known: Mapping[str, Regime], *, demo: bool
) -> tuple[list[Regime], list[str]]:
    """The regimes settings name (DORA in the demo when they name none), and a
    problem for each name no policy file knows."""
    chosen = settings.regulations or (("dora",) if demo else ())
    regimes = [known[name] for name in chosen if name in known]
    problems = [
        f"settings: regulation {name!r} is not known, so it has no report clocks "
        f"(known: {', '.join(sorted(known))})"
        for name in chosen
        if name not in known
    ]
    return regimes, problems


@dataclass(frozen=True)
class Policies:
    """The policy files the console runs on, and what was wrong in them."""

    targets: TargetPolicy
    regimes: list[Regime]
    roles: RolePolicy
    problems: list[str]


def load_policies(settings: Settings, *, demo: bool) -> Policies:
    """Milestone targets, the chosen regimes and the bridge roles."""
    targets, regulatory = load_targets(), load_regulatory()
    roles = load_roles(settings.roles)
    regimes, unknown = choose_regimes(settings, regulatory.value, demo=demo)
    problems = [*targets.problems, *regulatory.problems, *roles.problems, *unknown]
    return Policies(targets.value, regimes, roles.value, problems)


def run_gui(args: argparse.Namespace) -> int:
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
    problems = [*loaded.problems, catalogue_problem, *policies.problems]
    banners = [("warning", problem) for problem in problems if problem]

    from PySide6.QtWidgets import QApplication, QMessageBox

    from mimdesk.ui import qtlog
    from mimdesk.ui.console import ConsoleContext, ConsoleWindow
    from mimdesk.ui.theme import THEMES, apply_theme

    qtlog.install()
    app = QApplication(sys.argv[:1])
    app.setApplicationName("MIMDesk")
    app.setOrganizationName("MIMDesk")
    apply_theme(app, THEMES.get(loaded.settings.theme, THEMES["dark"]))
    try:
        store, damage = _open_store(paths.store, paths.backups, paths.recovery)
    except (StoreError, OSError) as exc:
        log.error("cannot open the store: %s", exc)
        QMessageBox.critical(
            None, "MIMDesk cannot open its store", f"{exc}\n\nLog: {log_file}"
        )
        return 3
    if damage:
        banners.insert(0, ("danger", damage))
    clock = MonotonicClock()
    if args.demo and not store.read_only:
        from mimdesk.demo import seed

        seed(store, clock.now())
    store.backup_if_due()
    directory, problem = people_directory(loaded.settings, demo=args.demo)
    if problem:
        banners.append(("warning", problem))
    ctx = ConsoleContext(
        store,
        loaded.settings,
        catalogue,
        clock,
        args.demo,
        banners,
        directory,
        roles=policies.roles,
        targets=policies.targets,
        regimes=policies.regimes,
    )
    window = ConsoleWindow(ctx)
    if args.screenshot:
        _screenshot_after_first_paint(window, Path(args.screenshot))
    window.show()
    log.info("console open on %s", store.path)
    try:
        return app.exec()
    finally:
        store.close()


def _screenshot_after_first_paint(window: object, target: Path) -> None:
    from mimdesk.ui.snapshot import ScreenshotOnPaint

    ScreenshotOnPaint.attach(window, target)
