"""The milestone clock in the console: targets, next update, report clocks, bridge."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QWidget

from mimdesk.domain import events as ev
from mimdesk.domain import roster as roster_model
from mimdesk.policy import choose_regimes, load_regulatory
from mimdesk.settings import Settings
from mimdesk.store.store import Store

pytestmark = pytest.mark.gui

FIRST_UPDATE = "first update within 30 min of declared"
CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


def _answer(**fields: str) -> Callable[[QDialog], bool]:
    """Stands in for a person: types into the dialog's fields, then presses OK
    (only if OK is enabled, as a person could)."""

    def run(dialog: QDialog) -> bool:
        for name, text in fields.items():
            getattr(dialog, name).setText(text)
        buttons = dialog.findChild(QDialogButtonBox)
        return buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled()

    return run


def _target(window, name: str) -> list[QLabel]:
    rows = window.clock_panel.targets.rows
    return next(row for row in rows if row[0].isVisible() and row[1].text() == name)


def _reports(window) -> list[list[str]]:
    return window.clock_panel.reports.texts()


def _dora(**settings) -> list:
    known = load_regulatory().value
    regimes, problems = choose_regimes(
        Settings(regulations=("dora",), **settings), known, demo=False
    )
    assert not problems
    return regimes


def test_demo_sev1_shows_first_update_red_and_next_update_overdue(
    make_console,
) -> None:
    window = make_console()
    panel = window.findChild(QWidget, "MilestoneClock")
    theme = window.theme

    level, _name, left = _target(window, FIRST_UPDATE)

    assert panel is window.clock_panel
    assert panel.accessibleName() == "Milestone clock"
    assert (level.text(), left.text()) == ("RED", "OVERDUE 00:12:00")
    assert theme.danger in level.styleSheet()
    declared = _target(window, "declared within 15 min of detected")
    assert declared[0].text() == "MET"
    assert theme.status_resolved in declared[0].styleSheet()
    assert panel.next_update.text() == "OVERDUE by 12 min"
    assert theme.danger in panel.next_update.styleSheet()
    assert panel.next_update_detail.text() == "was due 13:48 UTC \u00b7 none sent yet"


def test_update_sent_from_ctrl_u_meets_the_target_and_moves_the_countdown(
    make_console, qtbot, store: Store
) -> None:
    window = make_console()
    incident_id = window.selected
    readings: list[str] = []
    answer = _answer(summary="Failover under way", audience="executives")

    def run(dialog: QDialog) -> bool:
        dialog.sent_at.setText("15m ago")  # comms sent it at 13:45
        readings.append(dialog.reading.text())
        return answer(dialog)

    window.run_dialog = run
    qtbot.keyClick(window, Qt.Key.Key_U, CTRL)

    level, _name, spare = _target(window, FIRST_UPDATE)
    qtbot.waitUntil(lambda: level.text() == "MET")
    panel = window.clock_panel
    assert spare.text() == "3 min to spare"
    assert window.theme.status_resolved in level.styleSheet()
    assert panel.next_update.text() == "00:15:00"
    assert panel.next_update_detail.text() == "due 14:15 UTC \u00b7 last sent 13:45 UTC"
    assert readings == ["= 2026-12-03 13:45:00 UTC"]
    sent = [e for e in store.timeline(incident_id) if e.kind == ev.UPDATE_SENT]
    assert sent[0].payload == {
        "summary": "Failover under way",
        "audience": "executives",
    }
    incident_menu = window.menuBar().actions()[0].menu()
    assert window.update_action in incident_menu.actions()
    assert window.update_action.shortcut().toString() == "Ctrl+U"


def test_update_dialog_needs_a_summary(make_console) -> None:
    window = make_console()
    accepted: list[bool] = []
    window.run_dialog = lambda dialog: accepted.append(_answer()(dialog)) or False

    window.record_update()

    assert accepted == [False]


def test_countdowns_follow_the_clock_without_reading_the_store(
    make_console, qtbot, fake_time, monkeypatch
) -> None:
    window = make_console()
    window.run_dialog = _answer(summary="Payments degraded; next update 14:30")
    window.record_update()
    panel = window.clock_panel
    qtbot.waitUntil(lambda: panel.next_update.text() == "00:30:00")
    window.timer.timeout.emit()  # the tick that notices our own write re-reads
    reads: list[str] = []
    timeline = window.ctx.store.timeline
    monkeypatch.setattr(
        window.ctx.store, "timeline", lambda i: reads.append(i) or timeline(i)
    )

    for _ in range(5):
        fake_time.advance(13)
        window.timer.timeout.emit()

    assert panel.next_update.text() == "00:28:55"
    assert panel.durations.texts()[2] == ["Mitigate", "00:48:05", "\u25b6 running"]
    assert reads == []


def test_closed_incident_has_no_update_due_and_no_running_clock(
    make_console, store: Store
) -> None:
    window = make_console()
    closed = next(i for i in store.incidents() if not i.is_open)

    window.incident_list.select_incident(closed.id)

    panel = window.clock_panel
    assert window.header.incident.id == closed.id
    assert panel.next_update.text() == "\u2014"
    assert panel.next_update_detail.text() == "No update due \u00b7 none sent yet"
    assert all(row[2] != "\u25b6 running" for row in panel.durations.texts())
    assert panel.durations.texts()[3] == ["Resolve", "04:00:00", ""]


def test_report_marked_sent_shows_sent_and_starts_the_next_clock(
    make_console, qtbot, store: Store
) -> None:
    window = make_console(regimes=_dora())
    assert _reports(window) == [
        ["DORA \u00b7 Initial notification", "due 17:18 UTC", "03:18:00 left"],
        ["DORA \u00b7 Intermediate report", "", "waiting"],
        ["DORA \u00b7 Final report", "", "waiting"],
    ]
    asked: list[str] = []
    answer = _answer(sent_at="now")
    window.run_dialog = lambda dialog: (
        asked.append(dialog.question.text()) or answer(dialog)
    )

    window.report_menu.aboutToShow.emit()
    initial = next(a for a in window.report_menu.actions() if "Initial" in a.text())
    initial.trigger()

    qtbot.waitUntil(lambda: _reports(window)[0][2] == "sent 14:00 UTC")
    assert _reports(window)[1] == [
        "DORA \u00b7 Intermediate report",
        "due 2026-12-06 14:00 UTC",
        "3d 00:00:00 left",
    ]
    assert "DORA Initial notification" in asked[0]
    assert store.incident(window.selected).reports_sent.keys() == {"dora.initial"}
    window.report_menu.aboutToShow.emit()
    entries = {a.text(): a.isEnabled() for a in window.report_menu.actions()}
    assert entries["&1 DORA Initial notification (sent)"] is False
    assert entries["&2 DORA Intermediate report"] is True


def test_no_regulation_named_says_so(make_console) -> None:
    window = make_console()

    assert _reports(window)[0][0] == "No regulation named in settings (regulations)"
    window.report_menu.aboutToShow.emit()
    assert [a.isEnabled() for a in window.report_menu.actions()] == [False]


def test_bridge_link_shows_open_bridge_which_opens_it(
    make_console, qtbot, store: Store
) -> None:
    window = make_console()
    header = window.header
    opened: list[str] = []
    header.open_url = lambda url: opened.append(url.toString()) or True
    assert not header.bridge_button.isVisible()
    assert not window.open_bridge_action.isEnabled()
    window.run_dialog = _answer(
        url="https://meet.example.com/inc-payments",
        dial_in="+44 20 7946 0000 PIN 4711",
    )

    qtbot.keyClick(window, Qt.Key.Key_B, CTRL | SHIFT)
    qtbot.waitUntil(header.bridge_button.isVisible)
    qtbot.mouseClick(header.bridge_button, Qt.MouseButton.LeftButton)
    qtbot.keyClick(window, Qt.Key.Key_B, CTRL)

    assert opened == ["https://meet.example.com/inc-payments"] * 2
    assert header.dial_in.text() == "Dial-in: +44 20 7946 0000 PIN 4711"
    assert store.incident(window.selected).dial_in == "+44 20 7946 0000 PIN 4711"


def test_a_link_that_is_not_a_meeting_is_refused(make_console, qtbot) -> None:
    window = make_console()
    opened: list[str] = []
    window.header.open_url = lambda url: opened.append(url.toString()) or True
    window.run_dialog = _answer(url="file:///etc/passwd")

    window.set_bridge_link()

    qtbot.waitUntil(window.error.isVisible)
    assert "not a meeting link" in window.error.text()
    assert not window.header.bridge_button.isVisible()
    assert opened == []


def test_read_only_store_refuses_clock_writes(make_console, store: Store) -> None:
    from mimdesk.demo import seed

    seed(store, store._clock())
    read_only = Store(store.path, read_only=True)
    try:
        window = make_console(demo=False, store=read_only, regimes=_dora())
        window.confirm = lambda title, question: True

        window.mark_report_sent("dora.initial", "DORA Initial notification")

        assert not window.update_action.isEnabled()
        assert not window.bridge_action.isEnabled()
        assert not window.report_menu.menuAction().isEnabled()
        assert window.error.text().endswith("the store is open read-only.")
        window.close()
    finally:
        read_only.close()


def test_regimes_come_from_settings_or_dora_in_the_demo() -> None:
    known = load_regulatory().value

    demo, _ = choose_regimes(Settings(), known, demo=True)
    named, problems = choose_regimes(
        Settings(regulations=("nis2", "sox")), known, demo=True
    )

    assert [r.id for r in demo] == ["dora"]
    assert [r.id for r in named] == ["nis2"]
    assert "'sox' is not known" in problems[0]
    assert choose_regimes(Settings(), known, demo=False) == ([], [])


MOBILISE = "mobilised within 15 min of declared"


def _declared_sev1(store: Store, fake_time, minutes_ago: int = 10) -> str:
    """A SEV1 detected `minutes_ago` and declared now: nobody on the bridge yet."""
    return store.declare(
        title="Core banking ledger unavailable",
        severity=1,
        services=[],
        detected_at=fake_time.now() - timedelta(minutes=minutes_ago),
        actor="dana",
    ).result()


def test_a_target_near_its_end_says_due_soon_in_amber(
    make_console, store: Store, fake_time
) -> None:
    _declared_sev1(store, fake_time)
    window = make_console(demo=False)
    level, _name, left = _target(window, MOBILISE)
    assert [level.text(), left.text()] == ["OK", "00:15:00 left"]

    fake_time.advance(10 * 60)  # 5 min left: longer than 20 % of 15 min
    window.timer.timeout.emit()

    assert [level.text(), left.text()] == ["DUE SOON", "00:05:00 left"]
    assert window.theme.warning in level.styleSheet()
    assert window.theme.warning in left.styleSheet()
    first = _target(window, FIRST_UPDATE)
    assert first[0].text() == "OK"  # 20 min of 30 left: not yet
    fake_time.advance(5 * 60 + 1)
    window.timer.timeout.emit()
    assert [level.text(), left.text()] == ["RED", "OVERDUE 00:00:01"]


def test_the_next_update_says_due_soon_in_its_last_fifth(
    make_console, qtbot, store: Store, fake_time
) -> None:
    window = make_console()
    window.run_dialog = _answer(summary="Failover under way")
    window.record_update()
    panel = window.clock_panel
    qtbot.waitUntil(lambda: panel.next_update.text() == "00:30:00")

    fake_time.advance(24 * 60 - 1)
    window.timer.timeout.emit()
    assert panel.next_update.text() == "00:06:01"
    fake_time.advance(1)
    window.timer.timeout.emit()

    assert panel.next_update.text() == "DUE SOON 00:06:00"
    assert window.theme.warning in panel.next_update.styleSheet()
    assert panel.next_update_detail.text() == "due 14:30 UTC \u00b7 last sent 14:00 UTC"


def test_the_header_says_how_long_mobilising_took_once_roles_are_filled(
    make_console, qtbot, store: Store
) -> None:
    window = make_console()
    header = window.header
    assert not header.mobilisation.isVisible()  # scribe and business missing
    assert window.roster_panel.mobilisation.text().startswith("Mobilising for ")
    incident_id = window.selected

    for person, role in (("dana", "scribe"), ("erin", "business")):
        join = roster_model.decision("join", person, role, at=None, actor="t")
        store.roster_command(incident_id, join).result()
    window.reload()

    assert header.mobilisation.isVisible()
    assert header.mobilisation.text() == "Mobilised in 41 min"
    assert window.roster_panel.mobilisation.text().startswith("Mobilised in 41 min")


def test_a_report_sent_earlier_is_recorded_at_the_time_typed(
    make_console, qtbot, store: Store
) -> None:
    berlin = Settings(timezone="Europe/Berlin", operator="tester")
    window = make_console(settings=berlin, regimes=_dora())
    readings: list[str] = []

    def run(dialog: QDialog) -> bool:
        dialog.sent_at.setText("2026-12-03 14:40")  # Berlin time: 13:40 UTC
        readings.append(dialog.reading.text())
        return _answer()(dialog)

    window.run_dialog = run
    window.mark_report_sent("dora.initial", "DORA Initial notification")

    qtbot.waitUntil(lambda: _reports(window)[0][2] == "sent 14:40 CET")
    assert readings == ["= 2026-12-03 14:40:00 CET"]
    sent = store.incident(window.selected).reports_sent["dora.initial"]
    assert sent.isoformat() == "2026-12-03T13:40:00+00:00"


def test_a_report_time_that_does_not_read_cannot_be_recorded(make_console) -> None:
    window = make_console(regimes=_dora())
    accepted: list[bool] = []
    readings: list[str] = []

    def run(dialog: QDialog) -> bool:
        dialog.sent_at.setText("yesterday-ish")
        readings.append(dialog.reading.text())
        accepted.append(_answer()(dialog))
        return False

    window.run_dialog = run
    window.mark_report_sent("dora.initial", "DORA Initial notification")

    assert accepted == [False]
    assert readings[0].startswith("\u26a0 ")


def test_an_intermediate_report_before_the_initial_is_refused(
    make_console, qtbot, store: Store
) -> None:
    window = make_console(regimes=_dora())
    window.run_dialog = _answer(sent_at="now")

    window.mark_report_sent("dora.intermediate", "DORA Intermediate report")

    qtbot.waitUntil(window.error.isVisible)
    assert "dora.intermediate cannot be recorded before dora.initial" in (
        window.error.text()
    )
    assert store.incident(window.selected).reports_sent == {}


def test_lowering_severity_keeps_the_dora_clock_running_and_says_so(
    make_console, qtbot, store: Store
) -> None:
    window = make_console(regimes=_dora())
    before = _reports(window)[0]

    window.set_severity(3)

    qtbot.waitUntil(lambda: window.header.incident.severity == 3)
    rows = _reports(window)
    assert rows[0][0] == (
        "Severity lowered after classification as major (13:18 UTC): clocks run on"
    )
    assert (
        rows[1]
        == before
        == [
            "DORA \u00b7 Initial notification",
            "due 17:18 UTC",
            "03:18:00 left",
        ]
    )
