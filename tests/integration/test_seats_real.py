"""Seats sharing incidents through a real Synapse: each seat its own data folder,
store and Matrix account. A declares and B sees it; both edit and converge;
a partition (a loopback relay that is cut) loses and duplicates nothing; a
wallboard cannot write; forged events are refused and kept as such."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from mimdesk.connectors.matrix import Refused
from mimdesk.connectors.matrix_seats import JOURNAL_TYPE, SeatClient
from mimdesk.domain import events as ev
from mimdesk.domain import hlc
from mimdesk.store.store import Store

from .seats import Relay, Seat
from .synapse import Account, Synapse

API = "/_matrix/client/v3"


def declare(store: Store, title: str = "Payments down") -> str:
    return store.declare(
        title=title, severity=2, services=[], detected_at=None, actor="alice"
    ).result()


def state(store: Store, incident_id: str) -> tuple[dict[str, Any], list[str]]:
    timeline = store.timeline(incident_id)
    return store.incident(incident_id).to_dict(), sorted(e.id for e in timeline)


def pair(
    synapse: Synapse, make_seat: Callable[..., Seat], **kw: Any
) -> tuple[Seat, Seat]:
    a_account, b_account = synapse.register("seat-a"), synapse.register("seat-b")
    writers = (a_account.user_id, b_account.user_id)
    a = make_seat("a", writers=writers, account=a_account, **kw)
    b = make_seat("b", writers=writers, account=b_account, **kw)
    return a, b


def raw(
    synapse: Synapse, account: Account, method: str, path: str, **kw: Any
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {account.access_token}"}
    answer = requests.request(
        method, synapse.url + API + path, headers=headers, timeout=10, **kw
    )
    answer.raise_for_status()
    body: dict[str, Any] = answer.json()
    return body


def forged(
    store: Store,
    incident_id: str,
    *,
    seat: str,
    note: str = "forged",
    kind: str = ev.NOTE_ADDED,
    payload: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A well-sealed event (a note unless told) that names `seat`, never
    recorded by it."""
    now = datetime.now(UTC)
    draft = ev.NewEvent(kind, payload or {"text": note}, now, "mallory")
    event = ev.seal(
        draft,
        seq=0,
        event_id=f"ev-{secrets.token_hex(8)}",
        incident_id=incident_id,
        incident_seq=99,
        recorded_at=now,
        seat=seat,
        prev_hash=ev.GENESIS_HASH,
        hlc=hlc.after(None, now),
    )
    return ev.to_dict(event)


def room_of(seat: Seat, incident_id: str) -> str:
    return seat.sync.rooms()[incident_id]


def test_a_declares_b_sees_it_after_one_round_and_both_edits_converge(
    synapse: Synapse, make_seat: Callable[..., Seat]
) -> None:
    a, b = pair(synapse, make_seat)
    incident_id = declare(a.store)

    a.round()
    b.round()

    assert b.store.incident(incident_id).title == "Payments down"
    a.store.change_severity(incident_id, 1, actor="alice").result()
    b.store.change_severity(incident_id, 3, actor="bob").result()
    for seat in (a, b, a):
        seat.round()
    assert state(a.store, incident_id) == state(b.store, incident_id)
    assert a.store.unpublished() == b.store.unpublished() == []
    heard = {s.seat: s.account for s in b.store.seats()}
    assert heard[a.store.seat] == a.account.user_id


def test_a_partition_loses_and_duplicates_nothing(
    synapse: Synapse, make_seat: Callable[..., Seat], relay: Relay
) -> None:
    a, b = pair(synapse, make_seat, url=relay.url)
    incident_id = declare(a.store)
    a.round()
    b.round()

    relay.cut()
    a.store.change_severity(incident_id, 1, actor="alice").result()
    b.store.change_severity(incident_id, 4, actor="bob").result()
    b.store.add_note(incident_id, "checking the load balancer", actor="bob").result()
    a.round()
    b.round()
    assert not a.sync.status().connected
    assert a.sync.status().offline_since is not None
    assert len(a.store.unpublished()) == 1

    relay.restore()
    for seat in (a, b, a, b):
        seat.round()

    assert a.sync.status().connected
    assert state(a.store, incident_id) == state(b.store, incident_id)
    timeline = a.store.timeline(incident_id)
    assert len({e.id for e in timeline}) == len(timeline)
    severities = [e.payload for e in timeline if e.kind == ev.SEVERITY_CHANGED]
    assert len(severities) == 2
    assert "checking the load balancer" in [
        e.payload.get("text") for e in timeline if e.kind == ev.NOTE_ADDED
    ]


def test_a_wallboard_reads_but_the_server_refuses_its_writes(
    synapse: Synapse, make_seat: Callable[..., Seat]
) -> None:
    wall_account = synapse.register("wall")
    a_account = synapse.register("seat-a")
    a = make_seat(
        "a", writers=(a_account.user_id,), readers=(wall_account.user_id,),
        account=a_account,
    )  # fmt: skip
    wall = make_seat("wall", role="wallboard", account=wall_account)
    incident_id = declare(a.store)
    a.round()
    wall.round()
    assert wall.store.incident(incident_id).title == "Payments down"
    before = state(a.store, incident_id)

    room = room_of(wall, incident_id)
    fake = forged(wall.store, incident_id, seat=wall.store.seat)
    with pytest.raises(Refused) as refused:
        wall.client.send_journal(room, [fake])
    a.round()

    assert refused.value.errcode == "M_FORBIDDEN"
    assert state(a.store, incident_id) == before
    assert wall.sync.publish_once() == 0


def test_forged_events_are_refused_and_kept_as_refused(
    synapse: Synapse, make_seat: Callable[..., Seat]
) -> None:
    mallory, eve = synapse.register("mallory"), synapse.register("eve")
    a_account, b_account = synapse.register("seat-a"), synapse.register("seat-b")
    writers = (a_account.user_id, b_account.user_id, eve.user_id)
    a = make_seat("a", writers=writers, readers=(mallory.user_id,),
                  account=a_account)  # fmt: skip
    b = make_seat("b", writers=writers, account=b_account)
    incident_id = declare(a.store)
    a.round()
    b.round()
    before = state(b.store, incident_id)
    room = room_of(b, incident_id)
    intruders = [
        SeatClient(synapse.url, access_token=x.access_token, user_id=x.user_id)
        for x in (mallory, eve)
    ]
    for intruder in intruders:
        intruder.join(a.sync.team_room_id or "")
        intruder.join(room)
    m, e = intruders

    # Sent while the room let anyone write: the level it needs is missing.
    levels = m.power_levels(room)
    opened = {**levels, "events": {**levels["events"], JOURNAL_TYPE: 0}}
    path = f"/rooms/{room}/state/m.room.power_levels"
    raw(synapse, a_account, "PUT", path, json=opened)
    m.send_journal(room, [forged(b.store, incident_id, seat="seat-nobody")])
    raw(synapse, a_account, "PUT", path, json=levels)
    # A writer's account naming a seat heard from another account.
    e.send_journal(room, [forged(b.store, incident_id, seat=a.store.seat)])
    # A writer's own seat: another incident smuggled into this room, and a
    # severity that is not one.
    smuggled = forged(
        b.store, "INC-261204-F4KE", seat="seat-eve", kind=ev.INCIDENT_CREATED,
        payload={"title": "Smuggled", "severity": 1, "services": [], "demo": False},
    )  # fmt: skip
    odd = forged(b.store, incident_id, seat="seat-eve", kind=ev.SEVERITY_CHANGED,
                 payload={"to": {"a": 1}})  # fmt: skip
    e.send_journal(room, [smuggled, odd])
    b.round()
    for intruder in intruders:
        intruder.close()

    assert state(b.store, incident_id) == before
    refused = {r.sender: r.reason for r in b.store.refused_remote()}
    assert "power level 0" in refused[mallory.user_id]
    reasons = [r.reason for r in b.store.refused_remote() if r.sender == eve.user_id]
    assert any(f"bound to {a_account.user_id}" in r for r in reasons)
    assert any("INC-261204-F4KE's, not this room's incident" in r for r in reasons)
    assert any("to is not a severity" in r for r in reasons)
    assert [i.id for i in b.store.incidents()] == [incident_id]
