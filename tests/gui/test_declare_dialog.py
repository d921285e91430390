"""Declaring an incident from the console, with times read the way people type them."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialogButtonBox

from mimdesk.domain.lifecycle import Status
from mimdesk.resources import resource
from mimdesk.settings import load_catalogue
from mimdesk.store.store import Store
from mimdesk.ui.declare_dialog import DeclareDialog

pytestmark = pytest.mark.gui


@pytest.fixture
def dialog(qtbot, fake_time):
    catalogue, _ = load_catalogue(resource("catalogues", "sample.toml"))
    from mimdesk.domain.severity import SeverityScale

    made = DeclareDialog(
        catalogue, SeverityScale(), ZoneInfo("Europe/London"), fake_time.clock()
    )
    qtbot.addWidget(made)
    return made


def _ok(dialog: DeclareDialog):
    return dialog.buttons.button(QDialogButtonBox.StandardButton.Ok)


def test_declare_needs_a_title(dialog, qtbot) -> None:
    assert not _ok(dialog).isEnabled()

    qtbot.keyClicks(dialog.title, "Core banking unavailable")

    assert _ok(dialog).isEnabled()


def test_time_that_dst_skips_is_refused_with_the_reason(dialog, qtbot) -> None:
    qtbot.keyClicks(dialog.title, "Core banking unavailable")

    dialog.detected.setText("2024-03-31 01:30")

    assert not _ok(dialog).isEnabled()
    assert "does not exist in Europe/London" in dialog.detected_reading.text()


def test_relative_time_is_shown_as_the_instant_it_means(dialog) -> None:
    dialog.detected.setText("15m ago")  # fake now is 14:00 UTC = 14:00 GMT

    assert dialog.detected_reading.text() == "= 2026-12-03 13:45:00 GMT"


def test_declared_incident_appears_selected_in_the_console(
    make_console, qtbot, store: Store, fake_time
) -> None:
    window = make_console(demo=False)
    catalogue = window.ctx.catalogue
    from mimdesk.domain.severity import SeverityScale

    dialog = DeclareDialog(
        catalogue, SeverityScale(), ZoneInfo("UTC"), fake_time.clock()
    )
    qtbot.addWidget(dialog)
    qtbot.keyClicks(dialog.title, "Core banking unavailable")
    dialog.severity.setCurrentIndex(0)
    dialog.services.item(2).setCheckState(Qt.CheckState.Checked)  # core-banking
    dialog.detected.setText("10m ago")

    window.submit_declaration(dialog)

    qtbot.waitUntil(lambda: window.header.title.text() == "Core banking unavailable")
    incident = store.incident(window.selected)
    assert incident.severity == 1
    assert incident.services == ("core-banking",)
    assert incident.status == Status.DECLARED
    assert window.header.elapsed.text() == "00:10:00"
