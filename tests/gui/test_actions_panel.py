"""The console's RECOVERY panel: a runbook started on the DEMO payments incident,
actions moved from the keyboard, and "mitigated" held back until the
verification checks pass."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog

from mimdesk import checks
from mimdesk.domain.actions import FAILED, PASSED, CheckResult
from mimdesk.domain.lifecycle import Status
from mimdesk.domain.runbooks import Check
from mimdesk.resources import resource
from mimdesk.runbook_files import load_folders
from mimdesk.store.store import Store
from mimdesk.ui import actions_panel
from mimdesk.ui.actions_panel import ActionDialog
from mimdesk.ui.declare_dialog import DeclareDialog

pytestmark = pytest.mark.gui
CTRL, SHIFT = Qt.KeyboardModifier.ControlModifier, Qt.KeyboardModifier.ShiftModifier


def rows(window: Any) -> list[list[str]]:
    tree = window.actions_panel.tree
    return [
        [tree.topLevelItem(r).text(c) for c in range(4)]
        for r in range(tree.topLevelItemCount())
    ]


def checks_say(monkeypatch: pytest.MonkeyPatch, outcome: str) -> None:
    def fake(check: Check, *, target: str, now: datetime, **_: Any) -> CheckResult:
        return CheckResult(check.name, outcome, "worst 0.002 over 5 min", now, target)

    monkeypatch.setattr(checks, "run_check", fake)


@pytest.fixture
def window(make_console: Any, qtbot: Any) -> Any:
    made = make_console(runbooks=load_folders([resource("runbooks")]))

    def choose_first(dialog: QDialog) -> bool:
        assert isinstance(dialog, ActionDialog)
        assert dialog.choice.currentText().startswith("payments-failover")
        return True

    made.run_dialog = choose_first
    made.recovery_actions.start_runbook()
    qtbot.waitUntil(lambda: len(rows(made)) == 4)
    return made


def test_the_runbook_starts_with_owners_from_the_bridge(window: Any) -> None:
    assert rows(window) == [
        ["A1", "open", "bob", "Confirm the failure on the payments error ratio "
         "and the gateway logs"],
        ["A2", "open", "\u2014", "Open a priority case with the card acquirer"],
        ["A3", "open", "bob", "Fail card traffic over to the standby gateway "
         "(after A1)"],
        ["A4", "open", "chen", "Send a stakeholder update on the failover (after A3)"],
    ]  # fmt: skip
    assert window.actions_panel.progress.text() == (
        "0/4 done \u00b7 0 blocked \u00b7 verify: not passed   ("
        f"{actions_panel.KEYS_HINT})"
    )


def test_keys_move_actions_and_a_refusal_is_shown(
    window: Any, qtbot: Any, store: Store
) -> None:
    tree = window.actions_panel.tree
    qtbot.keyClick(window, Qt.Key.Key_K, CTRL)
    assert tree.hasFocus()

    qtbot.keyClick(tree, Qt.Key.Key_D)  # A1 done
    qtbot.waitUntil(lambda: rows(window)[0][1] == "done")
    tree.setCurrentItem(tree.topLevelItem(3))
    qtbot.keyClick(tree, Qt.Key.Key_D)  # A4 waits for A3
    qtbot.waitUntil(lambda: "A4 waits for A3" in window.error.text())

    def blocked(dialog: QDialog) -> bool:
        assert isinstance(dialog, ActionDialog)
        assert not dialog.ok.isEnabled()
        dialog.reason.setText("acquirer phone line down")
        return True

    window.run_dialog = blocked
    tree.setCurrentItem(tree.topLevelItem(1))
    qtbot.keyClick(tree, Qt.Key.Key_B)
    qtbot.waitUntil(lambda: rows(window)[1][1] == "blocked: acquirer phone line down")
    assert window.actions_panel.progress.text().startswith("1/4 done \u00b7 1 blocked")
    assert window.timeline_events()[-1].kind == "recovery.action_status"


def test_mitigated_waits_for_verification(
    window: Any, qtbot: Any, store: Store, monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:  # fmt: skip
    incident_id = window.selected
    mitigated = window.status_actions[Status.MITIGATED]
    assert mitigated.text() == "Mitigated (waits for verification: Ctrl+Shift+V)"
    qtbot.keyClick(window, Qt.Key.Key_4, CTRL)
    qtbot.waitUntil(lambda: "mitigated waits for verification" in window.error.text())

    checks_say(monkeypatch, FAILED)
    qtbot.keyClick(window, Qt.Key.Key_V, CTRL | SHIFT)
    qtbot.waitUntil(
        lambda: window.timeline_events()[-1].kind == "recovery.check_result",
        timeout=5000,
    )
    qtbot.keyClick(window, Qt.Key.Key_4, CTRL)
    qtbot.waitUntil(lambda: "failed (worst 0.002" in window.error.text())

    checks_say(monkeypatch, PASSED)
    qtbot.keyClick(window, Qt.Key.Key_V, CTRL | SHIFT)
    qtbot.waitUntil(
        lambda: window.actions_panel.progress.text().startswith(
            "0/4 done \u00b7 0 blocked \u00b7 verify: passed"
        ),
        timeout=5000,
    )
    assert mitigated.text() == "Mitigated"
    qtbot.keyClick(window, Qt.Key.Key_4, CTRL)
    qtbot.waitUntil(lambda: store.incident(incident_id).status is Status.MITIGATED)

    out = Path(os.environ.get("MIMDESK_SCREENSHOTS", tmp_path))
    out.mkdir(parents=True, exist_ok=True)
    window.resize(1920, 1080)
    window.grab().toImage().save(str(out / "console-recovery.png"))


def test_an_override_is_recorded_with_its_reason(window: Any, qtbot: Any) -> None:
    def override(dialog: QDialog) -> bool:
        assert isinstance(dialog, ActionDialog)
        dialog.reason.setText("vendor confirms the fix")
        return True

    window.run_dialog = override
    window.recovery_actions.override()
    qtbot.waitUntil(
        lambda: window.timeline_events()[-1].kind == "recovery.verify_overridden"
    )
    assert window.timeline_events()[-1].actor == "tester"


# SEV1: the runbook's four steps and the first stakeholder update.
@pytest.mark.parametrize(("severity", "started"), [(1, 5), (3, 0)])
def test_declaring_a_severe_payments_incident_starts_its_runbook(
    make_console: Any, qtbot: Any, store: Store, fake_time: Any, severity: int,
    started: int,
) -> None:  # fmt: skip
    window = make_console(demo=False, runbooks=load_folders([resource("runbooks")]))
    dialog = DeclareDialog(
        window.ctx.catalogue, window.ctx.settings.severity, ZoneInfo("UTC"),
        fake_time.clock(),
    )  # fmt: skip
    qtbot.addWidget(dialog)
    qtbot.keyClicks(dialog.title, "Card payments failing")
    dialog.severity.setCurrentIndex(severity - 1)
    payments = next(
        n for n in range(dialog.services.count())
        if dialog.services.item(n).data(Qt.ItemDataRole.UserRole) == "payments-api"
    )  # fmt: skip
    dialog.services.item(payments).setCheckState(Qt.CheckState.Checked)

    window.submit_declaration(dialog)

    qtbot.waitUntil(lambda: window.header.title.text() == "Card payments failing")
    if started:
        qtbot.waitUntil(lambda: len(rows(window)) == started)
        assert window.actions_panel.isVisible()
    else:
        qtbot.waitUntil(lambda: not window.bridge.busy)
        assert window.actions_panel.isHidden()
    board = store.board(window.selected)
    assert len(board.actions) == started
    runbook = [a for a in board.actions.values() if a.runbook == "payments-failover"]
    assert len(runbook) == (4 if started else 0)
    tree = window.timeline
    shown = [tree.topLevelItem(n).text(2) for n in range(tree.topLevelItemCount())]
    fired = [line for line in shown if "rule start_runbooks fired" in line]
    assert len(fired) == (1 if started else 0)


def test_c_runs_the_selected_actions_check_off_the_gui_thread(
    window: Any, qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[str] = []

    def fake(check: Check, *, target: str, now: datetime, **_: Any) -> CheckResult:
        import threading

        threads.append(threading.current_thread().name)
        return CheckResult(check.name, PASSED, "worst 0.002 over 5 min", now, target)

    monkeypatch.setattr(checks, "run_check", fake)
    tree = window.actions_panel.tree
    qtbot.keyClick(window, Qt.Key.Key_K, CTRL)
    qtbot.keyClick(tree, Qt.Key.Key_C)  # A1 has no check
    qtbot.waitUntil(lambda: "A1 has no automated check" in window.error.text())

    tree.setCurrentItem(tree.topLevelItem(2))
    qtbot.keyClick(tree, Qt.Key.Key_C)
    qtbot.waitUntil(
        lambda: window.timeline_events()[-1].kind == "recovery.check_result"
    )
    assert threads == ["recovery-checks"]
    assert window.timeline_events()[-1].payload["target"] == "A3"
