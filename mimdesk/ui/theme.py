"""Dark and light themes, readable across a control room: high contrast, large type."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication

from mimdesk.domain.health import Health


@dataclass(frozen=True)
class Theme:
    """Colours for one theme; severity and status colours keep their meaning in both."""

    name: str
    window: str
    panel: str
    raised: str
    text: str
    muted: str
    border: str
    accent: str
    severity: tuple[str, str, str, str]
    status_open: str
    status_mitigated: str
    status_resolved: str
    status_closed: str
    demo: str
    danger: str
    warning: str
    exercise: str = "#ff3d9a"

    def severity_colour(self, level: int) -> QColor:
        return QColor(self.severity[min(max(level, 1), 4) - 1])

    def status_colour(self, status: str) -> QColor:
        if status == "mitigated":
            return QColor(self.status_mitigated)
        if status == "resolved":
            return QColor(self.status_resolved)
        if status == "closed":
            return QColor(self.status_closed)
        return QColor(self.status_open)


DARK = Theme(
    name="dark",
    window="#0d1117",
    panel="#151b23",
    raised="#1f2630",
    text="#e8ecf1",
    muted="#9aa5b4",
    border="#2d3643",
    accent="#58a6ff",
    severity=("#ff4d4f", "#ff8c1a", "#f2c94c", "#5aa9ff"),
    status_open="#ffb020",
    status_mitigated="#2ec4b6",
    status_resolved="#3fb950",
    status_closed="#8b949e",
    demo="#b57edc",
    danger="#ff4d4f",
    warning="#f2c94c",
)

LIGHT = Theme(
    name="light",
    window="#f4f6f8",
    panel="#ffffff",
    raised="#e9edf1",
    text="#111820",
    muted="#4e5b6a",
    border="#c9d1da",
    accent="#0b62c4",
    severity=("#c9111b", "#c45100", "#8a6d00", "#0b62c4"),
    status_open="#a55b00",
    status_mitigated="#00796b",
    status_resolved="#1a7f37",
    status_closed="#57606a",
    demo="#7b3fb0",
    danger="#c9111b",
    warning="#8a6d00",
    exercise="#c2185b",
)

THEMES = {"dark": DARK, "light": LIGHT}


def ink_on(colour: str) -> str:
    """Text colour that reads on a `colour` background."""
    return "#ffffff" if QColor(colour).lightness() < 130 else "#0d1117"


def pill(colour: str, *, filled: bool = True, compact: bool = False) -> str:
    """Style sheet for a badge: filled in `colour`, or outlined in it; a compact
    one fits a table row."""
    background = colour if filled else "transparent"
    foreground = ink_on(colour) if filled else colour
    border, padding = ("1px", "0px 6px") if compact else ("2px", "2px 8px")
    return (
        f"background:{background}; color:{foreground}; border:{border} solid {colour};"
        f" border-radius:4px; padding:{padding}; font-weight:700;"
    )


def stylesheet(t: Theme, scale: float = 1.0) -> str:
    """The style sheet; `scale` enlarges all type for big screens far away."""

    def pt(size: float) -> str:
        return f"{size * scale:.1f}pt"

    return f"""
    QWidget {{ background: {t.window}; color: {t.text}; font-size: {pt(11)}; }}
    QMainWindow::separator {{ background: {t.border}; width: 2px; }}
    QFrame#IncidentHeader, QTreeWidget#Timeline, QTableView#IncidentList,
    QFrame#ComposeBar, QFrame#MilestoneClock {{
        background: {t.panel}; border: 1px solid {t.border}; border-radius: 6px;
    }}
    QTableView#IncidentList {{ gridline-color: {t.panel}; }}
    QTableView#IncidentList::item {{ padding: 6px; }}
    QTreeWidget#Timeline::item {{ padding: 3px 2px; }}
    QTableView#IncidentList::item:selected, QTreeWidget#Timeline::item:selected {{
        background: {t.raised};
    }}
    QHeaderView::section {{
        background: {t.panel}; color: {t.muted}; border: none;
        border-bottom: 1px solid {t.border}; padding: 4px 6px; font-weight: 600;
    }}
    QLabel#Muted {{ color: {t.muted}; }}
    QLabel#SectionTitle {{ color: {t.muted}; font-weight: 600; font-size: {pt(10)};
        letter-spacing: 1px; }}
    QLineEdit, QComboBox, QPlainTextEdit, QListWidget {{
        background: {t.raised}; border: 1px solid {t.border}; border-radius: 4px;
        padding: 5px; selection-background-color: {t.accent};
    }}
    QLineEdit:focus, QComboBox:focus {{ border: 1px solid {t.accent}; }}
    QLineEdit:disabled, QComboBox:disabled, QPushButton:disabled {{
        color: {t.muted}; background: {t.panel}; border-style: dashed;
    }}
    QPushButton {{
        background: {t.raised}; border: 1px solid {t.border}; border-radius: 4px;
        padding: 6px 14px;
    }}
    QPushButton:hover {{ border-color: {t.accent}; }}
    QPushButton:default {{ border: 1px solid {t.accent}; }}
    QPushButton:disabled {{ color: {t.muted}; }}
    QCheckBox::indicator {{
        width: 14px; height: 14px; border: 1px solid {t.muted}; border-radius: 3px;
        background: {t.raised};
    }}
    QCheckBox::indicator:checked {{ background: {t.accent}; border-color: {t.accent}; }}
    QCheckBox::indicator:focus {{ border-color: {t.accent}; }}
    QMenuBar {{ background: {t.panel}; }}
    QMenuBar::item:selected, QMenu::item:selected {{ background: {t.raised}; }}
    QMenu {{ background: {t.panel}; border: 1px solid {t.border}; }}
    QStatusBar {{ background: {t.panel}; color: {t.muted}; }}
    QStatusBar QLabel {{ color: {t.muted}; padding: 0 8px; }}
    QLabel#Banner {{ padding: 6px 12px; font-weight: 600; border-radius: 4px; }}
    QToolTip {{
        background: {t.raised}; color: {t.text}; border: 1px solid {t.border};
    }}
    QLabel {{ background: transparent; }}
    QLabel#Elapsed {{ font-size: {pt(34)}; font-weight: 700;
        font-family: "DejaVu Sans Mono", monospace; }}
    QLabel#IncidentId {{ font-size: {pt(13)};
        font-family: "DejaVu Sans Mono", monospace; }}
    QLabel#IncidentTitle {{ font-size: {pt(20)}; font-weight: 700; }}
    QLabel#ClockTime {{ font-family: "DejaVu Sans Mono", monospace; }}
    QLabel#NextUpdate {{ font-size: {pt(18)}; font-weight: 700;
        font-family: "DejaVu Sans Mono", monospace; }}
    """


def apply_theme(app: QApplication, theme: Theme, scale: float = 1.0) -> None:
    app.setStyle("Fusion")
    app.setStyleSheet(stylesheet(theme, scale))


def health_look(theme: Theme, health: Health) -> tuple[str, bool]:
    """The colour of a status and whether its badge is filled; the badge always
    carries the words too, so colour is never the only signal."""
    return {
        Health.OK: (theme.status_resolved, True),
        Health.WARNING: (theme.warning, True),
        Health.CRITICAL: (theme.danger, True),
        Health.STALE: (theme.status_open, False),
        Health.NO_DATA: (theme.status_closed, True),
        Health.UNREACHABLE: (theme.muted, False),
    }[health]
