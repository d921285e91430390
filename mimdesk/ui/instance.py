"""One console per data folder. The first console holds a lock file in the data
folder and listens on a local socket named after it; a second start asks it to
show its window and exits. Command-line commands and wallboards are not held
back: they share the store through its own locking, as designed.

ConsoleGuard emits `show_requested` when another start asked for the window.
"""

from __future__ import annotations

import getpass
import hashlib
import logging
import re
import time
from dataclasses import dataclass
from enum import Enum
from functools import partial
from pathlib import Path

from PySide6.QtCore import QLockFile, QObject, Qt, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket
from PySide6.QtWidgets import QApplication, QWidget

log = logging.getLogger(__name__)

LOCK_FILE = "console.lock"
SHOW = b"show\n"
SHOWN = b"shown\n"
ANSWER_MS = 3000


class Claim(Enum):
    FIRST = "first"  # this process runs the console
    SHOWN = "shown"  # the console already open was asked to show itself
    SILENT = "silent"  # a console holds the folder but did not answer
    UNGUARDED = "unguarded"  # no lock can be taken here (read-only folder)


@dataclass(frozen=True)
class Outcome:
    claim: Claim
    message: str = ""  # what to tell the operator


def server_name(data_dir: Path) -> str:
    """The local socket's name: the same for every start on this data folder,
    by this user (short, since a Unix socket path is limited to ~100 bytes)."""
    folder = str(data_dir.expanduser().resolve())
    digest = hashlib.sha256(folder.encode("utf-8")).hexdigest()[:16]
    try:
        user = re.sub(r"[^A-Za-z0-9]", "", getpass.getuser())[:16]
    except (KeyError, OSError):
        user = "user"
    return f"mimdesk-console-{user}-{digest}"


class ConsoleGuard(QObject):
    """Claims the data folder for this console; emits `show_requested`."""

    show_requested = Signal()

    def __init__(self, data_dir: Path, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.data_dir = data_dir
        self.name = server_name(data_dir)
        # FIXME(ui): QLockFile judges a lock stale by its process id and name; if a
        # killed console's id is reused by another process of the same name, the
        # next start is refused and told to end that unrelated process.
        self._lock = QLockFile(str(data_dir / LOCK_FILE))
        # A lock is stale only when its process is gone, never by age: a
        # console runs for weeks.
        self._lock.setStaleLockTime(0)
        self._server: QLocalServer | None = None

    def claim(self) -> Outcome:
        """Take the folder, or have the console that holds it show itself."""
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            log.warning(
                "console: no single-instance lock in %s: %s", self.data_dir, exc
            )
            return Outcome(Claim.UNGUARDED)
        if self._lock.tryLock(0):
            self._listen()
            return Outcome(Claim.FIRST)
        if self._lock.error() != QLockFile.LockError.LockFailedError:
            log.warning(
                "console: the lock %s cannot be taken (%s); starting without it",
                self._lock.fileName(),
                self._lock.error().name,
            )
            return Outcome(Claim.UNGUARDED)
        return self._ask_holder()

    def release(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._lock.isLocked():
            self._lock.unlock()

    def _holder(self) -> str:
        pid, host, _app = self._lock.getLockInfo()
        return f"process {pid} on {host}" if pid else "another process"

    def _ask_holder(self) -> Outcome:
        holder = self._holder()
        if ask_to_show(self.name, ANSWER_MS):
            log.info("console: %s already has %s open; asked it to show", holder,
                     self.data_dir)  # fmt: skip
            return Outcome(
                Claim.SHOWN,
                f"MIMDesk is already open on {self.data_dir} ({holder}); its "
                "window has been brought to the front.",
            )
        log.info("console: %s holds %s but did not answer", holder, self.data_dir)
        return Outcome(
            Claim.SILENT,
            f"a MIMDesk console already has {self.data_dir} open ({holder}) but "
            f"did not answer within {ANSWER_MS / 1000:g} s: it may still be "
            "starting, or be hung. Wait a moment and try again; if it stays "
            "unanswered, end that process, then start MIMDesk.",
        )

    def _listen(self) -> None:
        # A console that crashed leaves its socket file behind: it is ours now.
        QLocalServer.removeServer(self.name)
        server = QLocalServer(self)
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        if not server.listen(self.name):
            log.warning(
                "console: a second start cannot reach this one (%s); it will be "
                "refused instead",
                server.errorString(),
            )
            return
        server.newConnection.connect(self._on_server_new_connection)
        self._server = server
        log.info("console: %s claimed (socket %s)", self.data_dir, self.name)

    def _on_server_new_connection(self) -> None:
        assert self._server is not None
        while (socket := self._server.nextPendingConnection()) is not None:
            socket.readyRead.connect(partial(self._on_socket_ready_read, socket))
            socket.disconnected.connect(socket.deleteLater)

    def _on_socket_ready_read(self, socket: QLocalSocket) -> None:
        if not socket.canReadLine():
            return
        if bytes(socket.readLine().data()) == SHOW:
            log.info("console: another start asked for this window")
            self.show_requested.emit()
            socket.write(SHOWN)
            socket.flush()
        socket.disconnectFromServer()


def ask_to_show(name: str, timeout_ms: int) -> bool:
    """Ask the console listening on `name` to show itself; True once it said so."""
    socket = QLocalSocket()
    socket.connectToServer(name)
    try:
        if not socket.waitForConnected(timeout_ms):
            return False
        socket.write(SHOW)
        deadline = time.monotonic() + timeout_ms / 1000
        socket.waitForBytesWritten(timeout_ms)
        while not socket.canReadLine():
            left = int((deadline - time.monotonic()) * 1000)
            if left <= 0 or not socket.waitForReadyRead(left):
                return False
        return bytes(socket.readLine().data()) == SHOWN
    finally:
        socket.abort()


def bring_to_front(window: QWidget) -> None:
    """Restore, raise and activate `window`, and whatever dialog it is showing.
    Where the window manager refuses focus to a program, its taskbar entry
    asks for attention instead."""
    if window.isMinimized():
        window.setWindowState(window.windowState() & ~Qt.WindowState.WindowMinimized)
    window.show()
    window.raise_()
    window.activateWindow()
    modal = QApplication.activeModalWidget()
    if modal is not None and modal is not window:
        modal.raise_()
        modal.activateWindow()
    QApplication.alert(window)
