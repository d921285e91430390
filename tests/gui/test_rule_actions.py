"""The automation rules in the console: a SEV1 fires them, Ctrl+Alt+Z undoes a
firing, and the recovery watch checks in the background on its schedule."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog

from mimdesk.domain import actions as act
from mimdesk.domain import rules
from mimdesk.domain.lifecycle import Status
from mimdesk.domain.runbooks import Check
from mimdesk.resources import resource
from mimdesk.runbook_files import load_folders
from mimdesk.store.store import Store

CTRL_ALT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier


def timeline(window: Any) -> list[str]:
    tree = window.timeline
    return [tree.topLevelItem(n).text(2) for n in range(tree.topLevelItemCount())]


def declared(make_console: Any, qtbot: Any, store: Store) -> tuple[Any, str]:
    """A console on a SEV1 payments incident, its rules fired from the console."""
    window = make_console(demo=False, runbooks=load_folders([resource("runbooks")]))
    incident_id = store.declare(
        title="Card payments failing", severity=1, services=["payments-api"],
        detected_at=None, actor="tester",
    ).result()  # fmt: skip
    window.reload()
    window.recovery_actions.declared(incident_id)
    qtbot.waitUntil(lambda: any("first_update fired" in t for t in timeline(window)))
    return window, incident_id


def test_ctrl_alt_z_undoes_the_chosen_firing(
    make_console: Any, qtbot: Any, store: Store
) -> None:
    window, incident_id = declared(make_console, qtbot, store)
    offered: list[str] = []

    def choose_latest(dialog: QDialog) -> bool:
        offered.extend(dialog.choice.itemText(n) for n in range(dialog.choice.count()))
        return True

    window.run_dialog = choose_latest
    qtbot.keyClick(window, Qt.Key.Key_Z, CTRL_ALT)

    qtbot.waitUntil(lambda: any("first_update undone" in t for t in timeline(window)))
    assert "first_update" in offered[0]  # the latest firing comes first
    update = store.board(incident_id).actions["A5"]
    assert update.status is act.ActionStatus.SKIPPED


def test_the_watch_checks_off_the_gui_thread_on_its_schedule(
    make_console: Any, qtbot: Any, store: Store, fake_time: Any
) -> None:
    window, incident_id = declared(make_console, qtbot, store)
    name = store.board(incident_id).verify[0].name
    passed = act.CheckResult(name, act.PASSED, "worst 0.002", fake_time.now(), "verify")
    store.action_command(
        incident_id,
        lambda _i, _b, _r, now: [act.record_check(passed, now=now, actor="tester")],
    ).result()
    window.reload()
    window.set_status(Status.MITIGATED)
    qtbot.waitUntil(lambda: any("recovery_watch fired" in t for t in timeline(window)))
    threads: list[str] = []

    def run(check: Check, target: str, now: datetime) -> act.CheckResult:
        threads.append(threading.current_thread().name)
        return act.CheckResult(check.name, act.PASSED, "worst 0.001", now, target)

    runner = window.recovery_actions.rules
    runner.check_runner = run
    runner.watch()  # what its timer does
    qtbot.waitUntil(lambda: len(threads) == 1 and not runner._watching)
    runner.watch()  # not due again yet
    qtbot.waitUntil(lambda: not runner._watching)
    fake_time.advance(5 * 60)
    runner.watch()
    qtbot.waitUntil(lambda: len(threads) == 2 and not runner._watching)
    fake_time.advance(26 * 60)
    runner.watch()

    qtbot.waitUntil(lambda: any("recovery watch ended" in t for t in timeline(window)))
    assert threads == ["recovery-watch", "recovery-watch"]
    ended = [e for e in store.timeline(incident_id) if e.kind == rules.WATCH_ENDED]
    assert ended[0].payload["verdict"] == rules.HELD
