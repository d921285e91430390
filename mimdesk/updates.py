"""Stakeholder updates: each audience's text, rendered from a template.

Templates are Jinja2, rendered in a sandbox (see mimdesk.templating): a
template sees plain values (text, numbers, lists, dicts) and nothing of
Python's internals, and one that tries to loop or allocate without bound is
stopped with a message instead of hanging the console. A template's first
line is `Subject: ...`; the rest is the body. Lookup order, first found wins:
the operator's folder, then the bundled one (resources/templates/updates); in
each, `<audience>.<type>.txt`, then `<type>.txt`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

from mimdesk.domain.audiences import UPDATE_TYPES, Audience
from mimdesk.domain.errors import DomainError
from mimdesk.domain.incident import Incident
from mimdesk.domain.lifecycle import Status
from mimdesk.domain.severity import SeverityScale
from mimdesk.domain.times import format_duration, format_instant, parse_utc
from mimdesk.resources import resource

# Every key a template may test, present even when nothing is known, so that
# `{% if impact.customers_affected %}` works and a misspelt name still fails.
NO_IMPACT: Mapping[str, Any] = {
    "impacted": False,
    "business_services": [],
    "business_services_text": "",
    "customers_affected": None,
    "customers_affected_text": "",
    "customers_unknown": False,
    "revenue_per_hour": None,
    "revenue_per_hour_text": "",
    "running_cost": None,
    "running_cost_text": "",
    "since": None,
    "note": "",
}


class TemplateProblem(DomainError):
    """A template that cannot be rendered, and why, for the operator."""


def update_type_for(incident: Incident) -> str:
    """The update type an incident's status suggests."""
    if incident.status in (Status.RESOLVED, Status.CLOSED):
        return "resolved"
    if incident.status is Status.MITIGATED:
        return "mitigated"
    return "update" if incident.update_count else "initial"


# --- templates and what they see -------------------------------------------------


@dataclass(frozen=True)
class Rendered:
    """What one audience receives."""

    audience: Audience
    subject: str
    body: str

    def copy(self) -> dict[str, str]:
        """As the update event records it."""
        return {"audience": self.audience.id, "name": self.audience.name,
                "subject": self.subject, "body": self.body}  # fmt: skip

    @property
    def chat_text(self) -> str:
        return f"{self.subject}\n\n{self.body}" if self.body else self.subject


def find_template(
    audience: str, update_type: str, folders: Sequence[Path]
) -> tuple[Path, str]:
    if update_type not in UPDATE_TYPES:
        raise DomainError(
            f"unknown update type {update_type!r} (use {', '.join(UPDATE_TYPES)})"
        )
    for folder in [*folders, resource("templates", "updates")]:
        for name in (f"{audience}.{update_type}.txt", f"{update_type}.txt"):
            path = folder / name
            if path.is_file():
                try:
                    return path, path.read_text(encoding="utf-8")
                except (OSError, UnicodeDecodeError) as exc:
                    raise TemplateProblem(f"{path}: cannot read: {exc}") from None
    raise TemplateProblem(f"no template for {update_type} updates")


def context_for(
    incident: Incident,
    *,
    update_type: str,
    message: str,
    now: datetime,
    zone: tzinfo,
    severity: SeverityScale,
    next_update_in: timedelta | None,
    impact: Mapping[str, Any] | None,
    operator: str,
) -> dict[str, Any]:
    """Plain values only: nothing a template could use to reach further."""

    def when(at: datetime | None) -> str | None:
        return format_instant(at, zone, seconds=False) if at else None

    milestones = {
        s.value: when(m.at) if (m := incident.milestones.get(s)) else None
        for s in Status
    }
    started = incident.impact_started_at or incident.detected_at
    next_at = now + next_update_in if next_update_in else None
    return {
        "incident": {
            "id": incident.id,
            "title": incident.title,
            "severity": incident.severity,
            "severity_name": severity.name(incident.severity),
            "status": incident.status.value,
            "services": list(incident.services),
            "detected": when(incident.detected_at),
            "impact_started": when(incident.impact_started_at),
            "duration": format_duration(now - started),
            "bridge": incident.bridge_url or "",
            "demo": incident.demo,
        },
        "milestones": milestones,
        "impact": _impact(impact, when),
        "update_type": update_type,
        "message": message.strip(),
        "now": when(now),
        "next_update": when(next_at) if next_at else None,
        "operator": operator,
    }


def _impact(
    impact: Mapping[str, Any] | None, when: Callable[[datetime | None], str | None]
) -> dict[str, Any]:
    """The impact summary with its times shown in the display zone."""

    def shown(value: object) -> object:
        return when(parse_utc(value)) if isinstance(value, str) and value else value

    found = {**NO_IMPACT, **(impact or {})}
    found["since"] = shown(found.get("since"))
    found["business_services"] = [
        {**b, "since": shown(b.get("since"))} for b in found["business_services"]
    ]
    return found


def render_update(
    audience: Audience,
    update_type: str,
    context: Mapping[str, Any],
    folders: Sequence[Path] = (),
) -> Rendered:
    path, source = find_template(audience.id, update_type, folders)
    seen = {**context, "audience": {"id": audience.id, "name": audience.name}}
    from mimdesk.templating import render_text  # Jinja2, only when rendering

    text = render_text(source, seen, name=path.name).strip()
    first, _, rest = text.partition("\n")
    if not first.lower().startswith("subject:"):
        raise TemplateProblem(f"{path.name}: the first line must be 'Subject: ...'")
    subject = " ".join(first.split(":", 1)[1].split())
    if not subject:
        raise TemplateProblem(f"{path.name}: the subject is empty")
    return Rendered(audience, subject[:200], rest.strip())


def render_all(
    audiences: Sequence[Audience],
    update_type: str,
    context: Mapping[str, Any],
    folders: Sequence[Path] = (),
) -> list[Rendered]:
    return [render_update(a, update_type, context, folders) for a in audiences]


def deliveries(rendered: Sequence[Rendered]) -> list[dict[str, Any]]:
    """Where each audience's copy goes: the outbox rows the send will write."""
    out: list[dict[str, Any]] = []
    for r in rendered:
        a = r.audience
        if a.email:
            out.append({"audience": a.id, "platform": "email", "to": list(a.email),
                        "subject": r.subject, "text": r.body or r.subject})  # fmt: skip
        out += [{"audience": a.id, "platform": p, "text": r.chat_text} for p in a.chat]
        out += [
            {"audience": a.id, "platform": p, "channel": c, "text": r.chat_text}
            for p, c in a.channels.items()
        ]
    return out


HOW_TO_SET_UP = {
    "email": "[smtp] host and from",
    "matrix": "[matrix] url and a token",
    "slack": "a Slack token or webhook",
    "teams": "a Teams webhook",
}


def not_set_up(planned: Sequence[Mapping[str, Any]], set_up: Collection[str]) -> str:
    """Why some copies could not go out from this seat ('' when all can): an
    update is not recorded as sent while a copy has nowhere to go."""
    missing: dict[str, list[str]] = {}
    for d in planned:
        if d["platform"] not in set_up:
            missing.setdefault(str(d["platform"]), []).append(str(d["audience"]))
    return "; ".join(
        f"{platform} is not set up ({HOW_TO_SET_UP.get(platform, 'see the README')}),"
        f" so {', '.join(dict.fromkeys(who))} cannot be told"
        for platform, who in missing.items()
    )


Renderer = Callable[[Audience], Rendered]
