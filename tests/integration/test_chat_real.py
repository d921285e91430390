"""Chat end to end with a real Synapse: the console's chat engine (the sender
and reader threads `start_chat` runs) and the `mimdesk` command, from an
incident to its room and back, through a homeserver outage and an app restart,
and with the token kept out of every file MIMDesk writes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from mimdesk import app
from mimdesk.connectors.matrix import OUTBOX_KEY
from mimdesk.domain import chat as chat_model
from mimdesk.domain import roster as roster_model
from mimdesk.domain.directory import Directory, Person
from mimdesk.domain.outbox import Kind, State
from mimdesk.settings import ChatSettings, Settings
from mimdesk.store.store import Store
from mimdesk.sync.chat_setup import chat_setup

from .synapse import Account, Synapse
from .test_matrix_real import raw, room_path

WAIT_S = 60.0


@pytest.fixture(autouse=True)
def _only_this_tests_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("MIMDESK_"):
            monkeypatch.delenv(name)


def settings_for(server: Synapse, account: Account) -> Settings:
    return Settings(
        timezone="UTC",
        operator="dana",
        chat=ChatSettings(matrix_url=server.url, matrix_user=account.user_id),
    )


def wait_for(what: str, check: Callable[[], Any], seconds: float = WAIT_S) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"gave up after {seconds:g} s waiting for {what}")


def messages(server: Synapse, account: Account, room: str) -> list[dict[str, Any]]:
    """Every m.room.message in the room, oldest first (all pages)."""
    found: list[dict[str, Any]] = []
    params = {"dir": "b", "limit": "100"}
    while True:
        page = raw(server, account, "GET", room_path(room) + "/messages", params=params)
        found += [e for e in page["chunk"] if e["type"] == "m.room.message"]
        if not page.get("end") or not page["chunk"]:
            return found[::-1]
        params["from"] = page["end"]


def outbox_texts(server: Synapse, account: Account, room: str) -> list[str]:
    """What the outbox posted in the room, in the order the room has it."""
    return [
        e["content"]["body"]
        for e in messages(server, account, room)
        if e["content"].get(OUTBOX_KEY)
    ]


class Seat:
    """One workstation: a store and the console's chat engine on it."""

    def __init__(self, path: Path, settings: Settings, directory: Directory) -> None:
        self.store = Store.open(path)
        self.store.chat_handles = lambda p: dict(
            (directory.get(p) or Person(p, p)).handles
        )
        self.run = app.start_chat(settings, self.store, directory, demo=False)

    def close(self) -> None:
        self.run.stop()
        self.store.close()

    def delivered(self, incident: str) -> bool:
        return not [i for i in self.store.outbox_open() if i.incident_id == incident]

    def room(self, incident: str) -> str:
        return str(
            wait_for(
                "the incident room",
                lambda: self.store.chat_channel(incident, "matrix"),
            )
        )


@pytest.fixture
def seats(qtbot: Any) -> Iterator[list[Seat]]:
    """Seats made in a test, closed after it (qtbot: the feed uses Qt timers)."""
    made: list[Seat] = []
    yield made
    for seat in made:
        seat.close()


def declare(store: Store) -> str:
    return store.declare(
        title="Card payments failing", severity=1, services=[], detected_at=None,
        actor="dana",
    ).result()  # fmt: skip


def test_an_incident_room_invites_posts_and_reads_back(
    synapse: Synapse, seats: list[Seat], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    bot, sre = synapse.register("mimdesk"), synapse.register("sre")
    monkeypatch.setenv("MIMDESK_SECRET_MATRIX_PASSWORD", bot.password)
    directory = Directory(
        (Person("sam", "Sam Okafor", handles={"matrix": sre.user_id}),)
    )
    seat = Seat(tmp_path / "a.sqlite", settings_for(synapse, bot), directory)
    seats.append(seat)
    store = seat.store
    incident = declare(store)
    store.roster_command(
        incident, roster_model.decision("request", "sam", None, at=None, actor="dana")
    ).result()

    # What the console's "Open channel" does.
    people = list(store.roster(incident).participants)
    invites, missing = chat_model.invites_for(people, directory, "matrix")
    assert missing == []
    store.open_chat(
        incident, ["matrix"], actor="dana", invites={"matrix": invites}
    ).result()
    room = seat.room(incident)
    wait_for("the invitation", lambda: seat.delivered(incident))
    state = raw(
        synapse, bot, "GET", room_path(room) + f"/state/m.room.member/{sre.user_id}"
    )
    assert state["membership"] == "invite"
    name = raw(synapse, bot, "GET", room_path(room) + "/state/m.room.name")["name"]
    assert incident in name

    raw(synapse, sre, "POST", room_path(room) + "/join", json={})
    store.post_chat(
        incident, "Failover to site B started; next update 03:30", ["matrix"],
        actor="dana",
    ).result()  # fmt: skip
    wait_for("the update", lambda: seat.delivered(incident))
    assert outbox_texts(synapse, bot, room) == [
        "Failover to site B started; next update 03:30"
    ]

    body = {"msgtype": "m.text", "body": "replica lag back to zero"}
    raw(synapse, sre, "PUT", room_path(room) + "/send/m.room.message/r1", json=body)

    def reply() -> Any:
        return next(
            (
                e
                for e in store.timeline(incident)
                if e.kind == "chat.received"
                and e.payload.get("text") == "replica lag back to zero"
            ),
            None,
        )

    said = wait_for("the reply in the timeline", reply)
    assert said.payload["author"] == sre.user_id
    assert said.actor == "Sam Okafor"

    def sam() -> roster_model.Participant:
        return store.roster(incident).participants["sam"]

    wait_for("Sam joined on the roster", lambda: sam().presence == "joined")
    raw(synapse, sre, "POST", room_path(room) + "/leave", json={})
    wait_for("Sam left on the roster", lambda: sam().presence == "left")
    # The reader does not echo MIMDesk's own posts back as replies.
    received = [e for e in store.timeline(incident) if e.kind == "chat.received"]
    assert [e.payload["text"] for e in received] == ["replica lag back to zero"]


def test_an_outage_and_a_restart_lose_nothing_and_send_nothing_twice(
    synapse: Synapse, seats: list[Seat], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    bot = synapse.register("mimdesk")
    monkeypatch.setenv("MIMDESK_SECRET_MATRIX_TOKEN", bot.access_token)
    settings = settings_for(synapse, bot)
    path = tmp_path / "seat.sqlite"
    seat = Seat(path, settings, Directory())
    seats.append(seat)
    incident = declare(seat.store)
    seat.store.open_chat(incident, ["matrix"], actor="dana").result()
    room = seat.room(incident)
    sent = [f"update {n}" for n in range(1, 16)]
    for text in sent[:3]:
        seat.store.post_chat(incident, text, ["matrix"], actor="dana").result()
    wait_for("the first three", lambda: seat.delivered(incident))

    synapse.stop()
    try:
        for text in sent[3:8]:
            seat.store.post_chat(incident, text, ["matrix"], actor="dana").result()

        def failed_once() -> bool:
            return any(
                a[1] == "retry"
                for i in seat.store.outbox_open()
                for a in seat.store.outbox_attempts(i.id)
            )

        wait_for("an attempt against the stopped server", failed_once)
        waiting = seat.store.outbox_waiting()
        assert waiting.queued == 5
        assert waiting.oldest is not None
        # The app is closed while the server is down, then started again.
        seats.remove(seat)
        seat.close()
        seat = Seat(path, settings, Directory())
        seats.append(seat)
        for text in sent[8:12]:
            seat.store.post_chat(incident, text, ["matrix"], actor="dana").result()
        assert seat.store.outbox_waiting().queued == 9
    finally:
        synapse.start()
    for text in sent[12:]:
        seat.store.post_chat(incident, text, ["matrix"], actor="dana").result()

    wait_for("the queue to drain", lambda: seat.delivered(incident))
    assert outbox_texts(synapse, bot, room) == sent
    posts = [
        i for i in seat.store.outbox_items(include_done=True) if i.kind is Kind.POST
    ]
    assert [i.state for i in posts] == [State.DELIVERED] * len(sent)
    assert len({i.remote_id for i in posts}) == len(sent)


def test_the_sender_and_the_reader_share_one_login(
    synapse: Synapse, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = synapse.register("mimdesk")
    monkeypatch.setenv("MIMDESK_SECRET_MATRIX_PASSWORD", bot.password)
    saved: list[str] = []
    device = (lambda: saved[-1] if saved else None), saved.append
    setup = chat_setup(
        ChatSettings(matrix_url=synapse.url, matrix_user=bot.user_id), device=device
    )
    made: list[Any] = []

    def make() -> None:
        made.append(setup.factories["matrix"]())

    threads = [threading.Thread(target=make) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT_S)
    try:
        assert len(made) == 2
        assert made[0].device_id == made[1].device_id
        devices = raw(synapse, bot, "GET", "/devices")["devices"]
        ours = [d for d in devices if d.get("display_name") == "MIMDesk"]
        assert len(ours) == 1
        assert made[0].whoami() == made[1].whoami() == bot.user_id
    finally:
        for client in made:
            client.close()


# --- the command -----------------------------------------------------------------


def run_mimdesk(
    data_dir: Path, config: Path, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MIMDESK_")}
    command = [sys.executable, "-m", "mimdesk", "--data-dir", str(data_dir),
               "--config", str(config), *args]  # fmt: skip
    return subprocess.run(
        command, capture_output=True, text=True, encoding="utf-8",
        env={**clean, **env, "PYTHONIOENCODING": "utf-8"}, check=False, timeout=120,
    )  # fmt: skip


def test_the_command_opens_posts_and_never_writes_the_token(
    synapse: Synapse, tmp_path: Path
) -> None:
    bot, sre = synapse.register("mimdesk"), synapse.register("sre")
    data, config = tmp_path / "data", tmp_path / "settings.toml"
    people = tmp_path / "people.toml"
    people.write_text(
        f'[[person]]\nid = "sam"\nname = "Sam Okafor"\nmatrix = "{sre.user_id}"\n'
    )
    config.write_text(f'directory = "{people}"\n')
    env = {
        "MIMDESK_MATRIX_URL": synapse.url,
        "MIMDESK_SECRET_MATRIX_TOKEN": bot.access_token,
    }

    def mimdesk(*args: str) -> str:
        done = run_mimdesk(data, config, env, *args)
        assert done.returncode == 0, done.stderr
        assert bot.access_token not in done.stdout + done.stderr
        return done.stdout

    incident = mimdesk(
        "incident", "declare", "--title", "Card payments failing", "--severity", "1"
    ).strip()
    mimdesk("roster", incident, "request", "sam")
    mimdesk("chat", "open", incident)
    mimdesk("chat", "post", incident, "Failover started")
    synced = mimdesk("chat", "sync")
    assert "0 waiting, 0 need you" in synced
    listed = mimdesk("outbox", "list", "--all")
    assert "delivered" in listed

    room = requests.get(
        synapse.url + "/_matrix/client/v3/joined_rooms",
        headers={"Authorization": f"Bearer {bot.access_token}"},
        timeout=10,
    ).json()["joined_rooms"]
    texts = [t for r in room for t in outbox_texts(synapse, bot, r)]
    assert "Failover started" in texts

    body = {"msgtype": "m.text", "body": "on it"}
    [joined] = [
        r
        for r in room
        if incident.lower()
        in str(
            raw(synapse, bot, "GET", room_path(r) + "/state/m.room.name")["name"]
        ).lower()
    ]
    raw(synapse, sre, "POST", room_path(joined) + "/join", json={})
    raw(synapse, sre, "PUT", room_path(joined) + "/send/m.room.message/c1", json=body)
    mimdesk("chat", "sync")
    shown = mimdesk("incident", "show", incident)
    assert "on it" in shown

    # The token went through every one of those runs: no file holds it.
    token = bot.access_token.encode()
    written = [p for p in data.rglob("*") if p.is_file()]
    assert any(p.suffix == ".log" or p.name.endswith(".log") for p in written)
    assert any(p.name.endswith(".sqlite") for p in written)
    holders = [str(p) for p in written if token in p.read_bytes()]
    assert holders == []
