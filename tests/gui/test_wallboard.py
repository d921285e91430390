"""The unattended wallboard: pages, the corner, a clock that repaints only itself,
and the screen it fills."""

from __future__ import annotations

import json
import logging
from datetime import UTC
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QGuiApplication

from mimdesk.domain.catalogue import WallConfig
from mimdesk.domain.wall import Link
from mimdesk.ui.awake import DisplayKeeper
from mimdesk.ui.health_feed import HealthFeed
from mimdesk.ui.theme import DARK
from mimdesk.ui.wallboard import WallBoard, choose_screen

from . import wall_states

pytestmark = pytest.mark.gui

C27 = json.loads(
    (Path(__file__).parent.parent / "fixtures" / "cases" / "C27.json").read_text()
)


class Paints(QObject):
    """Counts paint events of the widgets it watches."""

    def __init__(self) -> None:
        super().__init__()
        self.count: dict[QObject, int] = {}

    def watch(self, widget: QObject) -> None:
        self.count[widget] = 0
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.count[watched] += 1
        return False


@pytest.fixture
def make_board(qtbot, fake_time):
    def make(state=None, config: WallConfig = wall_states.CONFIG, **kw) -> WallBoard:
        feed = HealthFeed(state or wall_states.state(16))
        board = WallBoard(feed, DARK, UTC, config, fake_time.clock(), **kw)
        qtbot.addWidget(board)
        board.resize(1920, 1080)
        board.show()
        qtbot.waitExposed(board)
        return board

    return make


def test_board_is_named_and_shows_the_first_page(make_board) -> None:
    board = make_board()

    assert board.objectName() == "WallBoard"
    assert board.grid.visible_ids() == [f"svc-{n:02d}" for n in range(12)]
    assert board.page.text() == "Page 1 of 2"
    assert board.cursor().shape() == Qt.CursorShape.BlankCursor


def test_pages_turn_on_their_own(make_board, qtbot) -> None:
    board = make_board(config=WallConfig(page_seconds=1, tiles_per_page=12))

    qtbot.waitUntil(lambda: board.grid.page == 1, timeout=3000)

    assert board.grid.visible_ids() == [f"svc-{n:02d}" for n in range(12, 16)]
    assert board.page.text() == "Page 2 of 2"
    board._on_page_timer_timeout()
    assert board.grid.page == 0


def test_corner_says_unreachable_and_when_data_last_came(make_board) -> None:
    state = wall_states.state(
        4, link=Link.UNREACHABLE, message="connection refused by prom:9090"
    )
    board = make_board(state)

    assert board.source.link.text() == "UNREACHABLE"
    assert board.source.message.text() == "connection refused by prom:9090"
    assert board.source.last.text() == "Last refresh 13:59:45 UTC"
    tile = board.grid.tiles["svc-00"]
    assert tile.status.text() == "UNREACHABLE"
    assert tile.plot.panels[0].fresh.xData.size > 0  # last data kept on screen


def test_corner_says_demo(make_board) -> None:
    board = make_board(wall_states.state(4, demo=True))

    assert board.source.link.text() == "DEMO"
    assert all(t.demo.isVisible() for t in board.grid.tiles.values())


def test_clock_tick_repaints_the_clock_not_the_graphs(make_board, qtbot, fake_time):
    board = make_board()
    paints = Paints()
    paints.watch(board.clock_label)
    plots = [t.plot.viewport() for t in board.grid.tiles.values() if t.isVisible()]
    for viewport in plots:
        paints.watch(viewport)
    qtbot.waitUntil(lambda: all(paints.count[v] for v in plots))  # first paints
    qtbot.wait(300)
    paints.count = dict.fromkeys(paints.count, 0)

    for _ in range(3):
        fake_time.advance(1)
        board._on_clock_timer_timeout()
        qtbot.waitUntil(lambda: paints.count[board.clock_label] > 0)
        QGuiApplication.processEvents()

    assert paints.count[board.clock_label] >= 3
    assert [paints.count[v] for v in plots] == [0] * len(plots)
    assert board.clock_label.text() == "14:00:03 UTC"


def test_clock_runs_from_monotonic_time_not_ticks(make_board, fake_time) -> None:
    board = make_board()

    fake_time.advance(90)  # one tick late by a minute and a half
    board._on_clock_timer_timeout()

    assert board.clock_label.text() == "14:01:30 UTC"


def test_c27_screen_choice() -> None:
    names = [s["name"] for s in C27["screens_at_start"]]
    primary = next(s["name"] for s in C27["screens_at_start"] if s.get("primary"))
    wanted = C27["config"]["wallboard_screen"]

    at_start = choose_screen(names, wanted, primary)
    removed = choose_screen([n for n in names if n != wanted], wanted, primary)
    added = choose_screen(names, wanted, primary)

    assert at_start == ("DISPLAY-TV-2", False)
    assert removed == ("LAPTOP-PANEL", True)  # True: say so
    assert added == ("DISPLAY-TV-2", False)
    assert choose_screen(names, None, primary) == ("LAPTOP-PANEL", False)


def test_missing_screen_falls_back_with_a_note(make_board, caplog) -> None:
    board = make_board(screen_name="DISPLAY-TV-2")

    with caplog.at_level(logging.WARNING, logger="mimdesk.ui.wallboard"):
        board.open()

    primary = QGuiApplication.primaryScreen()
    assert board.target is primary
    assert board.isFullScreen()
    assert board.note.isVisible()
    assert "'DISPLAY-TV-2' is not connected" in board.note.text()
    assert "DISPLAY-TV-2" in caplog.text


def test_named_screen_is_used_and_survives_removal(make_board) -> None:
    primary = QGuiApplication.primaryScreen()
    board = make_board(screen_name=primary.name())
    board.open()
    assert board.target is primary
    assert not board.note.isVisible()

    board._on_app_screen_removed(primary)  # the only screen: nothing to move to
    board._on_app_screen_added(primary)

    assert board.target is primary


def test_escape_closes(make_board, qtbot) -> None:
    board = make_board()
    board.windowHandle().requestActivate()  # shortcuts reach the active window
    qtbot.waitUntil(board.isActiveWindow)

    qtbot.keyClick(board, Qt.Key.Key_Escape)

    assert not board.isVisible()
    assert not board.clock_timer.isActive()
    assert not board.page_timer.isActive()


def test_display_kept_awake_and_released(qtbot) -> None:
    calls: list[list[str]] = []
    keeper = DisplayKeeper(
        which=lambda name: f"/usr/bin/{name}", run=lambda c, **_: calls.append(c)
    )
    keeper._inhibit = lambda reason: False  # no session bus in tests

    assert keeper.hold(42, "wall") == "xdg-screensaver suspend"
    keeper.release()

    assert calls == [
        ["/usr/bin/xdg-screensaver", "suspend", "42"],
        ["/usr/bin/xdg-screensaver", "resume", "42"],
    ]
    assert keeper.how == ""


def test_nothing_to_keep_awake_is_said(caplog) -> None:
    keeper = DisplayKeeper(which=lambda name: None)
    keeper._inhibit = lambda reason: False

    with caplog.at_level(logging.WARNING, logger="mimdesk.ui.awake"):
        assert keeper.hold(42, "wall") == ""

    assert "nothing can keep the display awake" in caplog.text


def test_last_refresh_shows_the_display_zone_and_utc() -> None:
    from zoneinfo import ZoneInfo

    from mimdesk.domain.wall import SourceState
    from mimdesk.ui.wall_corner import last_refresh_words

    source = SourceState("prom", Link.CONNECTED, last_success=1_783_000_000.0)
    paris = last_refresh_words(source, ZoneInfo("Europe/Paris"), 1_783_000_060.0)
    london = last_refresh_words(source, ZoneInfo("Europe/London"), 1_783_000_060.0)
    yesterday = last_refresh_words(source, ZoneInfo("UTC"), 1_783_000_000.0 + 86400)

    assert paris == "Last refresh 15:46:40 CEST \u00b7 13:46:40 UTC"
    assert london == "Last refresh 14:46:40 BST \u00b7 13:46:40 UTC"
    assert yesterday.startswith("Last refresh ")
    assert "2026" in yesterday


def test_a_long_outage_message_never_widens_the_wall(make_board, qtbot) -> None:
    message = "cannot reach Prometheus at http://prometheus.example.internal:9090: " * 6
    board = make_board(wall_states.state(16, link=Link.UNREACHABLE, message=message))
    qtbot.wait(50)

    assert board.width() == 1920
    assert board.grab().width() == 1920
    clock = board.clock_label.mapTo(board, board.clock_label.rect().topRight())
    assert clock.x() <= 1920
    assert board.source.message.toolTip() == message
