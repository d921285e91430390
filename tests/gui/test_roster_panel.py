"""The bridge panel: missing roles in red, people recorded from the keyboard."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWidget

from mimdesk.store.store import Store

pytestmark = pytest.mark.gui


def _rows(window) -> list[list[str]]:
    tree = window.roster_panel.people
    return [
        [tree.topLevelItem(n).text(c) for c in range(4)]
        for n in range(tree.topLevelItemCount())
    ]


def test_demo_sev1_shows_who_is_on_and_who_is_missing(make_console) -> None:
    window = make_console()

    assert window.findChild(QWidget, "BridgeRoster") is not None
    assert window.roster_panel.missing.text() == "MISSING: Scribe, Business liaison"
    rows = {row[0]: row for row in _rows(window)}
    assert rows["erin"][1] == "requested 40 min ago"  # no directory in this test
    assert rows["alice"][1] == "on for 39 min"
    assert rows["alice"][2] == "Incident commander"
    # First request 6 min after detection (47 min ago): 41 min of mobilising.
    assert window.roster_panel.mobilisation.text() == (
        "Mobilising for 41 min since the first request"
    )


def test_joining_from_the_keyboard_fills_the_missing_role(
    make_console, qtbot, store: Store
) -> None:
    window = make_console()
    incident_id = window.selected
    panel = window.roster_panel

    qtbot.keyClick(window, Qt.Key.Key_J, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.focusWidget() is panel.person)
    panel.role.setCurrentIndex(panel.role.findData("scribe"))
    qtbot.keyClicks(panel.person, "dana")
    qtbot.keyClick(panel.person, Qt.Key.Key_Return)

    qtbot.waitUntil(lambda: "Scribe" not in panel.missing.text())
    assert store.roster(incident_id).holders_of("scribe") == ("dana",)
    assert panel.person.text() == ""
    assert panel.missing.text() == "MISSING: Business liaison"


def test_a_refused_roster_move_is_shown(make_console, qtbot) -> None:
    window = make_console()
    panel = window.roster_panel

    panel.person.setText("zed")
    panel.buttons["leave"].click()

    qtbot.waitUntil(lambda: window.error.isVisible())
    assert "zed is not on the bridge" in window.error.text()
