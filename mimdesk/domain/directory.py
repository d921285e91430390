"""People who can be mobilised, kept locally so mobilisation works offline."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mimdesk.domain.errors import DomainError
from mimdesk.domain.times import format_clock


@dataclass(frozen=True)
class Person:
    """Someone in the directory, with how to reach them and their time zone."""

    id: str
    name: str
    teams: tuple[str, ...] = ()
    handles: Mapping[str, str] = field(default_factory=dict)
    timezone: str | None = None

    def local_time(self, now: datetime) -> str | None:
        """'09:14 EST': the time where they are, if their zone is known."""
        if not self.timezone:
            return None
        try:
            return format_clock(now, ZoneInfo(self.timezone))
        except (ZoneInfoNotFoundError, ValueError):
            return None


@dataclass(frozen=True)
class Directory:
    """People by id, in the order the file lists them."""

    people: tuple[Person, ...] = ()

    def get(self, person_id: str) -> Person | None:
        return next((p for p in self.people if p.id == person_id), None)

    def name(self, person_id: str) -> str:
        person = self.get(person_id)
        return person.name if person else person_id


HANDLES = ("email", "chat", "phone", "matrix", "slack")


def _text(entry: Mapping[str, Any], key: str, where: str) -> str | None:
    value = entry.get(key)  # a short CSV row gives None for missing columns
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise DomainError(f"{where}: {key} must be text, not {value!r}")
    return value.strip() or None


def person_from_mapping(entry: Mapping[str, Any], where: str) -> Person:
    person_id = _text(entry, "id", where) or ""
    if not person_id or any(c.isspace() for c in person_id):
        raise DomainError(f"{where}: needs an 'id' of one word")
    teams = entry.get("teams") or ()
    if isinstance(teams, str):
        teams = [t.strip() for t in teams.split(";") if t.strip()]
    if not isinstance(teams, list | tuple) or not all(
        isinstance(t, str) for t in teams
    ):
        raise DomainError(f"{where}: teams must be a list of names")
    handles = {k: v for k in HANDLES if (v := _text(entry, k, where))}
    zone = _text(entry, "timezone", where)
    name = _text(entry, "name", where) or person_id
    return Person(person_id, name, tuple(str(t) for t in teams), handles, zone)


def directory_from_entries(entries: Sequence[Mapping[str, Any]]) -> Directory:
    """Build a directory; an id used twice is an error naming both entries."""
    people: list[Person] = []
    for number, entry in enumerate(entries, start=1):
        person = person_from_mapping(entry, f"person #{number}")
        if any(p.id == person.id for p in people):
            raise DomainError(f"person #{number}: id {person.id!r} is used twice")
        people.append(person)
    return Directory(tuple(people))
