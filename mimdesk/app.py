"""Composition root for the windows: settings, store, health poller and UI wired
together."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from mimdesk import logs
from mimdesk.clock import MonotonicClock
from mimdesk.domain.catalogue import Catalogue
from mimdesk.domain.directory import Directory
from mimdesk.paths import Paths, resolve
from mimdesk.policy import load_policies
from mimdesk.settings import (
    Loaded,
    Settings,
    load_catalogue,
    load_settings,
    people_directory,
    resolve_zone,
)
from mimdesk.store import backup
from mimdesk.store.db import StoreError
from mimdesk.store.store import Store, StoreDamaged

if TYPE_CHECKING:
    from mimdesk.sync.alert_poller import AlertPoller, AlertPollerThread
    from mimdesk.sync.chat_poller import ChatPoller
    from mimdesk.sync.chat_setup import ChatSetup
    from mimdesk.sync.chat_status import ChatHealth
    from mimdesk.sync.outbox_sender import OutboxSender
    from mimdesk.sync.receiver import AlertReceiver
    from mimdesk.sync.seat_sync import SeatSync
    from mimdesk.sync.sources import Source
    from mimdesk.ui.alert_feed import AlertIntake
    from mimdesk.ui.chat_feed import ChatFeed
    from mimdesk.ui.health_feed import HealthFeed
    from mimdesk.ui.instance import ConsoleGuard

log = logging.getLogger(__name__)

POLLER_STOP_S = 10.0


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
    """Claim the data folder, then assemble what the console runs on and hand it
    to the UI. A second start on the same folder shows the first and exits."""
    problem = _no_display()
    if problem:
        print(problem, file=sys.stderr)
        return 2
    paths = resolve(args.data_dir, args.config)
    paths = paths.for_demo() if args.demo else paths
    level, level_problem = logs.chosen_level(getattr(args, "log_level", None))
    log_file = logs.configure(paths.log_dir, level=level)
    if level_problem:
        log.warning("%s", level_problem)
    screenshot = Path(args.screenshot) if args.screenshot else None

    from mimdesk.ui.crash import CrashReporter, quit_on_signals
    from mimdesk.ui.qapp import application

    loaded = load_settings(paths.config_file)
    # Before the guard (its socket needs the application) and before the
    # poller's first state arrives.
    application(loaded.settings.theme)
    guard = None if screenshot else _claim(paths)
    if isinstance(guard, int):
        return guard
    reporter = CrashReporter(log_file, interactive=screenshot is None)
    restore_hooks = logs.install_excepthooks(reporter.report)
    restore_signals = None
    if screenshot is None:
        logs.record_faults(paths.log_dir)
        restore_signals = quit_on_signals(reporter)
    try:
        if _first_run(paths, args, screenshot):
            loaded = load_settings(paths.config_file)
        return _console(args, paths, loaded, log_file, screenshot)
    finally:
        if restore_signals is not None:
            restore_signals()
        restore_hooks()
        if guard is not None:
            guard.release()


def _claim(paths: Paths) -> ConsoleGuard | int:
    """The guard holding this data folder for this console, or the exit code
    when another console has it (and was asked to show itself)."""
    from mimdesk.ui.instance import Claim, ConsoleGuard

    guard = ConsoleGuard(paths.data_dir)
    outcome = guard.claim()
    if outcome.claim is Claim.SHOWN:
        print(outcome.message)
        return 0
    if outcome.claim is Claim.SILENT:
        print(f"error: {outcome.message}", file=sys.stderr)
        return 1
    guard.show_requested.connect(_show_console)
    return guard


def _show_console() -> None:
    from PySide6.QtWidgets import QApplication

    from mimdesk.ui.instance import bring_to_front

    for window in QApplication.topLevelWidgets():
        if window.objectName() == "Console":
            bring_to_front(window)
            return
    modal = QApplication.activeModalWidget()  # the first-run dialog, say
    if modal is not None:
        bring_to_front(modal)


def _first_run(paths: Paths, args: argparse.Namespace, screenshot: Path | None) -> bool:
    """On the first start, offer to set up the connections (see first_run);
    True when settings were saved."""
    if screenshot is not None or args.demo or paths.config_file.exists():
        return False  # most starts: nothing to ask, and the dialog is not loaded
    from mimdesk.ui import first_run

    if first_run.wanted(paths.config_file, demo=args.demo):
        return first_run.run(paths.config_file)
    return False


def _console(
    args: argparse.Namespace,
    paths: Paths,
    loaded: Loaded,
    log_file: Path | None,
    screenshot: Path | None,
) -> int:
    from mimdesk.cli import catalogue_path

    catalogue_file = catalogue_path(args, loaded.settings)
    catalogue, catalogue_problem = load_catalogue(catalogue_file)
    policies = load_policies(loaded.settings, demo=args.demo)
    directory, directory_problem = people_directory(loaded.settings, demo=args.demo)
    problems = [
        *loaded.problems,
        catalogue_problem,
        *policies.problems,
        directory_problem,
    ]
    banners = [("warning", text) for text in problems if text]

    from mimdesk.runbook_files import library as runbook_library
    from mimdesk.ui.console import ConsoleContext
    from mimdesk.ui.first_run import show_connections
    from mimdesk.ui.main import run_console

    try:
        store, damage = _open_store(paths.store, paths.backups, paths.recovery)
    except (StoreError, OSError) as exc:
        log.error("cannot open the store: %s", exc)
        fatal = f"{exc}\n\nLog: {log_file}"
        return run_console(None, theme=loaded.settings.theme, fatal=fatal)
    if damage:
        banners.insert(0, ("danger", damage))
    stops: list[Callable[[], object]] = []
    try:
        clock = MonotonicClock()
        if args.demo and not store.read_only:
            from mimdesk.demo import seed

            seed(store, clock.now())
        store.backup_if_due()
        feed, stop_health = start_health(
            loaded.settings, catalogue, paths, demo=args.demo,
            catalogue_file=catalogue_file, notices=banners,
        )  # fmt: skip
        stops.append(stop_health)
        alerts = start_alerts(loaded.settings, store, demo=args.demo, notices=banners)
        stops.append(alerts.stop)
        chat = start_chat(
            loaded.settings, store, directory, demo=args.demo, notices=banners
        )
        stops.append(chat.stop)
        seats = None if args.demo else start_seats(loaded.settings, store, banners)
        if seats is not None:
            stops.append(partial(seats.stop, POLLER_STOP_S))
        ctx = ConsoleContext(
            store, loaded.settings, catalogue, clock, args.demo, banners, directory,
            roles=policies.roles, targets=policies.targets, regimes=policies.regimes,
            health=feed, alerts=alerts.intake, chat=chat.feed,
            connections=partial(show_connections, paths.config_file),
            runbooks=runbook_library(paths.config_file, demo=args.demo),
            seats=seats,
        )  # fmt: skip
        size = getattr(args, "size", None)
        return run_console(
            ctx, theme=loaded.settings.theme, screenshot=screenshot, size=size
        )
    finally:
        # Chat first, then alerts, then health; the store last, once its
        # writer has finished what was queued.
        for stop in reversed(stops):
            try:
                stop()
            except Exception:  # the store must still be closed
                log.exception("stopping %s failed", stop)
        store.close()
        log.info("store closed: %s", store.path)


@dataclass
class AlertIntakeRun:
    """What brings alerts into a console's store, running; `stop()` ends it all,
    receiver first (nothing new arrives), then the poller, then the catch-up of
    pending deliveries; the store is closed after."""

    intake: AlertIntake | None = None
    receiver: AlertReceiver | None = None
    poller: AlertPoller | None = None
    thread: AlertPollerThread | None = None
    catch_up: threading.Thread | None = None

    def stop(self) -> None:
        if self.receiver is not None:
            self.receiver.stop(POLLER_STOP_S)
        if self.thread is not None:
            self.thread.stop(POLLER_STOP_S)
        if self.poller is not None:
            self.poller.close()
        if self.catch_up is not None:
            self.catch_up.join(POLLER_STOP_S)


def start_alerts(
    settings: Settings,
    store: Store,
    *,
    demo: bool,
    notices: list[tuple[str, str]] | None = None,
) -> AlertIntakeRun:
    """The webhook receiver and the Alertmanager poller the settings ask for,
    writing through an AlertIntake that tells the GUI what each delivery did;
    deliveries a crash left pending are processed first, off the GUI thread.
    Nothing runs on a read-only store, and no outside alert reaches the DEMO
    store (its receiver would also take the real console's port). Why the
    receiver could not start is added to `notices` as (banner kind, text)."""
    from mimdesk.sync.alert_poller import (
        AlertPoller,
        AlertPollerThread,
        open_alertmanager,
    )
    from mimdesk.sync.receiver import ReceiverError, open_receiver
    from mimdesk.ui.alert_feed import AlertIntake

    if store.read_only:
        return AlertIntakeRun()
    run = AlertIntakeRun(AlertIntake(store))
    assert run.intake is not None
    run.catch_up = threading.Thread(
        target=run.intake.reprocess_pending, name="alert-catch-up", daemon=True
    )
    run.catch_up.start()
    if demo:
        log.info("DEMO: the alert receiver and poller stay off")
        return run
    client = open_alertmanager(settings)
    if client is not None:
        run.poller = AlertPoller(client, run.intake)
        interval = settings.alertmanager.poll_seconds
        run.thread = AlertPollerThread(
            run.poller,
            on_state=run.intake.publish_poller_state,
            interval_s=interval,
        )
        run.thread.start()
    receiver = open_receiver(settings.receiver, run.intake)
    if receiver is None:
        return run
    if run.thread is not None:
        receiver.on_truncated = run.thread.reconcile_group
    try:
        receiver.start()
    except ReceiverError as exc:
        log.error("alert receiver not started: %s", exc)
        if notices is not None:
            notices.append(("danger", f"Alerts are not being received: {exc}."))
        return run
    run.receiver = receiver
    return run


DEMO_CHAT_OFF = "DEMO: chat is off; nothing is sent to or read from a chat platform."


@dataclass
class ChatRun:
    """Chat for a console's store, running; `stop()` ends the readers first
    (nothing new is read), then the sender (its attempt in flight is recorded),
    then the feed's outbox polling; the store is closed after."""

    feed: ChatFeed | None = None
    sender: OutboxSender | None = None
    pollers: list[ChatPoller] = field(default_factory=list)

    def stop(self) -> None:
        for poller in self.pollers:
            poller.stop(POLLER_STOP_S)
        if self.sender is not None:
            self.sender.stop(POLLER_STOP_S)
        if self.feed is not None:
            self.feed.stop()


def start_chat(
    settings: Settings,
    store: Store,
    directory: Directory,
    *,
    demo: bool,
    notices: list[tuple[str, str]] | None = None,
    setup: ChatSetup | None = None,
    clock: Callable[[], datetime] | None = None,
) -> ChatRun:
    """The outbox sender and a reader per readable platform, on their threads,
    with a ChatFeed that tells the GUI how they do and what waits. Nothing runs
    on a read-only store; in DEMO the feed counts what is queued and nothing is
    sent or read. What the operator must know (no keyring, platforms half set
    up) is added to `notices` as (banner kind, text). `setup` replaces the one
    made from the settings (tests give scripted platforms); `clock`, the
    store's own when it is not the wall clock (an exercise's)."""
    from mimdesk.sync.chat_setup import chat_setup
    from mimdesk.sync.chat_status import ChatHealth
    from mimdesk.ui.chat_feed import ChatFeed

    if store.read_only:
        return ChatRun()
    store.chat_handles = partial(_chat_handles, directory)
    if demo:
        log.info("DEMO: chat stays off; nothing is sent to or read from chat")
        return ChatRun(ChatFeed(store, off_reason=DEMO_CHAT_OFF))
    if setup is None:
        setup = chat_setup(settings.chat, device=_device_id(store))
    if notices is not None:
        notices += chat_notices(setup)
    health = ChatHealth()
    feed = ChatFeed(
        store, health, platforms=tuple(setup.factories),
        default_platforms=setup.default_platforms,
    )  # fmt: skip
    run = ChatRun(feed)
    if setup.factories:
        _run_chat(run, store, setup, health, directory, clock)
    return run


def _run_chat(
    run: ChatRun,
    store: Store,
    setup: ChatSetup,
    health: ChatHealth,
    directory: Directory,
    clock: Callable[[], datetime] | None = None,
) -> None:
    from mimdesk.sync.chat_poller import ChatPoller
    from mimdesk.sync.outbox_sender import OutboxSender, utc_now

    feed = run.feed
    assert feed is not None
    sender = OutboxSender(
        store, setup.factories, health, clock=clock or utc_now,
        on_change=feed.outbox_touched,
    )  # fmt: skip
    feed.wake_sender = sender.wake

    def back(platform: str) -> None:
        """The platform answers again: what waits for it is due now."""
        store.outbox_wake(platform).add_done_callback(lambda _done: sender.wake())

    run.sender = sender
    run.pollers = [
        ChatPoller(
            store, name, setup.factories[name], health, lambda: directory,
            on_new=feed.chat_read, on_back=partial(back, name),
        )
        for name in sorted(setup.readable)
        if name in setup.factories
    ]  # fmt: skip
    sender.start()
    for poller in run.pollers:
        poller.start()
    log.info(
        "chat: sending to %s, reading %s",
        ", ".join(setup.factories),
        ", ".join(p.name for p in run.pollers) or "nothing",
    )


def _chat_handles(directory: Directory, person_id: str) -> dict[str, str]:
    person = directory.get(person_id)
    return dict(person.handles) if person else {}


def _device_id(
    store: Store,
) -> tuple[Callable[[], str | None], Callable[[str], None]]:
    """Load and save the Matrix device id (on the thread that logs in)."""
    from mimdesk.cli_chat import DEVICE_KEY

    def save(device: str) -> None:
        store.set_meta(DEVICE_KEY, device).result()

    return (lambda: store.meta(DEVICE_KEY)), save


def chat_notices(setup: ChatSetup) -> list[tuple[str, str]]:
    """Banners for chat: no keyring (once, with how to pass secrets instead),
    then what is half set up."""
    from mimdesk.secrets import env_name

    notices: list[tuple[str, str]] = []
    if setup.keyring:
        notices.append(
            (
                "warning",
                f"{setup.keyring}. Secrets are taken from the environment for this "
                f"run only (MIMDESK_SECRET_<NAME>, e.g. {env_name('matrix.token')} "
                f"or {env_name('slack.token')}); none is written to a file.",
            )
        )
    notices += [("warning", problem) for problem in setup.problems]
    return notices


def start_health(
    settings: Settings,
    catalogue: Catalogue,
    paths: Paths,
    *,
    demo: bool,
    catalogue_file: Path | None = None,
    notices: list[tuple[str, str]] | None = None,
    exercise: tuple[Source, Callable[[], float], float] | None = None,
) -> tuple[HealthFeed, Callable[[], None]]:
    """The health poller on its thread, its states carried to the GUI by a feed,
    and what stops it (call once the QApplication exists, stop before it goes).
    What the operator must know about the source and the cache is added to
    `notices` as (banner kind, text). An exercise gives its own source, clock
    (epoch seconds) and speed, and keeps its cache in the run's folder."""
    from mimdesk.store.metrics import CACHE_FILE, MetricCache
    from mimdesk.sync.catalogue_watch import CatalogueWatch
    from mimdesk.sync.health import HealthPoller, PollerThread
    from mimdesk.sync.sources import Chosen, open_source
    from mimdesk.ui.health_feed import HealthFeed

    # FIXME(health): run_wall passes no `notices`, and a cache that moves to
    # memory after start-up only logs it: the wallboard shows neither a missing
    # secret nor a lost cache. A notice in the poller's state, drawn by the wall's
    # corner and the console's banners, would carry both.
    now: Callable[[], float] = time.time
    speed = 1.0
    if exercise is not None:
        source, now, speed = exercise
        chosen = Chosen(source)
    else:
        chosen = open_source(settings, demo=demo)
    cache = MetricCache.open(
        paths.data_dir / CACHE_FILE,
        clock=lambda: datetime.fromtimestamp(now(), UTC),
    )
    poller = HealthPoller(chosen.source, catalogue, cache, now=now)
    if notices is not None:
        notices += [("danger", text) for text in (chosen.unusable,) if text]
        others = (*chosen.warnings, cache.problem)
        notices += [("warning", text) for text in others if text]
    feed = HealthFeed(
        poller.state(),
        refresh_now=lambda: thread.refresh_now(),
        alert_labels=catalogue.alert_labels,
    )
    # In scenario time: an exercise at x60 refreshes as often as real life would.
    interval = max(1.0, catalogue.wall.refresh_seconds / speed)
    watch = (
        CatalogueWatch(catalogue_file, catalogue, load_catalogue)
        if catalogue_file
        else None
    )
    thread = PollerThread(poller, feed.publish, interval, watch=watch)
    thread.start()

    def stop() -> None:
        thread.stop(POLLER_STOP_S)
        poller.close()

    return feed, stop


def run_wall(
    paths: Paths, settings: Settings, catalogue: Catalogue, args: argparse.Namespace
) -> int:
    """`mimdesk wall`: the wallboard, fed by the health poller and, read-only,
    by the incident store the console and the CLI write to: its open incidents,
    and the alerts another seat's receiver or poller keeps there (the wall never
    receives or writes any itself)."""
    problem = _no_display()
    if problem:
        print(problem.replace("the console", "the wall"), file=sys.stderr)
        return 2
    from PySide6.QtCore import QTimer

    from mimdesk.ui.alert_feed import AlertFeed
    from mimdesk.ui.chat_feed import ChatFeed
    from mimdesk.ui.crash import quit_on_signals
    from mimdesk.ui.incident_feed import IncidentFeed, WallPolicies
    from mimdesk.ui.wall_main import application
    from mimdesk.ui.wall_main import run_wall as show_wall

    app = application(settings.theme)
    # An unattended wall that dies must leave a trace; SIGTERM closes it cleanly.
    logs.record_faults(paths.log_dir)
    restore_signals = quit_on_signals(app)
    policies = load_policies(settings, demo=args.demo)
    directory, directory_problem = people_directory(settings, demo=args.demo)
    for text in [*policies.problems, directory_problem]:
        if text:
            log.warning("%s", text)
    if not paths.store.exists():
        log.info("no store at %s yet; incidents show once one is recorded", paths.store)
    seats_on = settings.seats.enabled and not args.demo
    if seats_on:
        # A wallboard seat keeps its own copy of the shared incidents: other
        # seats' events are merged into it; it records nothing of its own.
        store = Store.open(paths.store)
        seats = start_seats(settings, store, [])
    else:
        # Read-only: no writer thread, no lock; the wall never changes the record.
        store = Store(paths.store, read_only=True)
        seats = None
    wall_policies = WallPolicies(
        scale=settings.severity,
        directory=directory,
        roles=policies.roles,
        targets=policies.targets,
        regimes=tuple(policies.regimes),
    )
    from mimdesk.cli import catalogue_path

    feed, stop_health = start_health(
        settings,
        catalogue,
        paths,
        demo=args.demo,
        catalogue_file=catalogue_path(args, settings),
    )
    incidents = IncidentFeed(store, wall_policies)
    # Re-read on the same poll as the incidents: a firing alert colours its tile.
    AlertFeed(store, incidents.bridge, feed, parent=incidents)
    # The wall runs no chat; what waits in the outbox says chat is behind.
    outbox = ChatFeed(store, parent=incidents)
    QTimer.singleShot(0, partial(_follow_outbox, outbox))
    try:
        return show_wall(
            feed,
            theme=settings.theme,
            zone=resolve_zone(settings.timezone),
            config=catalogue.wall,
            screen=args.screen or settings.wall_screen,
            incidents=incidents,
            seats=seats.status if seats is not None else None,
        )
    finally:
        restore_signals()
        if seats is not None:
            seats.stop(POLLER_STOP_S)
        stop_health()
        store.close()


def start_seats(
    settings: Settings, store: Store, notices: list[tuple[str, str]]
) -> SeatSync | None:
    """The link to the other seats, when `[seats]` is enabled; what stops it
    from starting becomes a notice."""
    if not settings.seats.enabled:
        return None
    from mimdesk.sync.seat_sync import start_seat_sync

    sync = start_seat_sync(settings, store)
    if sync is None:
        notices.append((
            "warning",
            "[seats] is enabled but Matrix is not set up ([matrix] url and a "
            "token or password): this seat shares nothing with the others",
        ))  # fmt: skip
    return sync


def _follow_outbox(feed: ChatFeed) -> None:
    """Show the outbox count in the corner of the wall once it is open."""
    from PySide6.QtWidgets import QApplication

    from mimdesk.ui.wall_corner import SourceStatus

    # FIXME(chat): the corner is looked up after the wall opens; WallBoard
    # taking the outbox feed, as it takes `incidents`, would say it plainly.
    for window in QApplication.topLevelWidgets():
        corner = window.findChild(SourceStatus)
        if window.objectName() == "WallBoard" and corner is not None:
            corner.follow_outbox(feed)
            return
    log.warning("wall: no corner found to show the outbox in")


def save_view(
    paths: Paths, settings: Settings, catalogue: Catalogue, args: argparse.Namespace
) -> int:
    """`mimdesk screenshot`: one refresh, one view drawn offscreen, saved as PNG."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if args.view == "console":
        args.screenshot = args.output
        return run_gui(args)
    from mimdesk.cli_health import checked_source, refresh_once
    from mimdesk.store.metrics import CACHE_FILE
    from mimdesk.ui.health_feed import HealthFeed
    from mimdesk.ui.wall_main import application, save_picture, view_widget

    chosen = checked_source(settings, demo=args.demo)
    if chosen is None:
        return 2
    application(settings.theme)
    feed = HealthFeed(
        refresh_once(chosen.source, catalogue, paths.data_dir / CACHE_FILE)
    )
    widget = view_widget(
        args.view,
        feed,
        theme=settings.theme,
        zone=resolve_zone(settings.timezone),
        config=catalogue.wall,
    )
    save_picture(widget, args.size, Path(args.output))
    return 0
