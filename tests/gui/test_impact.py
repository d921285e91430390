"""Business impact in the console (panel, Ctrl+I override) and on the wall's
incident page, with the sample catalogue and its DEMO ledger database slow."""

from __future__ import annotations

import os
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QLabel

from mimdesk.demo import seed
from mimdesk.domain.impact_override import overrides_of
from mimdesk.store.store import Store
from mimdesk.ui.health_feed import HealthFeed
from mimdesk.ui.impact_dialog import OverrideDialog
from mimdesk.ui.incident_feed import IncidentFeed
from mimdesk.ui.theme import DARK
from mimdesk.ui.wall_main import application
from mimdesk.ui.wallboard import WallBoard

from . import impact_states
from .conftest import FakeTime
from .test_wall_incident import _policies

pytestmark = pytest.mark.gui

LONDON = ZoneInfo("Europe/London")
SIZES = [(1920, 1080), (3840, 2160)]


def _shots(tmp_path: Path) -> Path:
    out = Path(os.environ.get("MIMDESK_SCREENSHOTS", tmp_path))
    out.mkdir(parents=True, exist_ok=True)
    return out


def _clipped(label: QLabel) -> bool:
    if label.wordWrap():
        return label.height() < label.heightForWidth(label.width())
    return label.height() < label.sizeHint().height() or (
        label.width() < label.sizeHint().width()
    )


def _sev1(store: Store) -> str:
    return next(i.id for i in store.incidents() if i.severity == 1)


# --- console --------------------------------------------------------------------


@pytest.fixture
def health() -> HealthFeed:
    return HealthFeed(impact_states.demo_state())


def _table(window) -> list[list[str]]:
    table = window.impact_panel.table
    return [
        [table.topLevelItem(row).text(column) for column in range(4)]
        for row in range(table.topLevelItemCount())
    ]


def test_the_panel_shows_what_the_slow_database_hurts(
    make_console, health, qtbot
) -> None:
    window = make_console(health=health)
    panel = window.impact_panel
    expected = [
        ["DEGRADED", "Card payments", "1.24 M", "13:13 UTC"],
        ["DEGRADED", "Online and mobile banking", "1.28 M", "13:13 UTC"],
    ]

    # The incident's journal is read off the GUI thread: wait for it.
    qtbot.waitUntil(lambda: _table(window) == expected)
    assert panel.totals.text() == (
        "1.32 M customers affected \u00b7 EUR 69.5 k/h at risk \u00b7 "
        "EUR 54.4 k since 13:13 UTC"
    )
    assert panel.detail.text() == (
        "Card payments: card-gateway (hard) \u2190 core-banking (hard) "
        "\u2190 ledger-db (hard): WARNING \u00b7 EUR 60.5 k/h at risk \u00b7 "
        "EUR 47.4 k so far"
    )
    assert DARK.warning == panel.table.topLevelItem(0).background(0).color().name()


def test_the_panel_follows_health_and_the_selected_incident(
    make_console, health, qtbot, fake_time: FakeTime
) -> None:
    window = make_console(health=health)
    panel = window.impact_panel

    health.publish(impact_states.demo_state(at=fake_time.wall))  # the DB is well
    qtbot.waitUntil(lambda: panel.table.isHidden())
    assert panel.totals.text() == (
        "No business service is impacted through payments-api, card-gateway now."
    )
    search = next(i.id for i in window.ctx.store.incidents() if i.severity == 4)
    window.incident_list.select_incident(search)
    window._on_list_incident_selected(search)
    assert panel.totals.text() == (
        "No business service is impacted through intranet-search now."
    )


def test_ctrl_i_records_an_override_and_both_levels_show(
    make_console, health, qtbot, store: Store
) -> None:
    window = make_console(health=health)
    seen: list[str] = []

    def fill(dialog: OverrideDialog) -> bool:
        seen.append(dialog.business.currentData())  # the selected row's
        assert not dialog.ok.isEnabled()  # a reason is needed first
        dialog.level.setCurrentIndex(dialog.level.findData("down"))
        dialog.reason.setText("acquirer confirms every card payment fails")
        assert dialog.ok.isEnabled()
        return True

    window.run_dialog = fill
    qtbot.keyClick(window, Qt.Key.Key_I, Qt.KeyboardModifier.ControlModifier)
    panel = window.impact_panel
    qtbot.waitUntil(lambda: _table(window)[0][0] == "DOWN (override)")

    assert seen == ["card-payments"]
    overrides = overrides_of(store.timeline(_sev1(store)))
    assert overrides["card-payments"].actor == "tester"
    assert panel.detail.text().startswith(
        "Card payments: down (override by tester: \u201cacquirer confirms "
        "every card payment fails\u201d) \u2014 computed: degraded"
    )
    assert window.timeline_events()[-1].kind == "impact.overridden"


def test_an_override_is_cleared_from_the_same_dialog(
    make_console, health, qtbot, store: Store
) -> None:
    window = make_console(health=health)

    def say_none(dialog: OverrideDialog) -> bool:
        dialog.level.setCurrentIndex(dialog.level.findData("none"))
        dialog.reason.setText("payments flowing through the secondary acquirer")
        return True

    window.run_dialog = say_none
    window.impact_actions.override()
    qtbot.waitUntil(lambda: _table(window)[0][0] == "NOT IMPACTED (override)")
    assert window.impact_panel.totals.text().startswith("1.28 M customers affected")

    def clear(dialog: OverrideDialog) -> bool:
        dialog.level.setCurrentIndex(dialog.level.findData("clear"))
        assert dialog.ok.isEnabled()
        assert not dialog.reason.isEnabled()
        return True

    window.run_dialog = clear
    window.impact_actions.override()
    qtbot.waitUntil(lambda: _table(window)[0][0] == "DEGRADED")
    assert overrides_of(store.timeline(_sev1(store))) == {}


def test_a_catalogue_without_business_services_says_what_to_add(
    make_console,
) -> None:
    from mimdesk.domain.catalogue import Catalogue

    window = make_console(catalogue=Catalogue())

    assert window.impact_panel.totals.text().startswith(
        "The catalogue names no business services"
    )
    assert window.impact_panel.table.isHidden()


@pytest.mark.parametrize(("width", "height"), [(1480, 900), (1920, 1080)])
def test_console_with_impact_renders_readably(
    make_console, health, qtbot, tmp_path: Path, width: int, height: int
) -> None:
    window = make_console(health=health)
    window.resize(width, height)
    panel = window.impact_panel
    labels = [panel.totals, panel.detail]
    qtbot.waitUntil(lambda: not [label for label in labels if _clipped(label)])

    window.grab().toImage().save(str(_shots(tmp_path) / f"impact-console-{width}.png"))

    corner = panel.mapTo(window, panel.rect().bottomRight())
    assert corner.y() <= height
    assert panel.table.visualItemRect(panel.table.topLevelItem(1)).height() > 0
    assert window.roster_panel.people.height() > 3 * panel.fontMetrics().height()


# --- wall -----------------------------------------------------------------------


@pytest.fixture
def make_wall(qtbot, store: Store, fake_time: FakeTime):
    """A wall reading `store` read-only, its health the sample catalogue's."""
    made: list[tuple[WallBoard, Store]] = []

    def make(state=None, *, people: bool = True) -> WallBoard:
        seed(store, fake_time.now())
        reader = Store(store.path, read_only=True)
        feed = IncidentFeed(reader, _policies(people=people))
        health = HealthFeed(state or impact_states.demo_state())
        board = WallBoard(
            health, DARK, LONDON, impact_states.sample().wall, fake_time.clock(),
            incidents=feed,
        )  # fmt: skip
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


def test_the_wall_shows_business_services_and_customers_hurt(make_wall) -> None:
    page = make_wall().incident_page
    impact = page.impact

    assert impact.isVisible()
    assert impact.caption.text() == "BUSINESS IMPACT SINCE 13:13 GMT \u00b7 13:13 UTC"
    assert impact.customers.text() == "1.32 M customers affected"
    assert impact.money.text() == "EUR 69.5 k/h at risk \u00b7 EUR 54.4 k so far"
    assert impact.lines() == [
        "DEGRADED: Card payments \u00b7 Online and mobile banking"
    ]
    assert f"background:{DARK.warning}" in impact.services.text()
    assert impact.services.toolTip().startswith(
        "Card payments: card-gateway (hard) \u2190 core-banking (hard) \u2190 "
        "ledger-db (hard): WARNING"
    )


def test_the_wall_follows_health(make_wall, qtbot, fake_time: FakeTime) -> None:
    board = make_wall()
    impact = board.incident_page.impact

    board.feed.publish(impact_states.demo_state(at=fake_time.wall))
    qtbot.waitUntil(lambda: impact.empty.isVisible())
    assert impact.empty.text() == (
        "No business service is impacted through payments-api, card-gateway now."
    )
    assert not impact.customers.isVisible()


def test_no_business_services_no_panel(make_wall) -> None:
    from dataclasses import replace

    state = impact_states.demo_state()
    bare = replace(state, catalogue=replace(state.catalogue, business_services=()))
    page = make_wall(bare).incident_page

    assert not page.impact.isVisible()


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_the_incident_page_with_impact_fits_wall_sizes(
    make_wall, qtbot, tmp_path: Path, width: int, height: int
) -> None:
    application("dark")  # themed as `mimdesk wall` is
    board = make_wall()
    board.resize(width, height)
    page = board.incident_page
    labels = [label for label in page.findChildren(QLabel) if label.isVisible()]
    qtbot.waitUntil(lambda: board.scale > 1.15 or width == 1920)
    qtbot.waitUntil(lambda: not [label for label in labels if _clipped(label)])

    image = board.grab().toImage()
    image.save(str(_shots(tmp_path) / f"impact-wall-{width}x{height}.png"))

    for label in labels:  # nothing runs off the bottom or the right
        corner = label.mapTo(board, label.rect().bottomRight())
        assert corner.x() <= width, label.text()
        assert corner.y() <= height, label.text()
    assert page.impact.customers.text() == "1.32 M customers affected"
