"""The issue's whole job: a wallboard on a second machine (a second data folder
here) shows the incident a workstation declared, with its roster and clock,
through a real Synapse; and when the network drops it keeps showing the last
known state, marked as such, until the link returns."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from mimdesk.clock import MonotonicClock
from mimdesk.domain import roster as roster_model
from mimdesk.domain.events import NewEvent
from mimdesk.domain.roster import Roster
from mimdesk.ui.health_feed import HealthFeed
from mimdesk.ui.incident_feed import IncidentFeed, WallPolicies
from mimdesk.ui.theme import DARK
from mimdesk.ui.wallboard import WallBoard

from .seats import Relay, Seat
from .synapse import Synapse
from .test_seats_real import declare

pytestmark = pytest.mark.slow


def test_the_wallboard_seat_shows_the_declared_incident_and_then_its_last_state(
    qtbot, synapse: Synapse, make_seat: Callable[..., Seat], relay: Relay
) -> None:
    from gui import wall_states

    wall_account, desk_account = synapse.register("wall"), synapse.register("desk")
    desk = make_seat(
        "desk", writers=(desk_account.user_id,), readers=(wall_account.user_id,),
        account=desk_account,
    )  # fmt: skip
    wall = make_seat("wall", role="wallboard", account=wall_account, url=relay.url)
    incident_id = declare(desk.store, "Card payments failing at checkout")

    def join(r: Roster, now: datetime) -> NewEvent:
        return roster_model.join(
            r, "alice", role="commander", at=now, now=now, actor="desk"
        )

    desk.store.roster_command(incident_id, join).result()
    desk.round()

    incidents = IncidentFeed(wall.store, WallPolicies())
    board = WallBoard(
        HealthFeed(wall_states.state(4)), DARK, UTC, wall_states.CONFIG,
        MonotonicClock(), incidents=incidents, seats=wall.sync.status,
    )  # fmt: skip
    qtbot.addWidget(board)
    board.resize(1600, 900)
    board.show()
    wall.sync.start()  # the wallboard's own sync thread, as `mimdesk wall` runs it

    qtbot.waitUntil(lambda: board.incident_page is not None, timeout=20_000)
    page = board.incident_page
    assert page is not None
    assert page.ident.text() == incident_id
    assert page.title.text() == "Card payments failing at checkout"
    assert page.severity.text().startswith("SEV2")
    assert page.status.text() == "DECLARED"
    assert ["Incident commander", "alice", page.roster.roles.texts()[0][2]] in (
        page.roster.roles.texts()
    )
    assert page.elapsed.text() != "--:--:--"  # the clock runs on this seat
    assert board.seat_strip is not None
    qtbot.waitUntil(lambda: not board.seat_strip.isVisible(), timeout=20_000)

    relay.cut()
    wall.sync.wake()
    qtbot.waitUntil(board.seat_strip.isVisible, timeout=20_000)

    assert board.seat_strip.text().startswith(
        "LAST KNOWN STATE \u2014 no link to the other seats since "
    )
    assert board.incident_page is page  # still on screen
    assert page.ident.text() == incident_id
    assert wall.store.incident(incident_id).title == "Card payments failing at checkout"

    relay.restore()
    desk.store.change_severity(incident_id, 1, actor="desk").result()
    desk.round()
    wall.sync.wake()
    qtbot.waitUntil(lambda: not board.seat_strip.isVisible(), timeout=60_000)
    qtbot.waitUntil(lambda: page.severity.text().startswith("SEV1"), timeout=20_000)
