"""The milestone clock: targets, next stakeholder update, report clocks, durations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QVBoxLayout, QWidget

from mimdesk.domain.times import (
    format_ago,
    format_duration,
    format_instant,
    parse_utc,
)
from mimdesk.ui.theme import Theme, pill

DURATION_NAMES = {
    "time_to_acknowledge": "Acknowledge",
    "time_to_mobilise": "Mobilise",
    "time_to_mitigate": "Mitigate",
    "time_to_resolve": "Resolve",
}
RUNNING = "\u25b6 running"
DASH = "\u2014"
# Colour is never the only signal: amber also says so in words.
DUE_SOON = "DUE SOON"


@dataclass(frozen=True)
class Cell:
    """What one label shows: text, a colour key of the theme, how it is drawn
    ("plain", "bold", "badge": a filled pill, "outline": an outlined one) and
    a tooltip."""

    text: str
    colour: str = "text"
    look: str = "plain"
    tip: str = ""


def _style(cell: Cell, theme: Theme) -> str:
    colour = getattr(theme, cell.colour)
    if cell.look in ("badge", "outline"):
        return pill(colour, filled=cell.look == "badge", compact=True)
    weight = " font-weight:700;" if cell.look == "bold" else ""
    return f"color:{colour};{weight}"


def paint(label: QLabel, cell: Cell, theme: Theme) -> None:
    """Show `cell` on `label`, touching only what changed (this runs every tick)."""
    if label.text() != cell.text:
        label.setText(cell.text)
    if label.toolTip() != cell.tip:
        label.setToolTip(cell.tip)
    style = _style(cell, theme)
    if label.styleSheet() != style:
        label.setStyleSheet(style)


class WrapLabel(QLabel):
    """Asks for one line of width, and wraps only when the layout has less."""

    def __init__(self) -> None:
        super().__init__()
        self.setWordWrap(True)

    def sizeHint(self) -> QSize:
        margins = self.contentsMargins()
        width = self.fontMetrics().horizontalAdvance(self.text())
        width += margins.left() + margins.right() + 2 * self.margin() + 2
        return QSize(width, self.heightForWidth(width))


class CellGrid(QWidget):
    """Rows of labels, made as needed and reused, so a tick only changes text.

    `names` gives each column's object name ("ClockTime" for counters) and
    `wrap` the columns whose text may wrap when the panel is narrow.
    """

    def __init__(self, names: tuple[str, ...], wrap: tuple[int, ...] = ()) -> None:
        super().__init__()
        self.names, self.wrap = names, wrap
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setColumnStretch(len(names), 1)  # columns keep together
        self.set_scale(1.0)
        self.rows: list[list[QLabel]] = []

    def set_scale(self, scale: float) -> None:
        self.grid.setHorizontalSpacing(round(12 * scale))
        self.grid.setVerticalSpacing(round(4 * scale))

    def show_rows(self, rows: list[list[Cell]], theme: Theme) -> None:
        while len(self.rows) < len(rows):
            self._add_row()
        for index, labels in enumerate(self.rows):
            shown = index < len(rows)
            for column, label in enumerate(labels):
                label.setVisible(shown)
                if shown:
                    paint(label, rows[index][column], theme)

    def _add_row(self) -> None:
        row = len(self.rows)
        labels = []
        for column, name in enumerate(self.names):
            label = WrapLabel() if column in self.wrap else QLabel()
            label.setObjectName(name)
            self.grid.addWidget(label, row, column, Qt.AlignmentFlag.AlignVCenter)
            labels.append(label)
        self.rows.append(labels)

    def texts(self) -> list[list[str]]:
        """What a person reads, row by row."""
        return [
            [label.text() for label in row] for row in self.rows if row[0].isVisible()
        ]


class Moments:
    """Formats instants and spans in the display zone, relative to `now`."""

    def __init__(self, zone: tzinfo, now: datetime) -> None:
        self.zone, self.now = zone, now
        self.today = format_instant(now, zone)[:10]

    def when(self, text: str | None) -> str:
        """'17:18 UTC' today, '2026-12-06 14:00 UTC' on another day."""
        if not text:
            return DASH
        shown = format_instant(parse_utc(text), self.zone, seconds=False)
        return shown[11:] if shown.startswith(self.today) else shown

    def left(self, due: str) -> timedelta:
        return parse_utc(due) - self.now


class MilestoneClock(QFrame):
    """Renders one incident's clock, as `mimdesk.report.clock_json` gives it.

    Holds no data of its own: `show_clock(data, now)` paints what it is given
    (the console calls it on every tick), `show_clock(None, now)` says the
    clock cannot be worked out.
    """

    def __init__(self, theme: Theme, zone: tzinfo) -> None:
        super().__init__()
        self.setObjectName("MilestoneClock")
        self.setAccessibleName("Milestone clock")
        self.theme, self.zone = theme, zone
        self.targets = CellGrid(("TargetLevel", "TargetName", "ClockTime"), wrap=(1,))
        self.next_update = QLabel()
        self.next_update.setObjectName("NextUpdate")
        self.next_update.setAccessibleName("Next stakeholder update")
        self.next_update_detail = QLabel()
        self.next_update_detail.setObjectName("Muted")
        self.next_update_detail.setWordWrap(True)
        self.reports = CellGrid(("ReportName", "ReportDue", "ClockTime"), wrap=(0, 1))
        self.durations = CellGrid(("DurationName", "ClockTime", "DurationState"))
        self.problem = QLabel()
        self.problem.setWordWrap(True)
        self._layout()

    def _layout(self) -> None:
        update = QWidget()
        column = QVBoxLayout(update)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.next_update)
        column.addWidget(self.next_update_detail)
        self.body = QWidget()
        self.grid = grid = QGridLayout(self.body)
        grid.setContentsMargins(0, 0, 0, 0)
        for (row, col), title, body in (
            ((0, 0), "TARGETS", self.targets),
            ((0, 1), "NEXT STAKEHOLDER UPDATE", update),
            ((1, 0), "REGULATORY REPORTS", self.reports),
            ((1, 1), "TIME TO", self.durations),
        ):
            grid.addWidget(_section(title, body), row, col)
        grid.setColumnStretch(0, 1)  # the right column keeps its natural width
        self.outer = QVBoxLayout(self)
        self.outer.addWidget(self.problem)
        self.outer.addWidget(self.body)
        self.set_scale(1.0)

    def set_scale(self, scale: float) -> None:
        """Spacing grows with the type, so a wall screen keeps the proportions."""
        self.outer.setContentsMargins(*(round(n * scale) for n in (16, 10, 16, 10)))
        self.grid.setHorizontalSpacing(round(28 * scale))
        self.grid.setVerticalSpacing(round(10 * scale))
        for table in (self.targets, self.reports, self.durations):
            table.set_scale(scale)

    def show_clock(self, data: dict[str, Any] | None, now: datetime) -> None:
        self.problem.setVisible(data is None)
        self.body.setVisible(data is not None)
        if data is None:
            paint(self.problem, _unreadable(), self.theme)
            return
        moments = Moments(self.zone, now)
        self.targets.show_rows(
            [target_cells(t, moments) for t in data["targets"]]
            or [[Cell(""), Cell("No targets for this severity", "muted"), Cell("")]],
            self.theme,
        )
        self._show_next_update(data["next_update"], moments)
        self.reports.show_rows(regulatory_rows(data, moments), self.theme)
        self.durations.show_rows(duration_rows(data["durations"]), self.theme)

    def _show_next_update(self, nxt: dict[str, Any], moments: Moments) -> None:
        big, detail = next_update_cells(nxt, moments)
        paint(self.next_update, big, self.theme)
        paint(self.next_update_detail, detail, self.theme)


def _section(title: str, body: QWidget) -> QWidget:
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(4)
    caption = QLabel(title)
    caption.setObjectName("SectionTitle")
    layout.addWidget(caption)
    layout.addWidget(body)
    layout.addStretch(1)
    return box


def _unreadable() -> Cell:
    return Cell("The clock cannot be worked out: the journal cannot be read.", "danger")


# --- what each part shows ---------------------------------------------------------

LEVELS = {
    "ok": Cell("OK", "text", "outline"),
    "amber": Cell(DUE_SOON, "warning", "badge"),
    "red": Cell("RED", "danger", "badge"),
    "met": Cell("MET", "status_resolved", "outline"),
    "missed": Cell("MISSED", "danger", "outline"),
    "not applicable": Cell("N/A", "muted", "outline"),
}


def target_cells(target: dict[str, Any], moments: Moments) -> list[Cell]:
    """Level badge, what the target is, and time left, overdue or the outcome."""
    level = target["level"]
    name = Cell(target["target"], "muted" if level == "not applicable" else "text")
    return [LEVELS[level], name, _target_time(target, level, moments)]


def _target_time(target: dict[str, Any], level: str, moments: Moments) -> Cell:
    slack = target["slack_seconds"]
    if level in ("ok", "amber"):
        left = format_duration(moments.left(target["due"]))
        return Cell(f"{left} left", "warning" if level == "amber" else "text")
    if level == "red":
        late = format_duration(-moments.left(target["due"]))
        return Cell(f"OVERDUE {late}", "danger", "bold")
    reached = target["reached_at"]
    tip = f"reached {moments.when(reached)}" if reached else ""
    if level == "met":
        return Cell(f"{format_ago(timedelta(seconds=slack))} to spare", tip=tip)
    if level == "missed":
        return Cell(f"{format_ago(timedelta(seconds=-slack))} late", tip=tip)
    return Cell(DASH, "muted")


def next_update_cells(nxt: dict[str, Any], moments: Moments) -> tuple[Cell, Cell]:
    """The big countdown (or OVERDUE) and the line under it."""
    last = f"last sent {moments.when(nxt['last_update'])}"
    if not nxt.get("last_update"):
        last = "none sent yet"
    if not nxt.get("due"):
        return Cell(DASH, "muted"), Cell(f"No update due \u00b7 {last}", "muted")
    due = moments.when(nxt["due"])
    if nxt["overdue_seconds"] is not None:
        minutes = nxt["overdue_seconds"] // 60
        return (
            Cell(f"OVERDUE by {minutes} min", "danger"),
            Cell(f"was due {due} \u00b7 {last}", "muted"),
        )
    left = format_duration(moments.left(nxt["due"]))
    if nxt.get("level") == "amber":
        return (
            Cell(f"{DUE_SOON} {left}", "warning"),
            Cell(f"due {due} \u00b7 {last}", "muted"),
        )
    return Cell(left), Cell(f"due {due} \u00b7 {last}", "muted")


def regulatory_rows(data: dict[str, Any], moments: Moments) -> list[list[Cell]]:
    """The report clocks, under a line saying so if severity was lowered after
    the incident was classified as major (the clocks do not stop for that)."""
    rows = report_rows(data["reports"], moments)
    if data["reports"] and data.get("downgraded"):
        since = moments.when(data["classified_major_at"])
        note = (
            f"Severity lowered after classification as major ({since}): clocks run on"
        )
        rows.insert(0, [Cell(note, "warning"), Cell(""), Cell("")])
    return rows


def report_rows(reports: list[dict[str, Any]], moments: Moments) -> list[list[Cell]]:
    if not reports:
        none = Cell("No regulation named in settings (regulations)", "muted")
        return [[none, Cell(""), Cell("")]]
    return [_report_cells(r, moments) for r in reports]


def _report_cells(report: dict[str, Any], moments: Moments) -> list[Cell]:
    name = Cell(f"{report['regime'].upper()} \u00b7 {report['title']}")
    due = f"due {moments.when(report['due'])}" if report["due"] else ""
    backstop = " (backstop)" if report["by_backstop"] else ""
    return [name, Cell(due + backstop, "muted"), _report_state(report, moments)]


def _report_state(report: dict[str, Any], moments: Moments) -> Cell:
    state = report["state"]
    if state == "running":
        return Cell(f"{format_duration(moments.left(report['due']))} left")
    if state == "overdue":
        late = format_duration(-moments.left(report["due"]))
        return Cell(f"OVERDUE {late}", "danger", "bold")
    if state == "sent":
        return Cell(f"sent {moments.when(report['sent_at'])}", "status_resolved")
    if state == "sent late":
        return Cell(f"sent late {moments.when(report['sent_at'])}", "warning")
    return Cell("waiting", "muted")


def duration_rows(durations: dict[str, Any]) -> list[list[Cell]]:
    rows = []
    for key, name in DURATION_NAMES.items():
        value = durations.get(key)
        if value is None:
            rows.append([Cell(name, "muted"), Cell(DASH, "muted"), Cell("")])
            continue
        shown = format_duration(timedelta(seconds=value["seconds"]))
        running = Cell(RUNNING, "accent") if value["running"] else Cell("")
        rows.append([Cell(name), Cell(shown, "text", "bold"), running])
    return rows
