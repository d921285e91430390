"""Sending a stakeholder update from the console: Ctrl+Shift+S, the preview
of each audience's copy, Ctrl+Enter, and the update in the timeline and the
outbox; a broken template is said in the dialog and nothing is sent."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QPlainTextEdit

from mimdesk.domain import events as ev
from mimdesk.domain import impact_override
from mimdesk.domain.outbox import Kind
from mimdesk.settings import Settings
from mimdesk.store.store import Store
from mimdesk.ui.update_dialog import ComposeUpdateDialog

pytestmark = pytest.mark.gui

CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier


def test_one_keyboard_action_previews_and_sends_to_every_audience(
    make_console, store: Store, qtbot, tmp_path: Path
) -> None:
    window = make_console()  # the DEMO store and DEMO audiences
    incident = window.selected
    known = [b.id for b in window.impact_panel.current_catalogue().business_services]
    store.impact_command(
        incident,
        impact_override.decision(
            "override", "card-payments", actor="tester", known=known, level="down",
            reason="acquirer confirms",
        ),
    ).result()  # fmt: skip
    window.reload()
    seen: dict[str, str] = {}

    def write(dialog: QDialog) -> bool:
        assert isinstance(dialog, ComposeUpdateDialog)
        dialog.show()
        dialog.activateWindow()
        qtbot.waitUntil(dialog.isActiveWindow)
        qtbot.keyClicks(dialog.message, "Failover to site B under way.")
        dialog.refresh()
        for number in range(dialog.preview.count()):
            view = dialog.preview.widget(number)
            assert isinstance(view, QPlainTextEdit)
            seen[dialog.preview.tabText(number)] = view.toPlainText()
        dialog.grab().save(str(tmp_path / "compose-update.png"))
        qtbot.keyClick(
            dialog.message, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier
        )
        return dialog.result() == QDialog.DialogCode.Accepted

    window.run_dialog = write
    qtbot.keyClick(window, Qt.Key.Key_S, CTRL_SHIFT)
    qtbot.waitUntil(
        lambda: any(
            e.kind == ev.UPDATE_SENT and e.actor == "tester"
            for e in store.timeline(incident)
        )
    )

    executives = seen["Executives (DEMO)"]
    assert "To: cio@example.invalid, coo@example.invalid" in executives
    assert "Failover to site B under way." in executives
    assert f"({incident})" in executives
    assert "  - Card payments: down" in executives  # the impact, as the panel has it
    [sent] = [e for e in store.timeline(incident)
              if e.kind == ev.UPDATE_SENT and e.actor == "tester"]  # fmt: skip
    bodies = {c["audience"]: c["body"] for c in sent.payload["copies"]}
    # What was previewed is what was recorded and queued.
    assert bodies["executives"] in executives
    emails = [i for i in store.outbox_open() if i.kind is Kind.EMAIL]
    assert {i.lane for i in emails} == {"executives", "service-desk", "regulators"}
    bar = window.statusBar()
    qtbot.waitUntil(lambda: "update queued for" in bar.currentMessage())
    message = bar.currentMessage()
    # The regulator liaison is told on paper too: a PDF beside the store.
    [pdf] = (store.path.parent / "updates").glob(f"{incident}-*-regulators.pdf")
    assert pdf.read_bytes().startswith(b"%PDF")
    assert str(pdf) in message


def test_a_broken_template_is_said_and_nothing_is_sent(
    make_console, store: Store, qtbot, tmp_path: Path
) -> None:
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "update.txt").write_text("Subject: {{ incident.titel }}\n")
    (folder / "initial.txt").write_text("Subject: {{ incident.titel }}\n")
    (folder / "mitigated.txt").write_text("Subject: {{ incident.titel }}\n")
    audiences = tmp_path / "audiences.toml"
    audiences.write_text(
        f'templates = "{folder}"\n[[audience]]\nid = "execs"\n'
        'email = ["cio@bank.example"]\n'
    )
    settings = replace(Settings(timezone="UTC", operator="tester"), audiences=audiences)
    window = make_console(settings=settings)
    incident = window.selected
    problems: list[str] = []

    def look(dialog: QDialog) -> bool:
        assert isinstance(dialog, ComposeUpdateDialog)
        problems.append(dialog.problem.text())
        assert not dialog.send_button.isEnabled()
        dialog.accept()  # refused: nothing rendered to send
        return dialog.result() == QDialog.DialogCode.Accepted

    window.run_dialog = look
    before = len(store.timeline(incident))
    qtbot.keyClick(window, Qt.Key.Key_S, CTRL_SHIFT)
    qtbot.waitUntil(lambda: bool(problems))

    assert "line 1" in problems[0]
    assert "titel" in problems[0]
    assert len(store.timeline(incident)) == before
    assert store.outbox_open() == []
