"""Coloured notices across the top of the console, readable from across a room."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from mimdesk.ui.theme import Theme, ink_on


class BannerStack(QWidget):
    """Holds the start-up banners (kind, text) and alerts raised later by key."""

    def __init__(
        self, theme: Theme, texts: list[tuple[str, str]], parent: QWidget
    ) -> None:
        super().__init__(parent)  # a parent, so showing never makes a window
        self.setObjectName("Banners")
        self.theme = theme
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self.labels = [self._add(kind, text) for kind, text in texts]
        self.alerts: dict[str, QLabel] = {}
        self._fit()

    def _add(self, kind: str, text: str) -> QLabel:
        banner = QLabel(text)
        banner.setObjectName("Banner")
        banner.setProperty("kind", kind)
        banner.setWordWrap(True)
        banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._style(banner)
        self._layout.addWidget(banner)
        return banner

    def _style(self, banner: QLabel) -> None:
        t = self.theme
        colour = {"demo": t.demo, "danger": t.danger}.get(
            banner.property("kind"), t.warning
        )
        banner.setStyleSheet(f"background:{colour}; color:{ink_on(colour)};")

    def raise_alert(self, key: str, text: str, kind: str = "danger") -> None:
        """Show (or update) the alert `key` below the start-up banners."""
        if key not in self.alerts:
            self.alerts[key] = self._add(kind, text)
            self.labels.append(self.alerts[key])
        self.alerts[key].setText(text)
        self.alerts[key].show()
        self._fit()

    def clear_alert(self, key: str) -> None:
        if key in self.alerts:
            self.alerts[key].hide()
            self._fit()

    def shown(self) -> list[str]:
        """The texts a person sees now, top to bottom."""
        return [label.text() for label in self.labels if not label.isHidden()]

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        for banner in self.labels:
            self._style(banner)

    def _fit(self) -> None:
        # Hidden when empty, so the console's layout keeps no gap for it.
        self.setVisible(bool(self.shown()))
