"""Stakeholder-update reminders in the console: field case C38 on the fake clock."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QSystemTrayIcon

from mimdesk.domain import incident as model
from mimdesk.domain.lifecycle import Status
from mimdesk.domain.targets import DEFAULT_POLICY, SeverityTargets, TargetPolicy
from mimdesk.domain.times import parse_utc
from mimdesk.store.store import Store

from .conftest import FakeTime

pytestmark = pytest.mark.gui

C38 = json.loads(
    (Path(__file__).parent.parent / "fixtures" / "cases" / "C38.json").read_text()
)
DAY = "2024-05-01T"


def utc(clock: str) -> datetime:
    return parse_utc(f"{DAY}{clock}:00Z")


def _policy() -> TargetPolicy:
    """The default targets with C38's update cadence."""
    by_severity = dict(DEFAULT_POLICY.by_severity)
    for name, every in C38["cadence_min_by_sev"].items():
        level = int(name.removeprefix("SEV"))
        entry = by_severity[level]
        by_severity[level] = SeverityTargets(entry.targets, timedelta(minutes=every))
    return TargetPolicy(by_severity)


@pytest.fixture
def fake_time() -> FakeTime:
    """C38's morning: the clock starts at 10:00 UTC on 1 May 2024."""
    return FakeTime(wall=utc("10:00").timestamp())


@pytest.fixture
def beeps(monkeypatch, fake_time: FakeTime) -> list[datetime]:
    """When the console beeped, by the fake clock."""
    heard: list[datetime] = []
    monkeypatch.setattr(QApplication, "beep", lambda: heard.append(fake_time.now()))
    return heard


def _declare_sev2(store: Store) -> str:
    """Declared SEV2 at 10:00 with an update sent at once (C38's first entry)."""
    incident_id = store.declare(
        title="Card payments failing",
        severity=2,
        services=[],
        detected_at=utc("09:55"),
        actor="dana",
    ).result()
    _update(store, incident_id)
    return incident_id


def _update(store: Store, incident_id: str) -> None:
    store.command(
        incident_id,
        lambda state, now: model.record_update_sent(state, "u", now=now, actor="c"),
    ).result()


def _run_until(window, fake_time: FakeTime, until: datetime) -> None:
    """Tick once a minute up to `until`, as the console's timer does."""
    while fake_time.now() < until:
        fake_time.advance(60)
        window.timer.timeout.emit()


def _apply(window, write) -> None:
    """A change recorded in the store, and the console noticing it."""
    write()
    window.bridge.poll()


def _retitle(store: Store, incident_id: str) -> None:
    store.command(
        incident_id,
        lambda s, now: model.change_title(s, "Card payments down", now=now, actor="d"),
    ).result()


def _resolve(store: Store, incident_id: str) -> None:
    store.change_status(incident_id, Status.RESOLVED, actor="d").result()


def test_c38_reminders_reach_the_operator_at_the_expected_times(
    make_console, store: Store, fake_time: FakeTime, beeps: list[datetime]
) -> None:
    """SEV2 update at 10:00, title edited 10:10, raised to SEV1 at 10:20, update
    at 10:40, resolved at 11:00: reminded at 10:20, 10:35 and 10:55 only."""
    incident_id = _declare_sev2(store)
    window = make_console(demo=False, targets=_policy())
    banners, key = window.banners, f"reminder:{incident_id}"

    _run_until(window, fake_time, utc("10:10"))
    _apply(window, lambda: _retitle(store, incident_id))
    _run_until(window, fake_time, utc("10:19"))
    assert (beeps, banners.is_shown(key)) == ([], False)
    fake_time.advance(60)
    _apply(window, lambda: store.change_severity(incident_id, 1, actor="d").result())
    window.timer.timeout.emit()
    assert beeps == [utc("10:20")]
    assert banners.shown()[-1] == (
        f"{incident_id}: stakeholder update overdue by 5 min \u2014 Ctrl+U records one"
    )
    _run_until(window, fake_time, utc("10:36"))
    assert "overdue by 21 min" in banners.shown()[-1]
    _run_until(window, fake_time, utc("10:40"))
    _apply(window, lambda: _update(store, incident_id))
    _run_until(window, fake_time, utc("10:41"))
    assert not banners.is_shown(key)
    _run_until(window, fake_time, utc("10:55"))
    assert banners.is_shown(key)
    _run_until(window, fake_time, utc("11:00"))
    _apply(window, lambda: _resolve(store, incident_id))
    _run_until(window, fake_time, utc("13:00"))

    expected = [parse_utc(t) for t in C38["expected"]["reminders_sent_at"]]
    assert beeps == expected
    assert not banners.is_shown(key)


def test_a_reminder_is_dismissed_until_the_next_one(
    make_console, qtbot, store: Store, fake_time: FakeTime, beeps: list[datetime]
) -> None:
    incident_id = _declare_sev2(store)
    window = make_console(demo=False, targets=_policy())
    banners = window.banners
    key = f"reminder:{incident_id}"
    _run_until(window, fake_time, utc("10:30"))
    assert banners.is_shown(key)

    qtbot.mouseClick(banners.dismiss_buttons[key], Qt.MouseButton.LeftButton)
    _run_until(window, fake_time, utc("10:59"))

    assert beeps == [utc("10:30")]
    assert not banners.is_shown(key)
    _run_until(window, fake_time, utc("11:00"))  # SEV2: one every 30 min
    assert beeps == [utc("10:30"), utc("11:00")]
    assert banners.is_shown(key)
    assert "overdue by 30 min" in banners.shown()[-1]


def test_a_reminder_for_another_incident_says_to_select_it(
    make_console, store: Store, fake_time: FakeTime, beeps: list[datetime]
) -> None:
    overdue = _declare_sev2(store)
    window = make_console(demo=False, targets=_policy())
    _run_until(window, fake_time, utc("10:20"))
    other = store.declare(
        title="Branch printers offline", severity=3, services=[], detected_at=None,
        actor="d",
    ).result()  # fmt: skip
    window.bridge.poll()
    window.incident_list.select_incident(other)
    _run_until(window, fake_time, utc("10:30"))

    assert window.selected == other
    assert window.banners.shown()[-1] == (
        f"{overdue}: stakeholder update due now \u2014 "
        "select it, then Ctrl+U records one"
    )
    assert beeps == [utc("10:30")]


def test_the_tray_gets_the_reminder_where_there_is_one(
    make_console, monkeypatch, store: Store, fake_time: FakeTime, beeps
) -> None:
    shown: list[str] = []
    monkeypatch.setattr(
        QSystemTrayIcon, "isSystemTrayAvailable", staticmethod(lambda: True)
    )
    monkeypatch.setattr(QSystemTrayIcon, "show", lambda self: None)
    monkeypatch.setattr(
        QSystemTrayIcon,
        "showMessage",
        lambda self, title, text, *args: shown.append(f"{title}: {text}"),
    )
    incident_id = _declare_sev2(store)
    window = make_console(demo=False, targets=_policy())

    _run_until(window, fake_time, utc("10:31"))

    assert shown == [  # once, when it fell due; not again on the next tick
        f"Stakeholder update overdue: {incident_id}: stakeholder update due now "
        "\u2014 Ctrl+U records one"
    ]


def test_without_a_tray_the_banner_and_beep_still_come(
    make_console, store: Store, fake_time: FakeTime, beeps
) -> None:
    _declare_sev2(store)
    window = make_console(demo=False, targets=_policy())

    _run_until(window, fake_time, utc("10:30"))

    assert QSystemTrayIcon.isSystemTrayAvailable() is False  # offscreen
    assert window.reminders.tray is None
    assert beeps == [utc("10:30")]
