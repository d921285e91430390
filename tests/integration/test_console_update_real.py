"""From the console to real servers: with the DEMO catalogue, an override
puts card payments down, and one keyboard action (Ctrl+Shift+S, then
Ctrl+Enter) sends a previewed update that arrives by email (a real SMTP
server) and in the incident's Matrix room (a real Synapse), with the
timeline and the cadence clock updated."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog

from mimdesk import app
from mimdesk.clock import MonotonicClock
from mimdesk.domain import impact_override
from mimdesk.domain.directory import Directory
from mimdesk.resources import resource
from mimdesk.settings import load_catalogue
from mimdesk.store.store import Store
from mimdesk.ui.console import ConsoleContext, ConsoleWindow
from mimdesk.ui.update_dialog import ComposeUpdateDialog

from .smtp import Mailbox, smtp_server
from .synapse import Synapse
from .test_chat_real import declare, outbox_texts, settings_for, wait_for

USER, PASSWORD = "mimdesk-relay", "relay-pw-c0n"
CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier


@pytest.fixture
def smtp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[int, Mailbox, Path]]:
    with smtp_server(tmp_path, USER, PASSWORD) as running:
        monkeypatch.setenv("MIMDESK_SECRET_SMTP_PASSWORD", PASSWORD)
        yield running


def test_one_keyboard_action_reaches_email_and_the_bridge_room(
    synapse: Synapse, smtp: tuple[int, Mailbox, Path], qtbot: Any,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    port, box, ca = smtp
    bot = synapse.register("mimdesk")
    monkeypatch.setenv("MIMDESK_SECRET_MATRIX_TOKEN", bot.access_token)
    audiences = tmp_path / "audiences.toml"
    audiences.write_text(
        '[[audience]]\nid = "executives"\nname = "Executives"\n'
        'email = ["cio@bank.example"]\n'
        '[[audience]]\nid = "bridge"\nname = "Technical bridge"\nchat = ["matrix"]\n'
    )
    base = settings_for(synapse, bot)
    settings = replace(
        base,
        audiences=audiences,
        chat=replace(
            base.chat, smtp_host="127.0.0.1", smtp_port=port, smtp_user=USER,
            smtp_from="mim@bank.example", smtp_ca_file=ca,
        ),
    )  # fmt: skip
    store = Store.open(tmp_path / "mimdesk.sqlite")
    run = app.start_chat(settings, store, Directory(), demo=False)
    catalogue, problem = load_catalogue(resource("catalogues", "sample.toml"))
    assert problem == ""
    window = ConsoleWindow(
        ConsoleContext(
            store,
            settings,
            catalogue,
            MonotonicClock(),
            chat=run.feed,
        )
    )
    qtbot.addWidget(window)
    try:
        incident = declare(store)
        store.open_chat(incident, ["matrix"], actor="dana").result()
        room = str(wait_for("the room", lambda: store.chat_channel(incident, "matrix")))
        known = [b.id for b in catalogue.business_services]
        store.impact_command(
            incident,
            impact_override.decision(
                "override", "card-payments", actor="dana", known=known, level="down",
                reason="acquirer confirms",
            ),
        ).result()  # fmt: skip
        window.show()
        qtbot.waitExposed(window)
        window.reload()
        window.incident_list.select_incident(incident)
        window.windowHandle().requestActivate()
        qtbot.waitUntil(window.isActiveWindow)
        previewed: list[str] = []

        def compose(dialog: QDialog) -> bool:
            assert isinstance(dialog, ComposeUpdateDialog)
            dialog.show()
            dialog.activateWindow()
            qtbot.waitUntil(dialog.isActiveWindow)
            qtbot.keyClicks(dialog.message, "Failover to site B under way.")
            dialog.refresh()
            previewed.extend(r.body for r in dialog.rendered)
            qtbot.keyClick(
                dialog.message, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier
            )
            return dialog.result() == QDialog.DialogCode.Accepted

        window.run_dialog = compose
        qtbot.keyClick(window, Qt.Key.Key_S, CTRL_SHIFT)

        wait_for("the executives' email", lambda: box.received)
        wait_for("the bridge's copy", lambda: outbox_texts(synapse, bot, room))
        (mail,) = box.received
        body = mail.message.get_payload(decode=True).decode().replace("\r\n", "\n")
        assert body.strip() == previewed[0]  # what was previewed is what arrived
        assert "Card payments: down" in body
        assert "Failover to site B under way." in body
        [posted] = outbox_texts(synapse, bot, room)
        assert previewed[1] in posted
        after = store.incident(incident)
        assert after.update_count == 1  # the cadence clock restarts from it
        assert after.first_update_at is not None
    finally:
        window.close()
        run.stop()
        store.close()
