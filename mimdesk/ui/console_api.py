"""What the console's menus and dialogs use of the console window: the
shared part; each module's own protocol adds what only it needs."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Protocol

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDialog, QWidget

if TYPE_CHECKING:
    from mimdesk.ui.console import ConsoleContext


class ConsoleCommands(Protocol):
    """Menu entries, store commands, dialogs and messages."""

    @property
    def ctx(self) -> ConsoleContext: ...
    @property
    def run_dialog(self) -> Callable[[QDialog], bool]: ...

    def _action(
        self, menu: Any, text: str, shortcut: str | None, slot: Callable[[], object]
    ) -> QAction: ...
    def _command(
        self,
        submit: Callable[[], Future[Any]],
        on_done: Callable[[Any], None] | None = None,
    ) -> None: ...
    def window(self) -> QWidget: ...
    def show_message(self, text: str) -> None: ...
    def show_error(self, text: str) -> None: ...
