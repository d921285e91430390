"""Saving a window to PNG once it has painted: for --screenshot and start-up timing."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QWidget


class ScreenshotOnPaint(QObject):
    """After the window's first paint, grab it to `target` and quit the app."""

    def __init__(self, window: QWidget, target: Path) -> None:
        super().__init__(window)
        self.window, self.target, self.done = window, target, False

    @classmethod
    def attach(cls, window: object, target: Path) -> ScreenshotOnPaint:
        assert isinstance(window, QWidget)
        snap = cls(window, target)
        window.installEventFilter(snap)
        return snap

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint and not self.done:
            self.done = True
            QTimer.singleShot(0, self._save)
        return False

    def _save(self) -> None:
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self.window.grab().save(str(self.target))
        QApplication.quit()
