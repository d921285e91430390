"""A stakeholder update end to end: rendered per audience, recorded once,
delivered by the console's chat engine to a real SMTP server (executives) and a
real Synapse room (the bridge); one audience's failure holds back no other."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import pytest

from mimdesk.domain.audiences import Audience
from mimdesk.domain.directory import Directory
from mimdesk.domain.outbox import Kind, State
from mimdesk.domain.severity import SeverityScale
from mimdesk.updates import context_for, deliveries, render_all

from .smtp import Mailbox, smtp_server
from .synapse import Synapse
from .test_chat_real import Seat, declare, outbox_texts, settings_for, wait_for

USER, PASSWORD = "mimdesk-relay", "relay-pw-7c1"
EXECUTIVES = Audience("executives", "Executives", email=("cio@bank.example",))
DESK = Audience("service-desk", "Service desk", email=("desk@bank.example",))
BRIDGE = Audience("bridge", "Technical bridge", chat=("matrix",))


@pytest.fixture
def smtp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[int, Mailbox, Path]]:
    with smtp_server(tmp_path, USER, PASSWORD) as running:
        monkeypatch.setenv("MIMDESK_SECRET_SMTP_PASSWORD", PASSWORD)
        yield running


@pytest.fixture
def seats(qtbot: Any) -> Iterator[list[Seat]]:
    made: list[Seat] = []
    yield made
    for seat in made:
        seat.close()


def test_one_update_reaches_email_and_the_bridge_room_once(
    synapse: Synapse, smtp: tuple[int, Mailbox, Path], seats: list[Seat],
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    port, box, ca = smtp
    bot = synapse.register("mimdesk")
    monkeypatch.setenv("MIMDESK_SECRET_MATRIX_TOKEN", bot.access_token)
    base = settings_for(synapse, bot)
    chat = replace(
        base.chat, smtp_host="127.0.0.1", smtp_port=port, smtp_user=USER,
        smtp_from="mim@bank.example", smtp_ca_file=ca,
    )  # fmt: skip
    seat = Seat(tmp_path / "seat.sqlite", replace(base, chat=chat), Directory())
    seats.append(seat)
    store = seat.store
    incident_id = declare(store)
    store.open_chat(incident_id, ["matrix"], actor="dana").result()
    room = seat.room(incident_id)
    box.refuse = {"desk@bank.example"}  # one audience's delivery will fail

    incident = store.incident(incident_id)
    now = incident.updated_at + timedelta(minutes=5)
    context = context_for(
        incident, update_type="initial", message="Failover to site B under way.",
        now=now, zone=UTC, severity=SeverityScale(),
        next_update_in=timedelta(minutes=30),
        impact={"customers_affected": 1_200_000, "customers_affected_text": "1.2 M"},
        operator="dana",
    )  # fmt: skip
    rendered = render_all([EXECUTIVES, DESK, BRIDGE], "initial", context)
    copies = [r.copy() for r in rendered]
    store.send_update(
        incident_id, update_type="initial", copies=copies,
        deliveries=deliveries(rendered), actor="dana",
    ).result()  # fmt: skip

    wait_for("the executives' email", lambda: box.received)
    (mail,) = box.received
    assert mail.recipients == ["cio@bank.example"]
    subject = " ".join(str(mail.message["Subject"]).split())  # unfold the header
    assert subject == rendered[0].subject
    assert incident_id in mail.message["Subject"]
    body = mail.message.get_payload(decode=True).decode()
    assert "Failover to site B under way." in body
    assert "Customers affected: about 1.2 M" in body
    assert box.logins  # one login per message, every one with our credentials
    assert set(box.logins) == {(USER, True)}

    def in_room() -> list[str]:
        return outbox_texts(synapse, bot, room)

    wait_for("the bridge's copy", in_room)
    assert in_room() == [rendered[2].chat_text]

    def desk_failed() -> bool:
        rows = store.outbox_items(include_done=True)
        return any(
            r.kind is Kind.EMAIL
            and r.lane == "service-desk"
            and r.state is State.FAILED
            for r in rows
        )

    wait_for("the service desk's refusal", desk_failed)
    [desk] = [r for r in store.outbox_open() if r.lane == "service-desk"]
    assert "refused every recipient" in desk.last_error
    # Recorded once, cadence reset: the first update is a milestone now.
    after = store.incident(incident_id)
    assert after.update_count == 1
    assert after.first_update_at is not None
    sent = [e for e in store.timeline(incident_id) if e.kind == "incident.update_sent"]
    assert len(sent) == 1
    assert [c["audience"] for c in sent[0].payload["copies"]] == [
        "executives",
        "service-desk",
        "bridge",
    ]
    assert len(box.received) == 1  # nothing sent twice while the desk waits
