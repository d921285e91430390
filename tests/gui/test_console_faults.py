"""The console when its store is damaged, swapped or odd: it stays up and says so."""

from __future__ import annotations

import logging
import shutil
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from PySide6.QtCore import Qt

from mimdesk.domain.incident import Milestone
from mimdesk.domain.lifecycle import Status
from mimdesk.settings import Settings
from mimdesk.store.store import Store

pytestmark = pytest.mark.gui

MALFORMED = "database disk image is malformed"
DAMAGE = "The incident store is damaged (see the log). Newest backup: b.sqlite."


def _timeline_texts(window) -> list[str]:
    tree = window.timeline
    return [tree.topLevelItem(n).text(2) for n in range(tree.topLevelItemCount())]


def _read_alert(window) -> str:
    (alert,) = [t for t in window.banners.shown() if t.startswith("Part of the store")]
    return alert


def test_unreadable_journal_keeps_the_list_and_shows_a_banner(
    damaged_store, make_console
) -> None:
    store = damaged_store(zero_tables=("journal",))

    window = make_console(demo=False, store=store)

    assert window.list_model.rowCount() == 4
    assert window.header.title.text() == "Card payments failing for retail customers"
    assert _timeline_texts(window) == ["This timeline cannot be read from the store."]
    assert f"cannot be read ({MALFORMED})" in _read_alert(window)
    assert "What is shown may be incomplete." in _read_alert(window)
    assert window.banners.isVisible()


def test_selecting_and_ticking_on_a_damaged_store_logs_once(
    damaged_store, make_console, qtbot, caplog
) -> None:
    store = damaged_store(zero_tables=("journal",))
    window = make_console(demo=False, store=store)
    second = window.list_model.incident(1).title

    window.incident_list.selectRow(1)
    for _ in range(3):
        qtbot.keyClick(window, Qt.Key.Key_F5)
        window.timer.timeout.emit()

    assert window.header.title.text() == second
    assert MALFORMED in _read_alert(window)
    failures = [
        r
        for r in caplog.records
        if r.name == "mimdesk.ui.bridge" and MALFORMED in r.getMessage()
    ]
    assert len(failures) == 1
    assert failures[0].levelno == logging.ERROR


def test_truncated_store_opens_empty_with_both_banners(
    damaged_store, make_console, fake_time
) -> None:
    store = damaged_store(keep_bytes=5 * 4096 + 100)

    window = make_console(demo=False, store=store, banners=[("danger", DAMAGE)])
    fake_time.advance(1)
    window.timer.timeout.emit()

    assert window.list_model.rowCount() == 0
    assert window.header.title.text() == "No incident selected"
    assert window.windowTitle() == "MIMDesk"
    damage, alert = window.banners.shown()
    assert damage == DAMAGE
    assert alert == (
        f"Part of the store cannot be read ({MALFORMED}). What is shown may be "
        "incomplete. The banner above says which backup, if any, to restore."
    )


def test_unreadable_incident_rows_leave_a_readable_console(
    damaged_store, make_console
) -> None:
    store = damaged_store(zero_tables=("incidents",))

    window = make_console(demo=False, store=store)

    assert window.list_model.rowCount() == 0
    assert window.header.title.text() == "No incident selected"
    assert MALFORMED in _read_alert(window)
    assert "mimdesk store check" in _read_alert(window)


@pytest.mark.parametrize("copy_back", [True, False], ids=["replaced", "removed"])
def test_swapped_store_file_is_announced_and_writing_stops(
    make_console, qtbot, store: Store, tmp_path, copy_back
) -> None:
    window = make_console()
    before = store.event_count()
    aside = store.path.rename(tmp_path / "aside.sqlite")
    if copy_back:
        shutil.copy2(aside, store.path)

    window.timer.timeout.emit()

    assert any("replaced or removed" in t for t in window.banners.shown())
    assert "Restart MIMDesk" in window.banners.shown()[-1]
    assert not window.compose.isEnabled()
    assert not window.declare_action.isEnabled()
    assert not window.status_actions[Status.RESOLVED].isEnabled()
    assert not window.severity_actions[1].isEnabled()
    qtbot.keyClick(window, Qt.Key.Key_5, Qt.KeyboardModifier.ControlModifier)
    window.set_severity(2)
    assert "Not recorded" in window.error.text()
    assert store.event_count() == before


def test_instant_the_zone_cannot_show_does_not_break_the_display(
    make_console, store: Store, fake_time
) -> None:
    settings = Settings(timezone="America/New_York", operator="tester")
    window = make_console(settings=settings)
    year_one = datetime(1, 1, 1, tzinfo=UTC)
    shown = window.header.incident
    milestones = {status: Milestone(year_one) for status in shown.milestones}
    incident = replace(shown, milestones=milestones)
    events = [
        replace(e, occurred_at=year_one, recorded_at=year_one)
        for e in store.timeline(incident.id)
    ]

    window.header.show_incident(incident)
    window.timeline.show_events(events, incident.id)
    fake_time.advance(1)
    window.timer.timeout.emit()

    assert "Detected" in window.header.detail.text()
    assert "00:00" in window.header.detail.text()
    when = window.timeline.topLevelItem(0).text(0)
    assert "00:00:00" in when
    assert window.timeline.topLevelItemCount() == len(events)
