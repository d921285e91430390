"""The service catalogue as the incident model needs it: ids, names, owners, tiers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mimdesk.domain.errors import DomainError


@dataclass(frozen=True)
class Service:
    """A technical service incidents can name."""

    id: str
    name: str
    owner: str = ""
    tier: int = 3


@dataclass(frozen=True)
class Catalogue:
    """Services by id, in the order the file lists them."""

    services: tuple[Service, ...] = ()

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(s.id for s in self.services)

    def get(self, service_id: str) -> Service | None:
        return next((s for s in self.services if s.id == service_id), None)


def catalogue_from_mapping(data: Mapping[str, Any]) -> Catalogue:
    """Build a catalogue from parsed TOML (`[[service]]` tables)."""
    entries = data.get("service", [])
    if not isinstance(entries, list):
        raise DomainError("'service' must be a list of [[service]] tables")
    services: list[Service] = []
    for number, entry in enumerate(entries, start=1):
        where = f"service #{number}"
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            raise DomainError(f"{where}: needs an 'id' string")
        sid = entry["id"].strip()
        if not sid or any(c.isspace() for c in sid):
            raise DomainError(f"{where}: id {sid!r} must be one word")
        if any(s.id == sid for s in services):
            raise DomainError(f"{where}: id {sid!r} is used twice")
        tier = entry.get("tier", 3)
        if not isinstance(tier, int) or not 1 <= tier <= 4:
            raise DomainError(f"{where} ({sid}): tier must be 1 to 4")
        name = str(entry.get("name", sid))
        services.append(Service(sid, name, str(entry.get("owner", "")), tier))
    return Catalogue(tuple(services))
