"""The incident lifecycle: ordered statuses, each reached at a milestone time."""

from __future__ import annotations

from enum import StrEnum

from mimdesk.domain.errors import DomainError


class Status(StrEnum):
    """Statuses in lifecycle order; reaching one records its milestone."""

    DETECTED = "detected"
    DECLARED = "declared"
    MOBILISED = "mobilised"
    MITIGATED = "mitigated"
    RESOLVED = "resolved"
    CLOSED = "closed"

    @property
    def rank(self) -> int:
        return ORDER.index(self)

    @property
    def label(self) -> str:
        return self.value.capitalize()


ORDER: tuple[Status, ...] = tuple(Status)
OPEN_STATUSES = frozenset(
    {Status.DETECTED, Status.DECLARED, Status.MOBILISED, Status.MITIGATED}
)


def parse_status(text: str) -> Status:
    """Read a status name typed by a person (case-insensitive, 'mobilized' too)."""
    key = text.strip().lower().replace("mobilized", "mobilised")
    try:
        return Status(key)
    except ValueError:
        names = ", ".join(s.value for s in ORDER)
        raise DomainError(f"unknown status {text!r}; use one of: {names}") from None


def skipped_between(current: Status, target: Status) -> tuple[Status, ...]:
    """Statuses passed over when moving forward from `current` to `target`."""
    return ORDER[current.rank + 1 : target.rank]


def later_than(status: Status) -> tuple[Status, ...]:
    """Statuses after `status` in lifecycle order."""
    return ORDER[status.rank + 1 :]
