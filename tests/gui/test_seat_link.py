"""The link to the other seats where people look: the wall says LAST KNOWN
STATE while it is down and nothing while it is up; the console's status bar
says when it last synced or since when it is offline; the Seats window lists
who was heard from and what was refused."""

from __future__ import annotations

from datetime import UTC, timedelta

import pytest

from mimdesk.store.seats import Refused, Seat
from mimdesk.sync.seat_sync import SeatStatus
from mimdesk.ui.seat_link import SeatsDialog, link_tip, link_words, wall_words
from mimdesk.ui.theme import DARK
from mimdesk.ui.wallboard import WallBoard

from . import wall_states
from .conftest import START

pytestmark = pytest.mark.gui

HEARD = (Seat("seat-3f2a91c0", "@ops-laptop:hq", START - timedelta(seconds=40), 12),)


def test_the_wall_marks_the_last_known_state_while_the_link_is_down(
    qtbot, fake_time
) -> None:
    status = [SeatStatus(connected=True, last_sync=START, seats=HEARD)]
    board = WallBoard(
        wall_states_feed(), DARK, UTC, wall_states.CONFIG, fake_time.clock(),
        seats=lambda: status[0],
    )  # fmt: skip
    qtbot.addWidget(board)
    board.resize(1920, 1080)
    board.show()
    qtbot.waitExposed(board)
    assert board.seat_strip is not None
    assert not board.seat_strip.isVisible()

    status[0] = SeatStatus(offline_since=START - timedelta(minutes=3), seats=HEARD)
    qtbot.waitUntil(board.seat_strip.isVisible, timeout=3000)

    assert board.seat_strip.text() == (
        "LAST KNOWN STATE \u2014 no link to the other seats since 13:57:00 UTC "
        "(3 min ago)"
    )
    assert board.grid.tiles  # the health pages stay on screen underneath


def wall_states_feed():
    from mimdesk.ui.health_feed import HealthFeed

    return HealthFeed(wall_states.state(4))


def test_the_console_words_say_synced_offline_or_why_not_linked() -> None:
    now = START
    linked = SeatStatus(
        connected=True, last_sync=now - timedelta(seconds=5), seats=HEARD
    )
    offline = SeatStatus(offline_since=now - timedelta(minutes=75), problem="refused")
    broken = SeatStatus(problem="the homeserver refused the token (M_UNKNOWN_TOKEN)")

    assert link_words(linked, now, UTC) == (
        "Seats linked \u00b7 13:59:55 UTC",
        "status_resolved",
    )
    assert link_tip(linked).startswith("Linked to the other seats through Matrix; 1 ")
    assert link_words(offline, now, UTC) == (
        "Seats OFFLINE since 12:45:00 UTC (1 h 15 min)",
        "warning",
    )
    assert "what shows is the last known state" in link_tip(offline)
    assert link_words(broken, now, UTC) == ("Seats not linked", "warning")
    assert "M_UNKNOWN_TOKEN" in link_tip(broken)
    assert wall_words(linked, now, UTC) == ""


def test_the_seats_window_lists_who_was_heard_and_what_was_refused(qtbot) -> None:
    refused = [
        Refused("$ev1", "!room:hq", "@intruder:evil", "sender below the power level",
                START - timedelta(minutes=1)),
    ]  # fmt: skip
    status = SeatStatus(connected=True, last_sync=START, seats=HEARD, merged=12)
    dialog = SeatsDialog("seat-0a1b2c3d", status, refused, UTC, START)
    qtbot.addWidget(dialog)

    cells = [dialog.seats.item(0, c).text() for c in range(dialog.seats.columnCount())]
    assert cells == ["seat-3f2a91c0", "@ops-laptop:hq", "13:59:20 UTC (40 s ago)", "12"]
    assert dialog.refused.item(0, 1).text() == "@intruder:evil"
    assert dialog.refused.item(0, 2).text() == "sender below the power level"
