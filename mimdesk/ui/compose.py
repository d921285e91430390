"""Where the operator records: a note line and a status picker, keyboard first."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QFrame, QHBoxLayout, QLineEdit, QPushButton

from mimdesk.domain.lifecycle import ORDER, Status


class ComposeBar(QFrame):
    """Emits note_entered(text) on Enter and status_chosen(Status) on Set."""

    note_entered = Signal(str)
    status_chosen = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("ComposeBar")
        self.note = QLineEdit()
        self.note.setObjectName("NoteInput")
        self.note.setAccessibleName("New timeline note")
        self.note.setPlaceholderText(
            "Add a note to the timeline \u2014 Enter records it (Ctrl+L)"
        )
        self.note.setClearButtonEnabled(True)
        self.note.returnPressed.connect(self._on_note_return_pressed)
        self.status = QComboBox()
        self.status.setObjectName("StatusChoice")
        self.status.setAccessibleName("Status")
        for number, status in enumerate(ORDER, start=1):
            self.status.addItem(f"{status.label}  (Ctrl+{number})", status)
        self.set_status = QPushButton("Set status")
        self.set_status.clicked.connect(self._on_set_status_clicked)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.note, 1)
        layout.addWidget(self.status)
        layout.addWidget(self.set_status)

    def _on_note_return_pressed(self) -> None:
        text = self.note.text().strip()
        if text:
            self.note_entered.emit(text)

    def _on_set_status_clicked(self) -> None:
        self.status_chosen.emit(self.status.currentData())

    def show_status(self, status: Status | None) -> None:
        if status is not None:
            self.status.setCurrentIndex(status.rank)
        self.setEnabled(status is not None)

    def note_saved(self) -> None:
        self.note.clear()
