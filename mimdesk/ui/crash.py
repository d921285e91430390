"""What the operator sees when something breaks: an uncaught exception is
shown in a dialog that names it and the log file holding its traceback, and
they choose to keep working or quit. Quitting, like SIGTERM or Ctrl+C, leaves
through the normal way out, so the store is closed cleanly.

CrashReporter emits `crashed(str)` with the summary, on the GUI thread, for any
exception the logging hooks report from any thread.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from mimdesk.logs import Crash

log = logging.getLogger(__name__)

EXIT_CRASH = 1
# Python runs signal handlers only between bytecodes: wake it this often.
SIGNAL_POLL_MS = 500


class CrashReporter(QObject):
    """Turns crashes reported on any thread into one dialog on the GUI thread.
    With `interactive` false (a --screenshot run) they are only logged."""

    crashed = Signal(str)

    def __init__(
        self,
        log_file: Path | None,
        *,
        interactive: bool = True,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.log_file = log_file
        self.interactive = interactive
        self.dialog: QMessageBox | None = None
        self.count = 0  # every error reported
        self.first, self.shown = "", 0  # what the open dialog shows
        self.crashed.connect(self._on_self_crashed)

    def report(self, crash: Crash) -> None:
        """Called by the logging hooks, on whichever thread failed."""
        self.crashed.emit(crash.summary)

    def _on_self_crashed(self, summary: str) -> None:
        self.count += 1
        if not self.interactive:
            return
        if self.dialog is not None and self.dialog.isVisible():
            self.shown += 1  # the first error stays: it is likely the cause
            self.dialog.setText(self._text(self.first))
            return
        self.first, self.shown = summary, 1
        self.dialog = self._dialog(summary)
        self.dialog.open()  # never blocks: the console keeps running behind it
        log.info("the error was shown to the operator")

    def _text(self, summary: str) -> str:
        later = self.shown - 1
        more = f"\n\n({later} more since; the log has each.)" if later else ""
        return f"MIMDesk hit an unexpected error:\n\n{summary}{more}"

    def _dialog(self, summary: str) -> QMessageBox:
        where = (
            f"The details are in the log:\n{self.log_file}"
            if self.log_file
            else "No log file could be written; the details went to the terminal."
        )
        box = QMessageBox(
            QMessageBox.Icon.Critical,
            "MIMDesk: unexpected error",
            self._text(summary),
            parent=_console(),
        )
        box.setObjectName("CrashDialog")
        # Wide enough for a log path on one line, and the path can be copied.
        box.setStyleSheet(
            "QLabel#qt_msgbox_label, QLabel#qt_msgbox_informativelabel"
            " { min-width: 480px; }"
        )
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.setInformativeText(
            f"{where}\n\nEverything recorded before this is safe in the store. "
            "You can keep working, or quit and start MIMDesk again."
        )
        keep = box.addButton("Keep working", QMessageBox.ButtonRole.AcceptRole)
        leave = box.addButton("Quit MIMDesk", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(keep)
        box.setEscapeButton(keep)
        leave.clicked.connect(quit_after_crash)
        return box


def _console() -> QWidget | None:
    """The console window, so the dialog opens over it."""
    for window in QApplication.topLevelWidgets():
        if window.objectName() == "Console" and window.isVisible():
            return window
    return None


def quit_after_crash() -> None:
    """Close every window (each stops its timers) and leave with EXIT_CRASH."""
    log.warning("quitting after an unexpected error, as the operator chose")
    QApplication.closeAllWindows()
    QApplication.exit(EXIT_CRASH)


def quit_on_signals(parent: QObject) -> Callable[[], None]:
    """SIGTERM (logout, shutdown, `kill`) and Ctrl+C close the windows and end
    the event loop, so the normal way out closes the store. A timer owned by
    `parent` lets Python notice the signals while Qt waits. Returns what puts
    the previous handlers back."""

    def leave(number: int, _frame: object) -> None:
        log.info("signal %s: closing", signal.Signals(number).name)
        QApplication.closeAllWindows()
        QApplication.quit()

    before = {n: signal.signal(n, leave) for n in (signal.SIGTERM, signal.SIGINT)}
    timer = QTimer(parent)
    timer.setObjectName("SignalPoll")
    timer.timeout.connect(lambda: None)
    timer.start(SIGNAL_POLL_MS)

    def restore() -> None:
        timer.stop()
        for number, handler in before.items():
            signal.signal(number, handler)

    return restore
