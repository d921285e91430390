"""The Alerts view as an incident manager uses it: field case C36 delivered
through the store, one group, recovery counted, declare and attach from it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog

from mimdesk.domain import events as ev
from mimdesk.domain.catalogue import Catalogue, Service
from mimdesk.domain.lifecycle import Status
from mimdesk.domain.times import parse_utc
from mimdesk.store.store import Store
from mimdesk.ui.alerts_dialog import ATTACH, DECLARE, DeclareFromAlertsDialog

pytestmark = pytest.mark.gui

C36 = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "cases" / "C36.json").read_text()
)
KEY = '{}:{alertname="PodCrashLoop"}'
CATALOGUE = Catalogue((Service("svc-e", "Service E", tier=1), Service("hr", "HR")))
FIRST_START = parse_utc("2024-05-01T11:00:00Z")


def deliver(store: Store, fake_time, *numbers: int) -> None:
    """Deliver C36's deliveries as they arrived, the clocks moved to each."""
    for number in numbers:
        delivery = C36["deliveries"][number]
        at = parse_utc(delivery["at"])
        fake_time.advance(at.timestamp() - fake_time.wall)
        result = store.receive_alerts(
            json.dumps(delivery["body"]), source="test", received_at=at
        )
        assert result.ok, result.errors


@pytest.fixture
def console(make_console, fake_time):
    fake_time.wall = parse_utc(C36["deliveries"][0]["at"]).timestamp()
    return make_console(demo=False, catalogue=CATALOGUE)


def shown(window) -> list[list[str]]:
    """Each group's row, then its alerts' rows, as the columns read."""
    tree = window.alerts_view.tree
    rows = []
    for n in range(tree.topLevelItemCount()):
        group = tree.topLevelItem(n)
        columns = tree.columnCount()
        rows.append([group.text(c) for c in range(columns)])
        for c in range(group.childCount()):
            rows.append([group.child(c).text(k) for k in range(columns)])
    return rows


def open_alerts(window, qtbot) -> None:
    window.bridge.poll()
    qtbot.keyClick(window, Qt.Key.Key_F3)
    assert window.views.currentWidget() is window.alerts_view


def test_repeated_deliveries_show_as_one_group_of_three(
    console, qtbot, store, fake_time
) -> None:
    deliver(store, fake_time, 0, 1)
    open_alerts(console, qtbot)

    group, *alerts = shown(console)

    assert console.alerts_view.tree.topLevelItemCount() == 1
    assert group[0].endswith("PodCrashLoop")
    assert group[1:6] == [
        "3 FIRING \u00b7 0/3 recovered",
        "Service E",
        "2024-05-01 11:00 UTC",
        "00:00:32",
        "seen 6\u00d7",
    ]
    assert group[6] == "advice: declare an incident"
    assert [a[1] for a in alerts] == ["FIRING"] * 3
    assert {a[0] for a in alerts} == {"PodCrashLoop on svc-e"}
    assert {a[5] for a in alerts} == {"seen 2\u00d7"}


def test_partial_recovery_says_how_many_recovered(
    console, qtbot, store, fake_time
) -> None:
    deliver(store, fake_time, 0, 1, 2)
    open_alerts(console, qtbot)

    group, *alerts = shown(console)

    assert group[1] == "2 FIRING \u00b7 1/3 recovered"
    assert sorted(a[1] for a in alerts) == ["FIRING", "FIRING", "RESOLVED"]
    resolved = next(a for a in alerts if a[1] == "RESOLVED")
    assert resolved[4] == "00:20:00"  # start to end, not to now


def test_durations_move_with_the_clock_and_never_go_negative(
    console, qtbot, store, fake_time
) -> None:
    deliver(store, fake_time, 0)
    open_alerts(console, qtbot)
    fake_time.advance(60)

    console.timer.timeout.emit()

    assert shown(console)[0][4] == "00:01:30"


def test_enter_on_a_group_declares_from_its_alerts(
    console, qtbot, store, fake_time
) -> None:
    deliver(store, fake_time, 0, 1, 2)
    open_alerts(console, qtbot)
    prefilled: list[tuple[str, int, str, str]] = []

    def answer(dialog: QDialog) -> bool:
        assert isinstance(dialog, DeclareFromAlertsDialog)
        prefilled.append(
            (dialog.title.text(), dialog.chosen_severity, dialog.detected.text(),
             dialog.services.text())
        )  # fmt: skip
        dialog.choice = DECLARE
        return True

    console.run_dialog = answer
    qtbot.keyClick(console.alerts_view.tree, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: console.selected is not None)

    assert prefilled == [
        (
            "PodCrashLoop on svc-e",
            2,  # critical alerts suggest SEV2, not SEV1
            "2024-05-01 11:00:00 UTC",
            "Service E (svc-e)",
        )
    ]
    incident = store.incident(console.selected)
    assert incident.detected_at == FIRST_START
    assert incident.services == ("svc-e",)
    assert console.views.currentIndex() == 0
    assert console.header.incident.id == incident.id
    assert store.alert_links() == {KEY: incident.id}


def test_full_recovery_advises_mitigated_and_changes_nothing(
    console, qtbot, store, fake_time
) -> None:
    deliver(store, fake_time, 0, 1, 2)
    incident_id = store.declare_from_alerts(
        KEY, title="Pods crashing", severity=2, actor="dana", known_services={"svc-e"}
    ).result()
    deliver(store, fake_time, 3, 4)  # all resolved, then a stale repeat
    open_alerts(console, qtbot)

    group = shown(console)[0]

    assert group[1] == "RESOLVED \u00b7 3/3 recovered"
    assert group[6] == (
        f"follows {incident_id} \u00b7 advice: mark mitigated (all resolved)"
    )
    assert store.incident(incident_id).status is Status.DECLARED


def test_attach_adds_the_group_to_the_selected_incident(
    console, qtbot, store, fake_time
) -> None:
    deliver(store, fake_time, 0)
    incident_id = store.declare(
        title="Payments slow", severity=2, services=["svc-e"],
        detected_at=FIRST_START, actor="dana", known_services={"svc-e"},
    ).result()  # fmt: skip
    console.reload()
    console._on_list_incident_selected(incident_id)
    open_alerts(console, qtbot)
    labels: list[str] = []

    def answer(dialog: Any) -> bool:
        labels.append(dialog.attach_button.text())
        dialog.choice = ATTACH
        return True

    console.run_dialog = answer
    console.alerts_view.group_activated.emit(KEY)
    qtbot.waitUntil(lambda: store.alert_links() == {KEY: incident_id})

    assert labels == [f"&Attach to {incident_id}"]
    kinds = [e.kind for e in store.timeline(incident_id)]
    assert ev.ALERTS_ATTACHED in kinds
    qtbot.waitUntil(lambda: console.views.currentIndex() == 0)


def test_attach_needs_an_open_incident_selected(console, store, fake_time) -> None:
    deliver(store, fake_time, 0)
    console.bridge.poll()
    group = console.alert_feed.groups[0]

    dialog = DeclareFromAlertsDialog(
        group, catalogue=CATALOGUE, scale=console.ctx.settings.severity,
        zone=console.zone, selected=None,
    )  # fmt: skip

    assert not dialog.attach_button.isEnabled()
    assert "select an open incident" in dialog.attach_button.text()
    dialog.deleteLater()


def test_f3_goes_back_and_f2_still_toggles_health(console, qtbot) -> None:
    open_alerts(console, qtbot)

    qtbot.keyClick(console, Qt.Key.Key_F2)
    assert console.views.currentIndex() == 1
    qtbot.keyClick(console, Qt.Key.Key_F2)
    assert console.views.currentIndex() == 0
    qtbot.keyClick(console, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier
                   | Qt.KeyboardModifier.ShiftModifier)  # fmt: skip
    assert console.views.currentWidget() is console.alerts_view
    qtbot.keyClick(console, Qt.Key.Key_F3)
    assert console.views.currentIndex() == 0


def test_an_empty_store_says_how_alerts_arrive(console, qtbot) -> None:
    open_alerts(console, qtbot)

    assert console.alerts_view.empty.isVisible()
    assert "mimdesk alerts ingest" in console.alerts_view.empty.text()


def test_the_status_bar_says_when_alertmanager_cannot_be_reached(
    make_console, qtbot, store
) -> None:
    import threading

    from mimdesk.domain.wall import Link, SourceState
    from mimdesk.ui.alert_feed import AlertIntake

    intake = AlertIntake(store)
    window = make_console(alerts=intake)
    assert not window.alerts_label.isVisible()
    down = SourceState(
        "http://am:9093", Link.UNREACHABLE, message="cannot reach Alertmanager"
    )

    with qtbot.waitSignal(intake.poller_state_changed):
        worker = threading.Thread(target=intake.publish_poller_state, args=(down,))
        worker.start()
        worker.join()

    assert window.alerts_label.isVisible()
    assert window.alerts_label.text() == (
        "Alertmanager: UNREACHABLE \u2014 cannot reach Alertmanager"
    )
