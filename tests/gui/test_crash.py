"""An unexpected error, in a slot or a thread, reaches the operator as one
dialog naming it and the log file; the console keeps running behind it. And
the console's way to the Connections dialog."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

from mimdesk.logs import Crash
from mimdesk.ui.crash import CrashReporter

pytestmark = pytest.mark.gui


def _fail_in_thread(reporter: CrashReporter, text: str) -> None:
    def work() -> None:
        reporter.report(Crash("health-poller", "ValueError", text))

    thread = threading.Thread(target=work, name="health-poller")
    thread.start()
    thread.join()


def test_a_thread_crash_opens_a_dialog_naming_it_and_the_log(
    qtbot, tmp_path: Path
) -> None:
    log_file = tmp_path / "logs" / "mimdesk.log"
    reporter = CrashReporter(log_file)

    _fail_in_thread(reporter, "bad sample")
    qtbot.waitUntil(lambda: reporter.dialog is not None and reporter.dialog.isVisible())

    box = reporter.dialog
    assert isinstance(box, QMessageBox)
    qtbot.addWidget(box)
    assert box.text() == (
        "MIMDesk hit an unexpected error:\n\nValueError: bad sample (in health-poller)"
    )
    assert box.informativeText().startswith(f"The details are in the log:\n{log_file}")
    assert "Everything recorded before this is safe in the store." in (
        box.informativeText()
    )
    assert [b.text() for b in box.buttons()] == ["Keep working", "Quit MIMDesk"]


def test_later_errors_are_counted_in_the_open_dialog_not_stacked(
    qtbot, tmp_path: Path
) -> None:
    reporter = CrashReporter(tmp_path / "mimdesk.log")
    reporter.report(Crash("MainThread", "KeyError", "'first'"))
    qtbot.waitUntil(lambda: reporter.dialog is not None)
    first = reporter.dialog
    qtbot.addWidget(first)

    for n in range(2):
        reporter.report(Crash("MainThread", "KeyError", f"'later {n}'"))
    qtbot.waitUntil(lambda: reporter.count == 3)

    assert reporter.dialog is first
    assert "KeyError: 'first'" in first.text()
    assert first.text().endswith("(2 more since; the log has each.)")


def test_keep_working_closes_the_dialog_and_a_new_error_opens_another(
    qtbot, tmp_path: Path
) -> None:
    reporter = CrashReporter(tmp_path / "mimdesk.log")
    reporter.report(Crash("MainThread", "KeyError", "'one'"))
    qtbot.waitUntil(lambda: reporter.dialog is not None)
    first = reporter.dialog
    qtbot.addWidget(first)

    keep = next(b for b in first.buttons() if b.text() == "Keep working")
    keep.click()
    reporter.report(Crash("MainThread", "KeyError", "'two'"))
    qtbot.waitUntil(lambda: reporter.dialog is not first)

    qtbot.addWidget(reporter.dialog)
    assert not first.isVisible()
    assert "KeyError: 'two'" in reporter.dialog.text()
    assert "more since" not in reporter.dialog.text()


def test_a_screenshot_run_only_counts_errors(qtbot, tmp_path: Path) -> None:
    reporter = CrashReporter(tmp_path / "mimdesk.log", interactive=False)

    reporter.report(Crash("MainThread", "KeyError", "'x'"))
    qtbot.waitUntil(lambda: reporter.count == 1)

    assert reporter.dialog is None


# --- View → Connections… ------------------------------------------------------------


def _connections_action(window):
    view = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    return next((a for a in view.actions() if a.text() == "&Connections\u2026"), None)


def test_view_connections_opens_what_the_app_gives(make_console) -> None:
    opened: list[object] = []
    window = make_console(connections=opened.append)

    action = _connections_action(window)
    assert action is not None
    action.trigger()

    assert opened == [window]


def test_no_connections_entry_without_a_way_to_open_it(make_console) -> None:
    window = make_console()

    assert _connections_action(window) is None
