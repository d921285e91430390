"""Coloured notices across the top of the console, readable from across a room."""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from mimdesk.ui.theme import Theme, ink_on


class BannerStack(QWidget):
    """Holds the start-up banners (kind, text) and alerts raised later by key.

    An alert raised with `dismissable=True` carries a Dismiss button; pressing it
    hides the alert and emits dismissed(key).
    """

    dismissed = Signal(str)

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
        # What is shown or hidden for each alert: its label, or the row holding
        # the label and its Dismiss button.
        self._shown_as: dict[str, QWidget] = {}
        self.dismiss_buttons: dict[str, QPushButton] = {}
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

    def _add_dismissable(self, key: str, banner: QLabel) -> QWidget:
        row = QWidget()
        row.setObjectName("BannerRow")
        line = QHBoxLayout(row)
        line.setContentsMargins(0, 0, 0, 0)
        line.addWidget(banner, 1)
        button = QPushButton("Dismiss")
        button.setObjectName("DismissBanner")
        button.setAccessibleName("Dismiss this notice")
        button.clicked.connect(partial(self._on_dismiss_clicked, key))
        line.addWidget(button)
        self._layout.addWidget(row)
        self.dismiss_buttons[key] = button
        return row

    def _style(self, banner: QLabel) -> None:
        t = self.theme
        colour = {"demo": t.demo, "danger": t.danger, "exercise": t.exercise}.get(
            banner.property("kind"), t.warning
        )
        banner.setStyleSheet(f"background:{colour}; color:{ink_on(colour)};")

    def raise_alert(
        self, key: str, text: str, kind: str = "danger", *, dismissable: bool = False
    ) -> None:
        """Show (or update) the alert `key` below the start-up banners."""
        if key not in self.alerts:
            label = self._add(kind, text)
            self.alerts[key] = label
            self.labels.append(label)
            self._shown_as[key] = (
                self._add_dismissable(key, label) if dismissable else label
            )
        self.alerts[key].setText(text)
        self._shown_as[key].show()
        self._fit()

    def set_alert_text(self, key: str, text: str) -> None:
        """Change the words of alert `key` without showing it again."""
        if key in self.alerts and self.alerts[key].text() != text:
            self.alerts[key].setText(text)

    def clear_alert(self, key: str) -> None:
        if key in self._shown_as:
            self._shown_as[key].hide()
            self._fit()

    def is_shown(self, key: str) -> bool:
        return key in self._shown_as and not self._shown_as[key].isHidden()

    def shown(self) -> list[str]:
        """The texts a person sees now, top to bottom."""
        return [label.text() for label in self.labels if label.isVisibleTo(self)]

    def set_theme(self, theme: Theme) -> None:
        self.theme = theme
        for banner in self.labels:
            self._style(banner)

    def _on_dismiss_clicked(self, key: str, _checked: bool = False) -> None:
        self.clear_alert(key)
        self.dismissed.emit(key)

    def _fit(self) -> None:
        # Hidden when empty, so the console's layout keeps no gap for it.
        self.setVisible(bool(self.shown()))
