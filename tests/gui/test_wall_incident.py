"""The wall's live-incident pages: what they say, when they are in the rotation,
and that changes recorded elsewhere reach them."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QLabel, QWidget

from mimdesk.demo import seed
from mimdesk.domain import roster as roster_model
from mimdesk.domain.incident import record_update_sent
from mimdesk.domain.lifecycle import Status
from mimdesk.policy import load_policies
from mimdesk.settings import Settings, people_directory
from mimdesk.store.store import Store
from mimdesk.ui.health_feed import HealthFeed
from mimdesk.ui.incident_feed import IncidentFeed, WallPolicies
from mimdesk.ui.theme import DARK
from mimdesk.ui.wall_main import application
from mimdesk.ui.wallboard import WallBoard

from . import wall_states
from .conftest import FakeTime

pytestmark = pytest.mark.gui

BERLIN = ZoneInfo("Europe/Berlin")
C29 = json.loads(
    (Path(__file__).parent.parent / "fixtures" / "cases" / "C29.json").read_text()
)
SIZES = [(1920, 1080), (3840, 2160)]


def _policies(*, people: bool = False) -> WallPolicies:
    loaded = load_policies(Settings(), demo=True)  # DORA clocks, as in --demo
    directory, _ = people_directory(Settings(), demo=people)
    return WallPolicies(
        directory=directory,
        roles=loaded.roles,
        targets=loaded.targets,
        regimes=tuple(loaded.regimes),
    )


@pytest.fixture
def make_wall(qtbot, store: Store, fake_time: FakeTime):
    """A wall reading `store` through its own read-only connection, as the
    `mimdesk wall` process does."""
    made: list[tuple[WallBoard, Store]] = []

    def make(
        *, demo: bool = True, zone=BERLIN, people: bool = False, tiles: int = 16
    ) -> WallBoard:
        if demo:
            seed(store, fake_time.now())
        reader = Store(store.path, read_only=True)
        feed = IncidentFeed(reader, _policies(people=people))
        health = HealthFeed(wall_states.state(tiles))
        board = WallBoard(
            health, DARK, zone, wall_states.CONFIG, fake_time.clock(), incidents=feed
        )
        qtbot.addWidget(board)
        board.resize(1920, 1080)
        board.show()
        qtbot.waitExposed(board)
        made.append((board, reader))
        return board

    yield make
    for board, reader in made:
        board.close()
        own = board.findChildren(
            QTimer, options=Qt.FindChildOption.FindDirectChildrenOnly
        )
        assert not [t for t in own if t.isActive()], "wall left timers running"
        reader.close()


def _sev1(store: Store) -> str:
    return next(i.id for i in store.incidents() if i.severity == 1)


def _texts(grid) -> list[list[str]]:
    return grid.texts()


def test_incident_page_shows_the_live_sev1(make_wall, store: Store) -> None:
    board = make_wall()
    page = board.incident_page

    assert page is not None
    assert page.objectName() == "IncidentPage"
    assert page in board.findChildren(QWidget, "IncidentPage")
    assert board.title.text() == "LIVE INCIDENT"
    assert page.severity.text() == "SEV1 Critical"
    assert page.ident.text() == _sev1(store)
    assert page.status.text() == "MOBILISED"
    assert page.demo.isVisible()
    assert page.demo.text() == "DEMO"
    assert page.elapsed.text() == "00:47:00"
    assert page.detail.text().startswith("Detected 14:13 CET \u00b7 13:13 UTC")
    # First update was due 30 min after declaration (13:18 UTC): 12 min late.
    assert page.clock.next_update.text() == "OVERDUE by 12 min"
    assert DARK.danger in page.clock.next_update.styleSheet()
    assert page.clock.next_update_detail.text() == (
        "was due 14:48 CET \u00b7 13:48 UTC \u00b7 none sent yet"
    )
    assert [
        "DORA \u00b7 Initial notification",
        "due 18:18 CET \u00b7 17:18 UTC",
        "03:18:00 left",
    ] in page.reports.reports.texts()


def test_missing_roles_are_named_in_red_and_waiting_people_timed(make_wall) -> None:
    page = make_wall(people=True).incident_page

    assert page.roster.missing.text() == "MISSING: Scribe, Business liaison"
    assert DARK.danger in page.roster.missing.styleSheet()
    rows = page.roster.roles.texts()
    assert ["Scribe", "MISSING", ""] in rows
    assert ["Business liaison", "MISSING", ""] in rows
    assert ["Incident commander", "Alice Martin (DEMO)", "14:00 GMT"] in rows
    assert ["Communications lead", "Chen Wei (DEMO)", "22:00 +08"] in rows
    assert page.roster.waiting.texts() == [
        ["Erin Walsh (DEMO)", "requested 40 min ago", "09:00 EST"]
    ]


def test_elapsed_runs_from_the_clock_not_from_ticks(
    make_wall, fake_time: FakeTime
) -> None:
    board = make_wall()
    page = board.incident_page

    for _ in range(5):  # ticks with no time passing move nothing
        board._on_clock_timer_timeout()
    assert page.elapsed.text() == "00:47:00"
    fake_time.advance(65)  # one late tick still shows the true time
    board._on_clock_timer_timeout()

    assert page.elapsed.text() == "00:48:05"
    assert page.clock.next_update.text() == "OVERDUE by 13 min"


def test_rotation_shows_each_open_incident_then_the_health_pages(
    make_wall, store: Store
) -> None:
    board = make_wall()
    open_ids = [i.id for i in store.incidents(include_closed=False)]
    severities = [i.severity for i in store.incidents(include_closed=False)]

    assert severities == [1, 2, 4]  # most severe first; the closed one not shown
    assert board.sequence() == [
        *(("incident", i) for i in open_ids),
        ("health", 0),
        ("health", 1),
    ]
    assert board.page.text() == "Page 1 of 5"
    seen = []
    for _ in range(5):
        board._on_page_timer_timeout()
        seen.append((board.showing, board.page.text()))

    assert seen == [
        (("incident", open_ids[1]), "Page 2 of 5"),
        (("incident", open_ids[2]), "Page 3 of 5"),
        (("health", 0), "Page 4 of 5"),
        (("health", 1), "Page 5 of 5"),
        (("incident", open_ids[0]), "Page 1 of 5"),
    ]
    board._on_page_timer_timeout()
    assert board.incident_page.ident.text() == open_ids[1]
    assert board.incident_page.status.text() == "MITIGATED"
    assert not board.incident_page.demo.isHidden()


def test_no_open_incident_shows_only_health(make_wall) -> None:
    board = make_wall(demo=False)

    assert board.sequence() == [("health", 0), ("health", 1)]
    assert board.incident_page is None
    assert board.stack.currentWidget() is board.grid
    assert board.title.text() == "SERVICE HEALTH"
    assert board.page.text() == "Page 1 of 2"


def test_a_join_recorded_elsewhere_reaches_the_wall_after_the_poll(
    make_wall, qtbot, store: Store
) -> None:
    board = make_wall()
    page = board.incident_page
    join = roster_model.decision("join", "dana", "scribe", at=None, actor="cli")

    with qtbot.waitSignal(board.incidents.changed, timeout=5000):
        store.roster_command(_sev1(store), join).result()

    assert page.roster.missing.text() == "MISSING: Business liaison"
    assert ["Scribe", "dana", ""] in page.roster.roles.texts()


def test_incident_pages_come_and_go_as_incidents_open_and_close(
    make_wall, qtbot, store: Store, fake_time: FakeTime
) -> None:
    board = make_wall(demo=False)
    feed = board.incidents

    with qtbot.waitSignal(feed.changed, timeout=5000):
        incident_id = store.declare(
            title="Core banking batch stuck",
            severity=2,
            services=[],
            detected_at=fake_time.now() - timedelta(minutes=5),
            actor="cli",
        ).result()
    assert board.sequence()[0] == ("incident", incident_id)
    assert board.showing == ("incident", incident_id)  # news: shown at once
    assert board.page.text() == "Page 1 of 3"
    assert board.incident_page.demo.isHidden()  # a real incident: no DEMO label

    with qtbot.waitSignal(feed.changed, timeout=5000):
        store.change_status(incident_id, Status.RESOLVED, actor="cli").result()

    assert board.sequence() == [("health", 0), ("health", 1)]
    assert board.showing == ("health", 0)
    assert board.stack.currentWidget() is board.grid


def test_c29_clocks_across_the_dst_change(qtbot, tmp_path: Path) -> None:
    """Elapsed and next update from instants, in GMT/BST and UTC together."""
    now = datetime.fromisoformat(C29["now_utc"].replace("Z", "+00:00"))
    detected = datetime.fromisoformat(
        C29["milestones_utc"]["detected"].replace("Z", "+00:00")
    )
    time = FakeTime(wall=now.timestamp())
    store = Store.open(tmp_path / "c29.sqlite", clock=time.now)
    reader = Store(store.path, read_only=True)
    try:
        incident_id = store.declare(
            title="C29", severity=1, services=[], detected_at=detected, actor="t"
        ).result()
        store.command(
            incident_id,
            lambda state, at_: record_update_sent(state, "first", now=at_, actor="t"),
        ).result()
        board = WallBoard(
            HealthFeed(wall_states.state(2)),
            DARK,
            ZoneInfo(C29["display_tz"]),
            wall_states.CONFIG,
            time.clock(),
            incidents=IncidentFeed(reader, _policies()),
        )
        qtbot.addWidget(board)
        page = board.incident_page

        assert page.elapsed.text() == C29["expected"]["elapsed_since_detected"]
        assert page.clock.next_update.text() == "00:30:00"
        due = C29["expected"]["next_update_due_display"]
        assert page.clock.next_update_detail.text().startswith(
            f"due {due} \u00b7 01:50 UTC"
        )
        assert page.milestones[Status.DETECTED].text() == "01:50 BST\n00:50 UTC"
        board.close()
    finally:
        reader.close()
        store.close()


def _clipped(label: QLabel) -> bool:
    if label.wordWrap():
        return label.height() < label.heightForWidth(label.width())
    return label.height() < label.sizeHint().height() or (
        label.width() < label.sizeHint().width()
    )


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_incident_page_fits_wall_sizes(
    make_wall, qtbot, tmp_path: Path, width: int, height: int
) -> None:
    application("dark")  # themed as `mimdesk wall` is
    board = make_wall(people=True, zone=ZoneInfo("Europe/London"))
    board.resize(width, height)
    page = board.incident_page
    labels = [label for label in page.findChildren(QLabel) if label.isVisible()]
    qtbot.waitUntil(lambda: board.scale > 1.15 or width == 1920)
    qtbot.waitUntil(lambda: not [label for label in labels if _clipped(label)])
    out = Path(os.environ.get("MIMDESK_SCREENSHOTS", tmp_path))
    out.mkdir(parents=True, exist_ok=True)

    image = board.grab().toImage()
    image.save(str(out / f"wall-incident-{width}x{height}.png"))

    assert (image.width(), image.height()) == (width, height)
    for label in labels:  # nothing runs off the bottom or the right
        corner = label.mapTo(board, label.rect().bottomRight())
        assert corner.x() <= width, label.text()
        assert corner.y() <= height, label.text()
    assert page.elapsed.text() == "00:47:00"


def test_a_store_made_after_the_wall_started_is_picked_up(
    qtbot, tmp_path: Path, fake_time: FakeTime
) -> None:
    """A wall started before anyone recorded an incident shows the first one."""
    path = tmp_path / "later" / "mimdesk.sqlite"
    reader = Store(path, read_only=True)
    writer: Store | None = None
    try:
        feed = IncidentFeed(reader, _policies())
        board = WallBoard(
            HealthFeed(wall_states.state(2)),
            DARK,
            UTC,
            wall_states.CONFIG,
            fake_time.clock(),
            incidents=feed,
        )
        qtbot.addWidget(board)
        assert board.sequence() == [("health", 0)]

        writer = Store.open(path, clock=fake_time.now)
        with qtbot.waitSignal(feed.changed, timeout=5000):
            writer.declare(
                title="First one", severity=1, services=[], detected_at=None, actor="t"
            ).result()

        assert board.incident_page is not None
        assert board.incident_page.title.text() == "First one"
        board.close()
    finally:
        reader.close()
        if writer is not None:
            writer.close()


def test_the_clock_and_roster_carry_the_names_the_issue_gives(make_wall) -> None:
    page = make_wall().incident_page

    assert page.findChild(QWidget, "MilestoneClock") is page.clock
    assert page.findChild(QWidget, "BridgeRoster") is page.roster
    assert page.clock.accessibleName() == "Milestone clock"
    assert page.roster.accessibleName() == "Bridge roster"


def test_the_wall_says_due_soon_in_amber_before_red(
    make_wall, qtbot, store: Store, fake_time: FakeTime, tmp_path: Path
) -> None:
    application("dark")  # themed as `mimdesk wall` is
    board = make_wall(demo=False)
    store.declare(
        title="Core banking ledger unavailable",
        severity=1,
        services=[],
        detected_at=fake_time.now() - timedelta(minutes=10),
        actor="t",
    ).result()
    board.incidents.reload()
    page = board.incident_page
    fake_time.advance(10 * 60)
    board._on_clock_timer_timeout()

    rows = {row[1].text(): row for row in page.clock.targets.rows}
    level, _name, left = rows["mobilised within 15 min of declared"]
    assert [level.text(), left.text()] == ["DUE SOON", "00:05:00 left"]
    assert DARK.warning in level.styleSheet()
    labels = [label for label in page.findChildren(QLabel) if label.isVisible()]
    qtbot.waitUntil(lambda: not [label for label in labels if _clipped(label)])
    out = Path(os.environ.get("MIMDESK_SCREENSHOTS", tmp_path))
    out.mkdir(parents=True, exist_ok=True)
    board.grab().toImage().save(str(out / "wall-incident-due-soon-1920x1080.png"))
    fake_time.advance(15 * 60)  # next update: 30 min, amber for its last 6
    board._on_clock_timer_timeout()
    assert page.clock.next_update.text() == "DUE SOON 00:05:00"
    assert DARK.warning in page.clock.next_update.styleSheet()


def test_recovery_progress_shows_done_blocked_and_overdue_with_owners(
    make_wall, store: Store, fake_time: FakeTime, qtbot, tmp_path: Path
) -> None:
    from mimdesk.domain import actions as act
    from mimdesk.resources import resource
    from mimdesk.runbook_files import load_runbook

    seed(store, fake_time.now())
    runbook, _ = load_runbook(resource("runbooks", "payments.toml"))
    assert runbook is not None
    incident_id = _sev1(store)
    store.action_command(
        incident_id,
        lambda i, b, r, now: act.start_runbook(i, b, r, runbook, now=now, actor="x"),
    ).result()
    store.action_command(
        incident_id,
        lambda i, b, r, now: [
            act.set_status(i, b, "A2", act.ActionStatus.BLOCKED, now=now,
                           actor="x", reason="line down")
        ],
    ).result()  # fmt: skip
    board = make_wall(demo=False)
    page = board.incident_page
    fake_time.advance(12 * 60)  # A1 was due 10 min after the runbook started
    page.set_now(fake_time.now())

    assert page.detail.text().splitlines()[-1] == (
        "Recovery 0/4 done \u00b7 1 blocked \u00b7 overdue: A1 (bob)"
    )
    out = Path(os.environ.get("MIMDESK_SCREENSHOTS", tmp_path))
    out.mkdir(parents=True, exist_ok=True)
    board.grab().toImage().save(str(out / "wall-recovery.png"))
