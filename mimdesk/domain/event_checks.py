"""What another seat's event must look like before it is merged.

A seat only merges events whose payload has the shape the folds read: an event
refused here is refused for what it is, the same on every seat whatever else
arrived with it, so seats holding the same events show the same state. Kinds
this version does not know are taken (a newer seat's) and change nothing but
the stamps when folded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from mimdesk.domain import events as ev
from mimdesk.domain.lifecycle import Status
from mimdesk.domain.severity import LEVELS

MAX_TEXT = 20_000
_STATUSES = frozenset(s.value for s in Status)


def _text(p: Mapping[str, Any], key: str, *, empty: bool = False) -> str:
    value = p.get(key)
    if not isinstance(value, str) or (not empty and not value.strip()):
        return f"{key} is not a text"
    if len(value) > MAX_TEXT:
        return f"{key} is longer than {MAX_TEXT} characters"
    return ""


def _optional_text(p: Mapping[str, Any], key: str) -> str:
    return "" if p.get(key) is None else _text(p, key, empty=True)


def _level(p: Mapping[str, Any], key: str) -> str:
    value = p.get(key)
    if isinstance(value, bool) or value not in LEVELS:
        return f"{key} is not a severity (1 to 4)"
    return ""


def _status(p: Mapping[str, Any], key: str) -> str:
    return "" if p.get(key) in _STATUSES else f"{key} is not a status"


def _flag(p: Mapping[str, Any], key: str, *, optional: bool = True) -> str:
    if key not in p and optional:
        return ""
    return "" if isinstance(p.get(key), bool) else f"{key} is not true or false"


def _texts(p: Mapping[str, Any], key: str) -> str:
    value = p.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return f"{key} is not a list of texts"
    return ""


def _created(p: Mapping[str, Any]) -> str:
    return (
        _text(p, "title") or _level(p, "severity") or _texts(p, "services")
        or _flag(p, "demo") or _flag(p, "exercise")
    )  # fmt: skip


def _status_changed(p: Mapping[str, Any]) -> str:
    skipped = p.get("skipped")
    if not isinstance(skipped, list) or not all(s in _STATUSES for s in skipped):
        return "skipped is not a list of statuses"
    return (
        _status(p, "from") or _status(p, "to")
        or _flag(p, "reopened", optional=False) or _flag(p, "undo")
    )  # fmt: skip


def _roster(p: Mapping[str, Any]) -> str:
    return _text(p, "person") or _optional_text(p, "role")


CHECKS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    ev.INCIDENT_CREATED: _created,
    ev.STATUS_CHANGED: _status_changed,
    ev.NOTE_ADDED: lambda p: _text(p, "text"),
    ev.SEVERITY_CHANGED: lambda p: _level(p, "to"),
    ev.TITLE_CHANGED: lambda p: _text(p, "to"),
    ev.REPORT_SENT: lambda p: _text(p, "report"),
    ev.BRIDGE_SET: lambda p: _optional_text(p, "url") or _optional_text(p, "dial_in"),
    ev.MILESTONE_CORRECTED: lambda p: _status(p, "status"),
    ev.ROSTER_REQUESTED: _roster,
    ev.ROSTER_ACKNOWLEDGED: _roster,
    ev.ROSTER_JOINED: _roster,
    ev.ROSTER_LEFT: _roster,
    ev.ROSTER_ROLE_ASSIGNED: lambda p: _text(p, "person") or _text(p, "role"),
}


def payload_problem(event: ev.JournalEvent) -> str:
    """What is wrong with the event's payload for its kind ('' when nothing)."""
    check = CHECKS.get(event.kind)
    if check is None:
        return ""
    try:
        return check(event.payload)
    except (TypeError, ValueError) as exc:  # an unhashable value, say
        return f"unreadable payload: {exc}"
