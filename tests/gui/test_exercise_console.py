"""An exercise played at high speed through the whole console: injected alerts
in the Alerts view, health on the wall, the autopilot's bridge and clock, the
chat outage held in the outbox and delivered once, EXERCISE on every view, and
the debrief at the end."""

from __future__ import annotations

import argparse
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from mimdesk.domain import events as ev
from mimdesk.domain.lifecycle import Status
from mimdesk.exercise_app import Setup, console_context, prepare, wallboard
from mimdesk.paths import Paths
from mimdesk.resources import resource
from mimdesk.settings import Settings
from mimdesk.ui.console import ConsoleWindow
from mimdesk.ui.exercise_bar import BANNER, OVER
from mimdesk.ui.wallboard import WallBoard

pytestmark = [pytest.mark.gui, pytest.mark.slow]

SPEED = 600.0  # the 120-minute scenario in 12 s


@pytest.fixture
def exercise(qtbot, tmp_path: Path) -> Iterator[tuple[Setup, ConsoleWindow, WallBoard]]:
    args = argparse.Namespace(
        scenario="region-loss-chat-down", speed=SPEED, autopilot=True
    )
    paths = Paths(tmp_path / "data", tmp_path / "settings.toml", tmp_path / "logs")
    settings = Settings(timezone="UTC", operator="tester")
    setup = prepare(args, paths, settings, resource("catalogues", "sample.toml"))
    ctx, stops = console_context(setup, paths, [])
    window = ConsoleWindow(ctx)
    qtbot.addWidget(window)
    window.resize(1600, 1000)
    window.show()
    board = wallboard(setup, ctx)
    qtbot.addWidget(board)
    board.show()
    setup.player.start()
    try:
        yield setup, window, board
    finally:
        window.close()
        board.close()
        for stop in reversed(stops):
            stop()
        setup.store.close()


def _exercise_banner_shown(window: ConsoleWindow) -> bool:
    return window.banners.is_shown(BANNER) and any(
        text.startswith("EXERCISE") for text in window.banners.shown()
    )


def test_a_scenario_drives_the_whole_console_and_ends_in_a_debrief(
    qtbot, exercise: tuple[Setup, ConsoleWindow, WallBoard]
) -> None:
    setup, window, board = exercise
    qtbot.waitUntil(lambda: "[EXERCISE]" in window.windowTitle(), timeout=5000)
    assert _exercise_banner_shown(window)

    # The injected alerts come in through the alert path and show in F3.
    qtbot.waitUntil(lambda: len(window.alert_feed.groups) >= 2, timeout=10_000)
    window.toggle_alerts()
    assert window.views.currentWidget() is window.alerts_view
    assert _exercise_banner_shown(window)
    window.toggle_alerts()

    # The autopilot declares; the list, header and wall say EXERCISE.
    qtbot.waitUntil(lambda: bool(setup.store.incidents()), timeout=10_000)
    (incident,) = setup.store.incidents()
    window.incident_list.select_incident(incident.id)
    qtbot.waitUntil(lambda: window.header.demo.isVisibleTo(window), timeout=5000)
    assert window.header.demo.text() == "EXERCISE"
    assert incident.exercise

    # While chat is down (T+3 to T+40) the autopilot's posts wait in the outbox.
    qtbot.waitUntil(lambda: bool(setup.store.outbox_open()), timeout=10_000)
    assert setup.run.scenario.chat_down_at(setup.clock.offset())
    assert not [d for d in setup.chat.delivered if d.platform == "matrix"]

    # Health view (F2): the lost services are CRITICAL, and EXERCISE is shown.
    window.toggle_health()
    assert _exercise_banner_shown(window)
    window.toggle_health()

    # The wall: the strip on every page, the source badge, tiles marked.
    strip = board.findChild(type(board.title), "ExerciseStrip")
    assert strip is not None
    assert "EXERCISE" in strip.text()
    qtbot.waitUntil(lambda: board.feed.latest is not None, timeout=10_000)
    assert board.feed.latest.source.name == "EXERCISE"

    # The end: every post delivered once, in order, and the debrief written.
    qtbot.waitUntil(setup.player.finished.is_set, timeout=30_000)
    watch = window.exercise_watch
    qtbot.waitUntil(lambda: watch.debrief_path is not None, timeout=30_000)
    assert window.banners.is_shown(OVER)
    posts = [d for d in setup.chat.delivered if d.platform == "matrix"]
    said = [p.text for p in posts if "Bridge" in p.text or "Decision" in p.text]
    assert said == [
        "Bridge is on the phone while chat is down: +44 20 7946 0000, PIN 4242.",
        "Decision: failing identity and the mobile back end over to the "
        "secondary region.",
    ]
    assert len({p.txn_id for p in posts}) == len(posts)
    # Nothing got through before chat came back at T+40.
    back = setup.run.started_at + setup.run.scenario.injects[4].fields["until"]
    assert min(p.at for p in posts) >= back

    incident = setup.store.incident(incident.id)
    assert incident.status is Status.RESOLVED
    events = setup.store.timeline(incident.id)
    assert sum(e.kind == ev.UPDATE_SENT for e in events) == 3

    pdf = watch.debrief_path
    assert pdf.suffix == ".pdf"
    assert pdf.is_file()
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "EXERCISE" in text
    assert "Cloud region loss" in text
    markdown = pdf.with_suffix(".md").read_text(encoding="utf-8")
    assert "MET" in markdown.upper()
