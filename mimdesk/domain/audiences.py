"""Audiences of stakeholder updates: who is told, and through what.

Read from a TOML file the operator owns (`audiences = "file"` in the settings;
a DEMO sample ships in resources/audiences/). Each audience has an id, a name,
and any of: email addresses, the incident's own chat channel on some platforms,
channels of its own (an executives' room, a service-desk channel), print.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mimdesk.domain.chat import PLATFORMS
from mimdesk.domain.errors import DomainError
from mimdesk.domain.toml_lines import key_line

UPDATE_TYPES = ("initial", "update", "mitigated", "resolved")
KEYS = frozenset({"id", "name", "email", "chat", "channels", "print", "types"})
TOP_KEYS = frozenset({"audience", "approval", "templates"})
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
# One address, with nothing that could start another header or recipient.
EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")


class AudienceError(DomainError):
    """A mistake in the audiences file; `number` is the audience's place in
    the file (from 1) and `key` the key at fault, to find the line."""

    def __init__(self, text: str, number: int = 0, key: str = "") -> None:
        super().__init__(text)
        self.number = number
        self.key = key


@dataclass(frozen=True)
class Audience:
    id: str
    name: str
    email: tuple[str, ...] = ()
    # Platforms whose incident channel this audience reads (the bridge).
    chat: tuple[str, ...] = ()
    # Channels of its own, by platform: {"slack": "C0123", "matrix": "!room"}.
    channels: Mapping[str, str] = field(default_factory=dict)
    print: bool = False
    # Update types it receives by default; all when empty.
    types: tuple[str, ...] = ()

    def routes(self) -> list[str]:
        """Where it is reached, for lists: 'email (2)', 'matrix', 'slack #C01'."""
        out = [f"email ({len(self.email)})"] if self.email else []
        out += list(self.chat)
        out += [f"{p} {c}" for p, c in self.channels.items()]
        return out + (["print"] if self.print else [])

    def wants(self, update_type: str) -> bool:
        return not self.types or update_type in self.types


@dataclass(frozen=True)
class Audiences:
    audiences: tuple[Audience, ...] = ()
    # Updates are drafted, then approved by someone else, before they go out.
    approval: bool = False
    templates: str | None = None  # a folder of the operator's templates

    def get(self, audience_id: str) -> Audience:
        for audience in self.audiences:
            if audience.id == audience_id:
                return audience
        known = ", ".join(a.id for a in self.audiences) or "none configured"
        raise DomainError(f"no audience {audience_id!r} (known: {known})")

    def default_for(self, update_type: str) -> list[Audience]:
        return [a for a in self.audiences if a.wants(update_type)]


def audiences_from_mapping(data: Mapping[str, Any]) -> Audiences:
    unknown = [k for k in data if k not in TOP_KEYS]
    if unknown:
        raise AudienceError(
            f"unknown key {unknown[0]!r} (use {', '.join(sorted(TOP_KEYS))})",
            key=unknown[0],
        )
    approval = data.get("approval", False)
    if not isinstance(approval, bool):
        raise AudienceError("approval must be true or false", key="approval")
    templates = data.get("templates")
    if templates is not None and not (isinstance(templates, str) and templates):
        raise AudienceError("templates must be a folder path", key="templates")
    raw = data.get("audience", [])
    if not isinstance(raw, list):
        raise AudienceError("audiences are [[audience]] tables", key="audience")
    found: list[Audience] = []
    for number, table in enumerate(raw, start=1):
        audience = _audience(table, number)
        if any(a.id == audience.id for a in found):
            raise AudienceError(f"audience {audience.id!r} twice", number, "id")
        found.append(audience)
    return Audiences(tuple(found), approval, templates)


def _audience(table: object, number: int) -> Audience:
    def fail(text: str, key: str = "") -> AudienceError:
        return AudienceError(text, number, key)

    if not isinstance(table, dict):
        raise fail("an audience must be a [[audience]] table")
    unknown = [k for k in table if k not in KEYS]
    if unknown:
        raise fail(
            f"unknown key {unknown[0]!r} (use {', '.join(sorted(KEYS))})", unknown[0]
        )
    audience_id = table.get("id")
    if not isinstance(audience_id, str) or not _ID.match(audience_id):
        raise fail("id must be a short lower-case name like 'executives'", "id")
    name = table.get("name", audience_id)
    if not isinstance(name, str) or not name.strip():
        raise fail("name must be text", "name")
    email = _texts(table.get("email", []), "email", fail)
    bad = [e for e in email if not EMAIL.match(e)]
    if bad:
        raise fail(f"{bad[0]!r} is not an email address", "email")
    chat = _texts(table.get("chat", []), "chat", fail)
    wrong = [p for p in chat if p not in PLATFORMS]
    if wrong:
        raise fail(f"chat: unknown platform {wrong[0]!r} ({', '.join(PLATFORMS)})")
    channels = table.get("channels", {})
    if not isinstance(channels, dict) or not all(
        p in PLATFORMS and isinstance(c, str) and c.strip() for p, c in channels.items()
    ):
        raise fail(
            'channels must map a platform to a channel id, like { slack = "C0123ABC" }',
            "channels",
        )
    printed = table.get("print", False)
    if not isinstance(printed, bool):
        raise fail("print must be true or false", "print")
    types = _texts(table.get("types", []), "types", fail)
    if any(t not in UPDATE_TYPES for t in types):
        raise fail(f"types are among {', '.join(UPDATE_TYPES)}", "types")
    if not (email or chat or channels or printed):
        raise fail(f"audience {audience_id!r} has no email, chat, channels or print")
    return Audience(
        audience_id, name.strip(), email, chat,
        {p: c.strip() for p, c in channels.items()}, printed, types,
    )  # fmt: skip


def _texts(value: object, key: str, fail: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(
        isinstance(v, str) and v.strip() for v in value
    ):
        raise fail(f"{key} must be a list of text", key)
    return tuple(dict.fromkeys(v.strip() for v in value))


def locate(text: str, error: AudienceError) -> int | None:
    """The line (from 1) an error is about: the key in its audience table, or
    the table's header, or a top-level key."""
    return key_line(text, "audience", error.number, error.key)
