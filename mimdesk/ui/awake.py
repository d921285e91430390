"""Keeping an unattended wallboard's display from blanking, and letting go after."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from collections.abc import Callable

from PySide6.QtDBus import QDBus, QDBusConnection, QDBusMessage

log = logging.getLogger(__name__)

SERVICE = "org.freedesktop.ScreenSaver"
PATH = "/org/freedesktop/ScreenSaver"
CALL_TIMEOUT_MS = 2000


class DisplayKeeper:
    """Asks the desktop not to blank the screen while a window runs.

    Tries the freedesktop ScreenSaver D-Bus interface, then `xdg-screensaver
    suspend`; `how` says what worked ("" if nothing), and `release` undoes it.
    """

    def __init__(
        self,
        which: Callable[[str], str | None] = shutil.which,
        run: Callable[..., object] = subprocess.run,
    ) -> None:
        self._which, self._run = which, run
        self.how = ""
        self._cookie: int | None = None
        self._window: int | None = None

    def hold(self, window_id: int, reason: str) -> str:
        """Keep the display on for window `window_id`; say how (and log it)."""
        if not sys.platform.startswith("linux"):
            # FIXME(wall): Windows (SetThreadExecutionState) and macOS (IOPMAssertion)
            # are not asked; set the display's power plan by hand there.
            log.warning(
                "keeping the display awake is not supported on %s", sys.platform
            )
            return self.how
        if self._inhibit(reason):
            self.how = "D-Bus org.freedesktop.ScreenSaver.Inhibit"
        elif self._suspend(window_id):
            self.how = "xdg-screensaver suspend"
        if self.how:
            log.info("display kept awake by %s", self.how)
        else:
            log.warning(
                "nothing can keep the display awake here (no ScreenSaver service on "
                "the session bus, no xdg-screensaver); set the screen's power "
                "saving off by hand"
            )
        return self.how

    def _inhibit(self, reason: str) -> bool:
        bus = QDBusConnection.sessionBus()
        if not bus.isConnected():
            log.info("no D-Bus session bus: %s", bus.lastError().message())
            return False
        call = QDBusMessage.createMethodCall(SERVICE, PATH, SERVICE, "Inhibit")
        call.setArguments(["MIMDesk", reason])
        reply = bus.call(call, QDBus.CallMode.Block, CALL_TIMEOUT_MS)
        if reply.type() != QDBusMessage.MessageType.ReplyMessage:
            log.info("ScreenSaver.Inhibit refused: %s", reply.errorMessage())
            return False
        self._cookie = int(reply.arguments()[0])
        return True

    def _suspend(self, window_id: int) -> bool:
        tool = self._which("xdg-screensaver")
        if tool is None:
            return False
        try:
            self._run([tool, "suspend", str(window_id)], check=True, timeout=10)
        except (OSError, subprocess.SubprocessError) as exc:
            log.info("xdg-screensaver suspend failed: %s", exc)
            return False
        self._window = window_id
        return True

    def release(self) -> None:
        """Let the display blank again."""
        if self._cookie is not None:
            call = QDBusMessage.createMethodCall(SERVICE, PATH, SERVICE, "UnInhibit")
            call.setArguments([self._cookie])
            # FIXME(wall): the cookie goes out as a D-Bus int32, the interface wants
            # uint32; services also drop the inhibition when we disconnect at exit.
            QDBusConnection.sessionBus().call(call, QDBus.CallMode.NoBlock)
            self._cookie = None
        if self._window is not None:
            tool = self._which("xdg-screensaver")
            if tool is not None:
                try:
                    self._run([tool, "resume", str(self._window)], timeout=10)
                except (OSError, subprocess.SubprocessError) as exc:
                    log.info("xdg-screensaver resume failed: %s", exc)
            self._window = None
        if self.how:
            log.info("display may blank again (%s released)", self.how)
        self.how = ""
