"""The outbox window: every message waiting to go out, why, and what to do."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, tzinfo
from functools import partial

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from mimdesk.domain import outbox as model
from mimdesk.domain.outbox import BLOCKING, FINAL, Item, Kind, State
from mimdesk.domain.times import format_clock, format_instant
from mimdesk.sync.chat_status import Link
from mimdesk.ui.bridge import StoreBridge
from mimdesk.ui.chat_feed import SAME_DAY, ChatFeed, platform_name, tick_boxes
from mimdesk.ui.theme import Theme

COLUMNS = ("#", "Incident", "Platform", "What", "State", "Queued at", "Tries",
           "Last error")  # fmt: skip
WHAT, ERROR = 3, 7
KEYS = "R retries the selected message, Delete cancels it, Esc closes."


class OutboxDialog(QDialog):
    """A table of outbox rows (waiting ones; delivered and cancelled too when
    ticked), oldest first, with what to do about the one selected.

    Signals: retry_asked(Item) and cancel_asked(Item) for the selected row (R,
    Delete, or the buttons); the owner asks, runs the command and reloads.
    """

    retry_asked = Signal(object)
    cancel_asked = Signal(object)

    def __init__(
        self,
        bridge: StoreBridge,
        feed: ChatFeed,
        theme: Theme,
        zone: tzinfo,
        now: Callable[[], datetime],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("OutboxDialog")
        self.setWindowTitle("Outbox \u2014 messages waiting to go out")
        self.bridge, self.feed, self.theme, self.zone = bridge, feed, theme, zone
        self.now = now
        self.items: list[Item] = []
        self.table = self._table()
        self.show_done = QCheckBox("Show &delivered and cancelled")
        self.show_done.toggled.connect(self._on_show_done_toggled)
        self.summary = QLabel()
        self.summary.setObjectName("Muted")
        self.advice = QLabel()
        self.advice.setObjectName("OutboxAdvice")
        self.advice.setWordWrap(True)
        self.advice.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
        )
        self.advice.setMinimumHeight(self.advice.fontMetrics().lineSpacing() * 3)
        self.outcome = QLabel()
        self.outcome.setObjectName("OutboxOutcome")
        self.outcome.setWordWrap(True)
        self.retry_button = QPushButton("&Retry (R)")
        self.retry_button.clicked.connect(self.retry_selected)
        self.cancel_button = QPushButton("Cancel &message (Delete)")
        self.cancel_button.clicked.connect(self.cancel_selected)
        close = QPushButton("Close (Esc)")
        close.clicked.connect(self.reject)
        for button in (self.retry_button, self.cancel_button, close):
            button.setAutoDefault(False)  # Enter in the table does nothing
        for keys, slot in (("R", self.retry_selected), ("Del", self.cancel_selected)):
            QShortcut(QKeySequence(keys), self, slot)
        self._lay_out(close)
        bridge.changed.connect(self._on_store_changed)
        feed.platform_changed.connect(self._on_store_changed)
        self.resize(1100, 460)
        self.set_look(theme, zone)

    def _table(self) -> QTableWidget:
        table = QTableWidget(0, len(COLUMNS))
        table.setObjectName("OutboxTable")
        table.setAccessibleName("Outbox")
        table.setHorizontalHeaderLabels(COLUMNS)
        table.verticalHeader().hide()
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setWordWrap(False)
        table.setTabKeyNavigation(False)
        header = table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(WHAT, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(ERROR, QHeaderView.ResizeMode.Interactive)
        table.itemSelectionChanged.connect(self._on_table_selection_changed)
        return table

    def _lay_out(self, close: QPushButton) -> None:
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(self.show_done)
        buttons = QHBoxLayout()
        buttons.addWidget(self.retry_button)
        buttons.addWidget(self.cancel_button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.advice)
        layout.addWidget(self.outcome)
        layout.addLayout(buttons)

    # --- reading ----------------------------------------------------------------

    def reload(self) -> None:
        """Re-read the rows, keeping the selected one selected."""
        read = partial(
            self.feed.store.outbox_items, include_done=self.show_done.isChecked()
        )
        items = self.bridge.read(read)
        if items is None:
            self.summary.setText("The outbox cannot be read just now.")
            return
        if items == self.items:
            self._on_table_selection_changed()  # a platform's state may have moved
            return
        chosen = self.selected()
        self.items = items
        self._fill(items)
        self._select(chosen.id if chosen else None)
        self._show_summary()

    def _fill(self, items: list[Item]) -> None:
        self.table.setRowCount(len(items))
        for row, item in enumerate(items):
            for column, text in enumerate(self._cells(item)):
                cell = QTableWidgetItem(text)
                cell.setData(Qt.ItemDataRole.UserRole, item.id)
                if column in (WHAT, ERROR):
                    cell.setToolTip(text)
                self.table.setItem(row, column, cell)
            self._colour_state(row, item)
        self.table.resizeColumnToContents(ERROR)
        self.table.setColumnWidth(ERROR, min(self.table.columnWidth(ERROR), 320))

    def _cells(self, item: Item) -> tuple[str, ...]:
        return (
            str(item.id),
            item.incident_id,
            platform_name(item.platform),
            f"post: {item.describe()}" if item.kind is Kind.POST else item.describe(),
            item.state.value,
            self._when(item.created_at),
            str(item.attempts),
            item.last_error.replace("\n", " "),
        )

    def _when(self, instant: datetime) -> str:
        if self.now() - instant > SAME_DAY:
            return format_instant(instant, self.zone, seconds=False)
        return format_clock(instant, self.zone, seconds=True)

    def _colour_state(self, row: int, item: Item) -> None:
        t = self.theme
        colour = {
            State.QUEUED: t.warning,
            State.DELIVERED: t.status_resolved,
            State.CANCELLED: t.muted,
        }.get(item.state, t.danger)
        cell = self.table.item(row, 4)
        if cell is None:
            return
        cell.setForeground(QColor(colour))
        font = cell.font()
        font.setBold(item.state in BLOCKING)
        cell.setFont(font)

    def _select(self, item_id: int | None) -> None:
        rows = [r for r, i in enumerate(self.items) if i.id == item_id]
        if not rows and self.items:
            blocking = [r for r, i in enumerate(self.items) if i.state in BLOCKING]
            rows = blocking or [0]
        if rows:
            self.table.selectRow(rows[0])
        self._on_table_selection_changed()

    def _show_summary(self) -> None:
        open_items = [i for i in self.items if i.state not in FINAL]
        needs = sum(1 for i in open_items if i.state in BLOCKING)
        text = f"{len(open_items)} waiting"
        if needs:
            text += f", {needs} need{'s' if needs == 1 else ''} you"
        if self.show_done.isChecked():
            text += f" \u00b7 {len(self.items) - len(open_items)} done"
        self.summary.setText(text if self.items else "Nothing waits to go out.")

    def selected(self) -> Item | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows or rows[0].row() >= len(self.items):
            return None
        return self.items[rows[0].row()]

    # --- what to do -------------------------------------------------------------

    def _on_table_selection_changed(self) -> None:
        item = self.selected()
        usable = item is not None and item.state not in FINAL
        self.retry_button.setEnabled(usable)
        self.cancel_button.setEnabled(usable)
        self.advice.setText(self.advice_for(item) if item else KEYS)

    def advice_for(self, item: Item) -> str:
        """What this row is waiting for, and what the operator can do."""
        if item.advice():
            return f"#{item.id}: {item.advice()}.\n{KEYS}"
        if item.state is State.DELIVERED:
            when = item.delivered_at and format_instant(item.delivered_at, self.zone)
            return f"#{item.id} was delivered{f' at {when}' if when else ''}."
        if item.state is State.CANCELLED:
            return f"#{item.id} was cancelled; it will not be sent."
        return f"#{item.id}: {self._why_waiting(item)}\n{KEYS}"

    def _why_waiting(self, item: Item) -> str:
        state = self.feed.states.get(item.platform)
        name = platform_name(item.platform)
        if state is not None and state.link is Link.NEEDS_AUTH:
            return f"{name} needs re-authentication; nothing goes to it until then."
        if state is not None and state.link is Link.NOT_CONFIGURED:
            return f"{name} is not set up on this seat; it waits until it is."
        head = next(
            (h for h in model.heads(self.items) if h.destination == item.destination),
            None,
        )
        if head is not None and head.id != item.id:
            if head.state in BLOCKING:
                return f"waits behind #{head.id}, which is {head.state} and needs you."
            return f"waits for #{head.id} to go first (one channel, in order)."
        if item.next_attempt_at is not None:
            when = format_clock(item.next_attempt_at, self.zone, seconds=True)
            return f"next attempt at {when} (R tries now)."
        return "being sent."

    def retry_selected(self) -> None:
        item = self.selected()
        if item is not None and item.state not in FINAL:
            self.retry_asked.emit(item)

    def cancel_selected(self) -> None:
        item = self.selected()
        if item is not None and item.state not in FINAL:
            self.cancel_asked.emit(item)

    def say(self, text: str, *, error: bool = False) -> None:
        """The outcome of the last retry or cancel."""
        colour = self.theme.danger if error else self.theme.muted
        self.outcome.setStyleSheet(f"color:{colour}; font-weight:600;")
        self.outcome.setText(f"\u26a0 {text}" if error else text)

    def _on_store_changed(self, *_args: object) -> None:
        if self.isVisible():
            self.reload()

    def _on_show_done_toggled(self, _checked: bool) -> None:
        self.reload()

    def set_look(self, theme: Theme, zone: tzinfo) -> None:
        self.theme, self.zone = theme, zone
        self.setStyleSheet(tick_boxes(theme))
        self.advice.setStyleSheet(f"color:{theme.text};")
        chosen = self.selected()
        self._fill(self.items)
        self._select(chosen.id if chosen else None)
