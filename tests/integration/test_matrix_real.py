"""The Matrix client against a real Synapse on loopback: logging in, the
incident room, invitations and membership, messages both ways, transaction
ids, rate limits, a revoked token and a homeserver that goes away and returns.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
import requests

from mimdesk.connectors.chat import MAX_WAIT_S, OutMessage, RateLimited
from mimdesk.connectors.errors import AuthFailed, Permanent, Unreachable
from mimdesk.connectors.matrix import OUTBOX_KEY, MatrixClient, TokenRejected

from .synapse import Account, Synapse, homeserver

API = "/_matrix/client/v3"


@pytest.fixture(scope="module")
def strict_synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synapse]:
    """A Synapse with its default rate limits, to see the client obey them."""
    server = homeserver(tmp_path_factory.mktemp("synapse-strict"), relaxed=False)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def clients() -> Iterator[list[MatrixClient]]:
    """Clients made in a test, closed after it."""
    made: list[MatrixClient] = []
    yield made
    for matrix in made:
        matrix.close()


def as_user(
    server: Synapse, account: Account, clients: list[MatrixClient], **kw: Any
) -> MatrixClient:
    kw.setdefault("access_token", account.access_token)
    matrix = MatrixClient(server.url, user_id=account.user_id, **kw)
    clients.append(matrix)
    return matrix


def raw(
    server: Synapse, account: Account, method: str, path: str, **kw: Any
) -> dict[str, Any]:
    """A request as `account`, beside the client under test."""
    headers = {"Authorization": f"Bearer {account.access_token}"}
    answer = requests.request(
        method, server.url + API + path, headers=headers, timeout=10, **kw
    )
    answer.raise_for_status()
    body: dict[str, Any] = answer.json()
    return body


def room_path(room_id: str) -> str:
    return f"/rooms/{quote(room_id, safe='')}"


def marked(server: Synapse, account: Account, room_id: str) -> list[str]:
    """The outbox markers of the room's messages, oldest first."""
    params = {"dir": "b", "limit": "100"}
    chunk = raw(server, account, "GET", room_path(room_id) + "/messages", params=params)
    events = [e for e in chunk["chunk"] if e["type"] == "m.room.message"]
    return [e["content"].get(OUTBOX_KEY, "") for e in events][::-1]


def incident_id() -> str:
    return f"INC-20261203-{secrets.token_hex(3).upper()}"


def test_login_reuses_the_device(synapse: Synapse, clients: list[MatrixClient]) -> None:
    account = synapse.register("ic")
    matrix = as_user(
        synapse, account, clients, access_token=None, password=account.password
    )
    first = matrix.login()
    device = matrix.device_id

    assert matrix.whoami() == account.user_id
    again = as_user(
        synapse,
        account,
        clients,
        access_token=None,
        password=account.password,
        device_id=device,
    )
    second = again.login()
    assert again.device_id == device
    assert second != first


def test_the_incident_room_is_made_once_with_its_name_and_topic(
    synapse: Synapse, clients: list[MatrixClient]
) -> None:
    account = synapse.register("ic")
    matrix = as_user(synapse, account, clients)
    incident = incident_id()

    room = matrix.ensure_channel(incident, f"{incident} payments down", "SEV1 · bridge")
    again = matrix.ensure_channel(
        incident, f"{incident} payments down", "SEV1 · bridge"
    )

    assert again == room
    state = room_path(room) + "/state"
    assert raw(synapse, account, "GET", state + "/m.room.name")["name"] == (
        f"{incident} payments down"
    )
    assert raw(synapse, account, "GET", state + "/m.room.topic")["topic"] == (
        "SEV1 · bridge"
    )
    rules = raw(synapse, account, "GET", state + "/m.room.join_rules")
    assert rules["join_rule"] == "invite"
    alias = quote(f"#mimdesk-{incident.lower()}:localhost", safe="")
    assert raw(synapse, account, "GET", f"/directory/room/{alias}")["room_id"] == room

    matrix.set_topic(room, "SEV2 · mitigated")
    assert raw(synapse, account, "GET", state + "/m.room.topic")["topic"] == (
        "SEV2 · mitigated"
    )


def test_an_invited_responder_joins_and_speaks(
    synapse: Synapse, clients: list[MatrixClient]
) -> None:
    ic, responder = synapse.register("ic"), synapse.register("sre")
    matrix = as_user(synapse, ic, clients)
    room = matrix.ensure_channel(incident_id(), "db outage", "SEV2")
    position = matrix.read([room], None).position

    matrix.invite(room, responder.user_id)
    matrix.invite(room, responder.user_id)  # invited already: fine
    raw(synapse, responder, "POST", room_path(room) + "/join", json={})
    matrix.invite(room, responder.user_id)  # joined already: fine
    batch = matrix.read([room], position)

    states = [(m.user, m.state) for m in batch.memberships]
    assert states == [(responder.user_id, "invite"), (responder.user_id, "join")]
    assert batch.messages == ()

    before = datetime.now(UTC)
    txn = f"raw-{secrets.token_hex(4)}"
    body = {"msgtype": "m.text", "body": "replica lag back to zero"}
    path = room_path(room) + f"/send/m.room.message/{txn}"
    raw(synapse, responder, "PUT", path, json=body)
    later = matrix.read([room], batch.position)

    (message,) = later.messages
    assert message.author == responder.user_id
    assert message.text == "replica lag back to zero"
    assert message.channel == room
    assert message.at.tzinfo == UTC
    assert before - timedelta(seconds=5) <= message.at <= datetime.now(UTC)
    assert later.position not in (None, batch.position)


def test_inviting_someone_who_does_not_exist_is_permanent(
    synapse: Synapse, clients: list[MatrixClient]
) -> None:
    ic = synapse.register("ic")
    matrix = as_user(synapse, ic, clients)
    room = matrix.ensure_channel(incident_id(), "dns", "SEV3")

    with pytest.raises(Permanent, match="no Matrix user @nobody-"):
        matrix.invite(room, f"@nobody-{secrets.token_hex(4)}:localhost")


def test_the_same_transaction_lands_once_and_a_new_one_again(
    synapse: Synapse, clients: list[MatrixClient]
) -> None:
    ic = synapse.register("ic")
    matrix = as_user(synapse, ic, clients)
    room = matrix.ensure_channel(incident_id(), "storage", "SEV2")
    message = OutMessage("INC: mitigated", rich="<b>INC</b>: mitigated", txn_id="o-1")

    first = matrix.post(room, message)
    second = matrix.post(room, message)
    assert second == first
    assert marked(synapse, ic, room) == ["o-1"]
    assert matrix.find_sent(room, "o-1") == first.remote_id

    matrix.post(room, OutMessage("INC: mitigated", txn_id="o-2"))
    assert marked(synapse, ic, room) == ["o-1", "o-2"]
    assert matrix.find_sent(room, "o-3") is None


def test_a_gap_in_the_sync_is_filled_from_the_history(
    synapse: Synapse, clients: list[MatrixClient]
) -> None:
    ic, responder = synapse.register("ic"), synapse.register("sre")
    matrix = as_user(synapse, ic, clients)
    room = matrix.ensure_channel(incident_id(), "network", "SEV1")
    matrix.invite(room, responder.user_id)
    raw(synapse, responder, "POST", room_path(room) + "/join", json={})
    position = matrix.read([room], None).position
    for number in range(75):
        path = room_path(room) + f"/send/m.room.message/gap-{number}"
        body = {"msgtype": "m.text", "body": str(number)}
        raw(synapse, responder, "PUT", path, json=body)

    batch = matrix.read([room], position)

    assert [m.text for m in batch.messages] == [str(n) for n in range(75)]


def test_a_burst_is_rate_limited_and_the_wait_is_enough(
    strict_synapse: Synapse, clients: list[MatrixClient]
) -> None:
    account = strict_synapse.register("ic")
    matrix = as_user(strict_synapse, account, clients)
    room = matrix.ensure_channel(incident_id(), "burst", "SEV1")

    sent: list[str] = []
    limited: RateLimited | None = None
    for number in range(40):
        message = OutMessage(f"update {number}", txn_id=f"burst-{number}")
        try:
            matrix.post(room, message)
        except RateLimited as exc:
            limited = exc
            break
        sent.append(message.txn_id)

    assert limited is not None, "40 sends in a row were never rate limited"
    assert 0 < limited.retry_after <= MAX_WAIT_S
    time.sleep(limited.retry_after)  # the server's own hint, as the sender does
    matrix.post(room, message)
    assert marked(strict_synapse, account, room) == [*sent, message.txn_id]


def test_a_revoked_token_needs_re_authentication(
    synapse: Synapse, clients: list[MatrixClient]
) -> None:
    account = synapse.register("ic")
    matrix = as_user(
        synapse, account, clients, access_token=None, password=account.password
    )
    old = matrix.login()
    raw(synapse, Account(account.user_id, "", old, ""), "POST", "/logout", json={})

    with pytest.raises(TokenRejected) as caught:
        matrix.whoami()

    assert isinstance(caught.value, AuthFailed)
    assert caught.value.soft_logout is False
    assert "needs re-authentication" in caught.value.message
    assert matrix.access_token == old  # a hard logout is not answered by a login


def test_a_stopped_homeserver_is_unreachable_until_it_returns(
    synapse: Synapse, clients: list[MatrixClient]
) -> None:
    account = synapse.register("ic")
    matrix = as_user(synapse, account, clients)
    room = matrix.ensure_channel(incident_id(), "power", "SEV1")
    matrix.post(room, OutMessage("before", txn_id="p-1"))

    synapse.stop()
    try:
        with pytest.raises(Unreachable, match="cannot reach Matrix"):
            matrix.post(room, OutMessage("during", txn_id="p-2"))
    finally:
        synapse.start()

    matrix.post(room, OutMessage("during", txn_id="p-2"))
    assert marked(synapse, account, room) == ["p-1", "p-2"]
