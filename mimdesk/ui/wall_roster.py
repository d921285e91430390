"""The bridge roster as the wall shows it: roles held, roles MISSING, who is awaited."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout

from mimdesk.domain.errors import DomainError
from mimdesk.domain.roster import RolePolicy
from mimdesk.domain.times import format_ago, parse_utc
from mimdesk.ui.clock_panel import Cell, CellGrid, paint
from mimdesk.ui.theme import Theme

MAX_ROLE_ROWS = 7
MAX_WAITING_ROWS = 4
WAITING = ("requested", "acknowledged")


def role_label(policy: RolePolicy, role: str) -> str:
    """The role's name, or its id when the roles file no longer has it."""
    try:
        return policy.role(role).label
    except DomainError:
        return role


def missing_cell(data: dict[str, Any], policy: RolePolicy) -> Cell:
    """The line read first: which required roles nobody on the bridge holds."""
    if data["missing"]:
        labels = ", ".join(role_label(policy, r) for r in data["missing"])
        return Cell(f"MISSING: {labels}", "danger")
    if data["required"]:
        return Cell("\u2713 All required roles on the bridge", "status_resolved")
    return Cell("No roles required at this severity", "muted")


def role_rows(data: dict[str, Any], policy: RolePolicy) -> list[list[Cell]]:
    """Required roles first (MISSING where unfilled), then other roles held."""
    people = {p["id"]: p for p in data["people"]}
    required = list(data["required"])
    roles = [*required, *(r for r in data["roles"] if r not in required)]
    rows = []
    for role in roles:
        label = role_label(policy, role)
        if role in data["missing"]:
            rows.append(
                [
                    Cell(label, "danger", "bold"),
                    Cell("MISSING", "danger", "badge"),
                    Cell(""),
                ]
            )
        for holder in data["roles"].get(role, []):
            rows.append(_holder_row(label, holder, people.get(holder["person"])))
    return rows


def _holder_row(
    label: str, holder: dict[str, Any], person: dict[str, Any] | None
) -> list[Cell]:
    name = person["name"] if person else holder["person"]
    local = (person or {}).get("local_time") or ""
    if holder["on_bridge"]:
        return [Cell(label), Cell(name, "text", "bold"), Cell(local)]
    return [
        Cell(label, "muted"),
        Cell(f"{name} (not on the bridge)", "muted"),
        Cell(""),
    ]


def waiting_rows(data: dict[str, Any], now: datetime) -> list[list[Cell]]:
    """People asked to join who have not, and how long ago they were asked."""
    rows = []
    for person in data["people"]:
        if person["presence"] not in WAITING or not person["requested_at"]:
            continue
        waited = format_ago(now - parse_utc(person["requested_at"]))
        rows.append(
            [
                Cell(person["name"]),
                Cell(f"{person['presence']} {waited} ago", "warning", "bold"),
                Cell(person["local_time"] or ""),
            ]
        )
    return rows


def on_bridge_without_role(data: dict[str, Any]) -> int:
    """People on the bridge who hold no role now (they have no row of their own)."""
    holders = {h["person"] for held in data["roles"].values() for h in held}
    return sum(
        1
        for p in data["people"]
        if p["presence"] == "joined" and p["id"] not in holders
    )


def capped(rows: list[list[Cell]], limit: int) -> list[list[Cell]]:
    """At most `limit` rows, the last saying how many more there are."""
    if len(rows) <= limit:
        return rows
    more = len(rows) - limit + 1
    return [
        *rows[: limit - 1],
        [Cell(""), Cell(f"\u2026 and {more} more", "muted"), Cell("")],
    ]


class WallRoster(QFrame):
    """Renders `mimdesk.report.roster_json` for the wall; holds no data."""

    def __init__(self, theme: Theme, policy: RolePolicy) -> None:
        super().__init__()
        self.setObjectName("BridgeRoster")
        self.setAccessibleName("Bridge roster")
        self.theme, self.policy = theme, policy
        self.missing = QLabel()
        self.missing.setObjectName("WallMissing")
        self.missing.setWordWrap(True)
        self.roles = CellGrid(("WallCell", "WallCell", "WallCount"), wrap=(0, 1))
        self.waiting_title = _section("REQUESTED, NOT YET JOINED")
        self.waiting = CellGrid(("WallCell", "WallCell", "WallCount"), wrap=(0,))
        self.others = QLabel()
        self.others.setObjectName("WallMuted")
        self.layout_ = QVBoxLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        for widget in (
            _section("BRIDGE ROSTER"),
            self.missing,
            self.roles,
            self.others,
            self.waiting_title,
            self.waiting,
        ):
            self.layout_.addWidget(widget)
        self.layout_.addStretch(1)

    def set_scale(self, scale: float) -> None:
        self.layout_.setSpacing(round(8 * scale))
        for grid in (self.roles, self.waiting):
            grid.set_scale(scale)

    def show_roster(self, data: dict[str, Any], now: datetime) -> None:
        t = self.theme
        paint(self.missing, missing_cell(data, self.policy), t)
        self.roles.show_rows(capped(role_rows(data, self.policy), MAX_ROLE_ROWS), t)
        waiting = waiting_rows(data, now)
        self.waiting_title.setVisible(bool(waiting))
        self.waiting.setVisible(bool(waiting))
        self.waiting.show_rows(capped(waiting, MAX_WAITING_ROWS), t)
        others = on_bridge_without_role(data)
        self.others.setVisible(bool(others))
        paint(self.others, Cell(f"+ {others} more on the bridge, no role", "muted"), t)


def _section(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("WallSection")
    return label
