"""Incident severities: 1 is the most severe, 4 the least; names are configurable."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from mimdesk.domain.errors import DomainError

LEVELS = (1, 2, 3, 4)

DEFAULT_NAMES: Mapping[int, str] = {
    1: "SEV1 Critical",
    2: "SEV2 Major",
    3: "SEV3 Moderate",
    4: "SEV4 Minor",
}


def check_level(level: int) -> int:
    """Return `level` if it is a known severity, else raise DomainError."""
    if isinstance(level, bool) or level not in LEVELS:
        raise DomainError(
            f"severity must be 1, 2, 3 or 4 (1 is the most severe), not {level!r}"
        )
    return level


@dataclass(frozen=True)
class SeverityScale:
    """Display names for the four severities."""

    names: Mapping[int, str] = field(default_factory=lambda: dict(DEFAULT_NAMES))

    def name(self, level: int) -> str:
        return self.names.get(level, f"SEV{level}")

    def short(self, level: int) -> str:
        return f"SEV{level}"
