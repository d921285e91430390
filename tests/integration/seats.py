"""Seats for the tests that share incidents through the real Synapse: each
its own data folder, store, Matrix account and sync; and a loopback relay in
front of Synapse that can be cut, for partitions."""

from __future__ import annotations

import contextlib
import secrets
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mimdesk.connectors.matrix_seats import SeatClient
from mimdesk.settings import SeatSettings
from mimdesk.store.store import Store
from mimdesk.sync.seat_sync import SeatSync

from .synapse import Account, Synapse


class Relay:
    """A TCP relay on loopback in front of Synapse that can be cut (every
    connection dropped, new ones refused at once) and restored."""

    def __init__(self, port: int) -> None:
        self._target = port
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._open = threading.Event()
        self._open.set()
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cut(self) -> None:
        self._open.clear()
        with self._lock:
            socks, self._socks = self._socks, []
        for sock in socks:
            _close(sock)

    def restore(self) -> None:
        self._open.set()

    def close(self) -> None:
        self.cut()
        _close(self._server)
        self._thread.join(5)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            if not self._open.is_set():
                _close(client)
                continue
            upstream = socket.create_connection(("127.0.0.1", self._target))
            with self._lock:
                self._socks += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(a, b), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    _close(source)
    _close(sink)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()


@dataclass
class Seat:
    """One seat: its store, its account, its sync."""

    store: Store
    account: Account
    client: SeatClient
    sync: SeatSync

    def round(self) -> float | None:
        return self.sync.round()


@pytest.fixture
def relay(synapse: Synapse) -> Iterator[Relay]:
    made = Relay(synapse.port)
    yield made
    made.close()


@pytest.fixture
def team() -> str:
    return f"#team-{secrets.token_hex(4)}:localhost"


@pytest.fixture
def make_seat(
    tmp_path: Path, synapse: Synapse, team: str
) -> Iterator[Callable[..., Seat]]:
    made: list[Seat] = []

    def make(
        name: str,
        *,
        writers: tuple[str, ...] = (),
        readers: tuple[str, ...] = (),
        role: str = "workstation",
        account: Account | None = None,
        url: str | None = None,
    ) -> Seat:
        account = account or synapse.register(name)
        store = Store.open(tmp_path / name / "mimdesk.sqlite")
        client = SeatClient(
            url or synapse.url,
            access_token=account.access_token,
            user_id=account.user_id,
            timeout=(2.0, 10.0),
        )
        settings = SeatSettings(
            enabled=True, role=role, team_room=team, writers=writers, readers=readers
        )
        seat = Seat(store, account, client, SeatSync(store, settings, lambda: client))
        made.append(seat)
        return seat

    yield make
    for seat in made:
        seat.sync.stop()
        seat.store.close()
