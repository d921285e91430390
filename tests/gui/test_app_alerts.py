"""The console's alert intake as run_gui composes it: started, fed, stopped."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest

from mimdesk import app
from mimdesk.settings import ReceiverSettings, Settings
from mimdesk.store.store import Store
from mimdesk.sync import receiver as receiver_module

pytestmark = pytest.mark.gui

C36 = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "cases" / "C36.json").read_text()
)
TOKEN = "test-token"
ON = Settings(receiver=ReceiverSettings(enabled=True, port=0))


@pytest.fixture(autouse=True)
def _no_outside_config(monkeypatch) -> None:
    monkeypatch.delenv("MIMDESK_ALERTMANAGER_URL", raising=False)
    monkeypatch.setattr(receiver_module, "receiver_token", lambda: (TOKEN, ""))


def post(url: str, body: dict[str, object]) -> int:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={
            "Authorization": f"Bearer {TOKEN}",
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return int(answer.status)


def test_the_receiver_delivers_to_the_gui_and_stops_cleanly(
    qtbot, store: Store
) -> None:
    run = app.start_alerts(ON, store, demo=False)
    assert run.intake is not None
    assert run.receiver is not None
    try:
        with qtbot.waitSignal(run.intake.delivery_processed, timeout=5000) as got:
            status = post(run.receiver.url, C36["deliveries"][0]["body"])
    finally:
        run.stop()

    assert status == 200
    assert len(got.args[0].changes) == 3
    assert not run.receiver.running
    assert len(store.alert_records()) == 3


def test_no_token_becomes_a_banner_saying_how_to_set_one(
    store: Store, monkeypatch
) -> None:
    monkeypatch.setattr(receiver_module, "receiver_token", lambda: (None, ""))
    notices: list[tuple[str, str]] = []

    run = app.start_alerts(ON, store, demo=False, notices=notices)
    run.stop()

    assert run.receiver is None
    [(kind, text)] = notices
    assert kind == "danger"
    assert "keyring set mimdesk receiver" in text
    assert "MIMDESK_SECRET_RECEIVER" in text


def test_pending_deliveries_are_processed_at_start(store: Store, fake_time) -> None:
    body = json.dumps(C36["deliveries"][0]["body"])
    store.spool_alerts(body, source="test", received_at=fake_time.now()).result()
    assert store.alert_spool()["pending"] == 1

    run = app.start_alerts(Settings(), store, demo=False)
    run.stop()  # waits for the catch-up

    assert store.alert_spool() == {"done": 1, "pending": 0, "rejected": 0}
    assert len(store.alert_records()) == 3


@pytest.mark.parametrize("demo", [True, False])
def test_demo_and_read_only_stores_take_no_outside_alerts(
    store: Store, tmp_path: Path, demo: bool
) -> None:
    chosen = store if demo else Store(store.path, read_only=True)
    try:
        run = app.start_alerts(ON, chosen, demo=demo)
        run.stop()
    finally:
        if not demo:
            chosen.close()

    assert run.receiver is None
    assert run.thread is None
    assert (run.intake is None) is (not demo)


def test_a_flood_of_deliveries_is_read_back_once_not_once_each(
    store: Store, qtbot, monkeypatch
) -> None:
    from mimdesk.store.alerts import IntakeResult
    from mimdesk.ui.alert_feed import AlertFeed, AlertIntake
    from mimdesk.ui.bridge import StoreBridge

    intake = AlertIntake(store)
    feed = AlertFeed(store, StoreBridge(store), intake=intake)
    reads: list[int] = []
    real = store.alert_records
    monkeypatch.setattr(store, "alert_records", lambda: reads.append(1) or real())

    for number in range(200):
        intake.delivery_processed.emit(IntakeResult(delivery_id=number))
    qtbot.waitUntil(lambda: len(reads) >= 1, timeout=3000)
    qtbot.wait(700)

    assert len(reads) == 1
    assert feed.records == real()
