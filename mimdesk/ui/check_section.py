"""One connection in the Connections dialog: its fields, a Test connection
button, and what the last test found; the worker that runs a test."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
)

from mimdesk import doctor
from mimdesk.doctor import Check, Status
from mimdesk.ui.theme import Theme

log = logging.getLogger(__name__)

WIDEST_LABEL = "Homeserver URL"
WORDS = {Status.OK: "OK", Status.FAILED: "FAILED", Status.SKIPPED: "NOT SET UP"}


def row_label(text: str) -> QLabel:
    """A form label as wide as the widest, so every section's fields line up."""
    label = QLabel(text)
    label.ensurePolished()  # the style sheet's font, not the default one
    label.setMinimumWidth(label.fontMetrics().horizontalAdvance(WIDEST_LABEL) + 12)
    return label


class CheckRunner(QObject):
    """Runs one doctor check on a worker thread; `finished(str, int, object)`
    carries (section, attempt, Check) back to the GUI thread."""

    finished = Signal(str, int, object)

    def start(self, section: str, attempt: int, check: Callable[[], Check]) -> None:
        def work() -> None:
            result = doctor.timed(section, check)
            try:
                self.finished.emit(section, attempt, result)
            except RuntimeError:  # the dialog was closed while the check ran
                log.debug("connection test of %s ended after its dialog", section)

        name = f"connection-test-{section}"
        threading.Thread(target=work, name=name, daemon=True).start()


class Section(QGroupBox):
    """One connection: its fields, a Test connection button and what the last
    test found. Emits `test_requested`, and `result_shown` when the text under
    the fields changed (it may need more room)."""

    test_requested = Signal()
    result_shown = Signal()

    def __init__(self, name: str, title: str, theme: Theme) -> None:
        super().__init__(title)
        self.setObjectName(f"{name}_section")
        self.name, self.theme = name, theme
        self.form = QFormLayout()
        self.form.setFieldGrowthPolicy(
            QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow
        )
        self.test_button = QPushButton("Test connection")
        self.test_button.setObjectName(f"{name}_test")
        self.test_button.setAutoDefault(False)
        self.test_button.clicked.connect(self.test_requested)
        self.result = QLabel("Not tested yet.")
        self.result.setObjectName(f"{name}_result")
        self.result.setWordWrap(True)
        self.result.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
        )
        self.result.setStyleSheet(f"color: {theme.muted};")
        row = QHBoxLayout()
        row.addWidget(self.test_button, 0, Qt.AlignmentFlag.AlignTop)
        row.addWidget(self.result, 1)
        self.box = QVBoxLayout(self)
        self.box.addLayout(self.form)
        self.box.addLayout(row)

    def note(self, name: str, text: str, colour: str) -> QLabel:
        """A line under the fields, as wide as the section."""
        label = QLabel(text)
        label.setObjectName(name)
        label.setWordWrap(True)
        label.setStyleSheet(f"color: {colour};")
        self.box.insertWidget(1, label)
        return label

    def line(self, label: str, key: str, text: str = "", hint: str = "") -> QLineEdit:
        edit = QLineEdit(text)
        edit.setObjectName(f"{self.name}_{key}")
        edit.setPlaceholderText(hint)
        self.form.addRow(row_label(label), edit)
        return edit

    def show_testing(self) -> None:
        self.test_button.setEnabled(False)
        self.result.setStyleSheet(f"color: {self.theme.muted};")
        self.result.setText("Testing…")

    def show_check(self, check: Check) -> None:
        colour = {
            Status.OK: self.theme.status_resolved,
            Status.FAILED: self.theme.danger,
            Status.SKIPPED: self.theme.muted,
        }[check.status]
        self.test_button.setEnabled(True)
        self.result.setStyleSheet(f"color: {colour};")
        self.result.setText(f"{WORDS[check.status]}: {check.message}")
        self.result_shown.emit()

    def show_problem(self, text: str) -> None:
        self.show_check(Check(self.name, Status.FAILED, text))
