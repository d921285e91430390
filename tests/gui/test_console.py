"""The console as an incident manager uses it: read, record, change status."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QWidget

from mimdesk.domain.lifecycle import Status
from mimdesk.store.store import Store

pytestmark = pytest.mark.gui


def _header_text(window) -> str:
    return " ".join(label.text() for label in window.header.findChildren(QLabel))


def _timeline_texts(window) -> list[str]:
    tree = window.timeline
    return [tree.topLevelItem(n).text(2) for n in range(tree.topLevelItemCount())]


def test_main_widgets_are_named_for_tests_and_accessibility(make_console) -> None:
    window = make_console()

    for name in ("IncidentList", "IncidentHeader", "Timeline"):
        assert window.findChild(QWidget, name) is not None, name


def test_demo_incidents_are_listed_open_first_and_labelled(make_console) -> None:
    window = make_console()
    model = window.list_model

    rows = [model.index(r, 1).data() for r in range(model.rowCount())]
    statuses = [model.index(r, 2).data() for r in range(model.rowCount())]

    assert len(rows) == 4
    assert all(text.startswith("DEMO") for text in rows)
    assert statuses[-1] == "Closed"
    assert model.index(0, 0).data() == "SEV1"
    assert "DEMO DATA" in window.banners.shown()[0]
    assert "[DEMO]" in window.windowTitle()
    assert "3 open" in window.windowTitle()


def test_header_shows_selected_incident_and_elapsed_ticks(
    make_console, fake_time
) -> None:
    window = make_console()

    assert window.header.title.text() == "Card payments failing for retail customers"
    assert window.header.elapsed.text() == "00:47:00"
    fake_time.advance(65)
    window.timer.timeout.emit()

    assert window.header.elapsed.text() == "00:48:05"
    assert window.list_model.index(0, 3).data() == "00:48:05"


def test_elapsed_comes_from_monotonic_time_not_from_ticks(
    make_console, fake_time
) -> None:
    window = make_console()

    for _ in range(10):  # ten ticks, each of which took 3 s of real time
        fake_time.advance(3)
        window.timer.timeout.emit()

    assert window.header.elapsed.text() == "00:47:30"


def test_note_is_recorded_from_the_keyboard(make_console, qtbot, store: Store) -> None:
    window = make_console()
    incident_id = window.selected

    qtbot.keyClick(window, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.focusWidget() is window.compose.note)
    qtbot.keyClicks(window.compose.note, "Acquirer confirms fix deployed")
    qtbot.keyClick(window.compose.note, Qt.Key.Key_Return)

    qtbot.waitUntil(lambda: "Acquirer confirms fix deployed" in _timeline_texts(window))
    notes = [e.payload.get("text") for e in store.timeline(incident_id)]
    assert "Acquirer confirms fix deployed" in notes
    assert window.compose.note.text() == ""


def test_status_shortcut_records_milestone_and_undo_reverts(
    make_console, qtbot, store: Store
) -> None:
    window = make_console()
    incident_id = window.selected

    qtbot.keyClick(window, Qt.Key.Key_5, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: store.incident(incident_id).status == Status.RESOLVED)
    qtbot.waitUntil(lambda: window.header.status.text() == "RESOLVED")
    assert window.header.milestones[Status.MITIGATED].text() == "not reached"

    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: store.incident(incident_id).status == Status.MOBILISED)
    # The console shows the store's change on its next poll.
    qtbot.waitUntil(
        lambda: any("undo of mobilised" in text for text in _timeline_texts(window))
    )


def test_undo_of_a_forward_move_is_not_a_reopening(
    make_console, qtbot, store: Store
) -> None:
    window = make_console()
    incident_id = window.selected

    window.set_status(Status.RESOLVED)
    qtbot.waitUntil(lambda: window.header.status.text() == "RESOLVED")
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)

    qtbot.waitUntil(lambda: window.header.status.text() == "MOBILISED")
    assert store.incident(incident_id).reopen_count == 0
    assert "reopened" not in window.header.detail.text()


def test_command_error_clears_when_the_next_command_succeeds(
    make_console, qtbot, store: Store
) -> None:
    window = make_console()

    window.set_severity(1)  # already SEV1: refused
    qtbot.waitUntil(window.error.isVisible)
    window.set_severity(2)

    sev2 = window.ctx.settings.severity.name(2)
    qtbot.waitUntil(lambda: window.header.severity.text() == sev2)
    assert not window.error.isVisible()
    assert store.incident(window.selected).severity == 2


def test_reopening_asks_first_and_a_no_changes_nothing(
    make_console, qtbot, store: Store
) -> None:
    window = make_console()
    incident_id = window.selected
    asked: list[str] = []
    window.confirm = lambda title, text: asked.append(text) or False
    before = store.event_count()

    window.set_status(Status.DECLARED)

    assert len(asked) == 1
    assert "Reopen" in asked[0]
    assert store.event_count() == before
    window.confirm = lambda title, text: True
    window.set_status(Status.DECLARED)
    qtbot.waitUntil(lambda: store.incident(incident_id).status == Status.DECLARED)
    assert store.incident(incident_id).reopen_count == 1


def test_refused_command_is_shown_not_swallowed(make_console, qtbot) -> None:
    window = make_console()

    window.set_severity(1)  # the selected demo incident is already SEV1

    qtbot.waitUntil(lambda: window.error.isVisible())
    assert "already SEV1" in window.error.text()


def test_changes_made_elsewhere_appear_without_a_click(
    make_console, qtbot, store: Store, tmp_path, fake_time
) -> None:
    window = make_console()
    other = Store.open(store.path, clock=fake_time.now)  # e.g. the CLI, another process
    try:
        other.declare(
            title="Email delivery delayed", severity=3, services=[], detected_at=None,
            actor="cli",
        ).result()  # fmt: skip
    finally:
        other.close()

    window.timer.timeout.emit()

    qtbot.waitUntil(lambda: window.list_model.rowCount() == 5)
    titles = [window.list_model.index(r, 1).data() for r in range(5)]
    assert any("Email delivery delayed" in t for t in titles)


def test_read_only_store_disables_every_write(
    make_console, store: Store, tmp_path
) -> None:
    from mimdesk.demo import seed

    seed(store, store._clock())
    read_only = Store(store.path, read_only=True)
    try:
        window = make_console(
            demo=False, store=read_only, banners=[("danger", "The store is damaged")]
        )
        assert not window.compose.isEnabled()
        assert not window.declare_action.isEnabled()
        assert "READ-ONLY" in window.store_label.text()
        assert window.banners.shown()[0] == "The store is damaged"
        window.close()
    finally:
        read_only.close()


def test_theme_toggle_switches_colours(make_console, qtbot) -> None:
    window = make_console()
    dark = window.grab().toImage().pixelColor(5, 200)

    qtbot.keyClick(
        window,
        Qt.Key.Key_T,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )

    assert window.theme.name == "light"
    light = window.grab().toImage().pixelColor(5, 200)
    assert light.lightness() > dark.lightness() + 100


def test_selected_row_keeps_severity_colour_and_readable_text(make_console) -> None:
    from PySide6.QtGui import QPalette
    from PySide6.QtWidgets import QStyleOptionViewItem

    window = make_console()
    view = window.incident_list
    delegate = view.itemDelegate()
    severity, title = QStyleOptionViewItem(), QStyleOptionViewItem()
    severity.palette = title.palette = view.palette()

    delegate.initStyleOption(severity, window.list_model.index(0, 0))
    delegate.initStyleOption(title, window.list_model.index(0, 1))

    highlighted = QPalette.ColorRole.HighlightedText
    assert severity.palette.color(highlighted) == window.theme.severity_colour(1)
    assert title.palette.color(highlighted) == view.palette().color(
        QPalette.ColorRole.Text
    )
