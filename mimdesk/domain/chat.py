"""The incident's chat: channels opened, messages posted and read back, pins.

Pure decisions: each command returns the journal event to record; the store
writes it together with the outbox rows it causes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mimdesk.domain import events as ev
from mimdesk.domain.directory import Directory
from mimdesk.domain.errors import DomainError
from mimdesk.domain.incident import Incident
from mimdesk.domain.text import clean_text

PLATFORMS = ("matrix", "slack", "teams")
MAX_POST = 20_000  # characters; platforms split or cut further to their own limits
EMPTY_FALLBACK = "(no details)"


def status_line(incident: Incident) -> str:
    """The one line a channel topic and a fallback text carry."""
    return (
        f"{incident.id} · SEV{incident.severity} · {incident.status.value} · "
        f"{incident.title}"
    )


def channel_title(incident: Incident) -> str:
    return f"{incident.id} {incident.title}"[:120]


def check_platforms(platforms: Sequence[str]) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(p.strip().lower() for p in platforms if p.strip()))
    unknown = [p for p in chosen if p not in PLATFORMS]
    if unknown:
        raise DomainError(
            f"unknown chat platform {unknown[0]!r}; use one of {', '.join(PLATFORMS)}"
        )
    if not chosen:
        raise DomainError("no chat platform is configured for this")
    return chosen


def chat_handle(handles: Mapping[str, str], platform: str) -> str | None:
    """The person's user id on `platform`: its own handle, else a 'chat' handle
    that has that platform's shape (@user:server for Matrix, U… for Slack)."""
    own = handles.get(platform)
    if own:
        return own
    generic = handles.get("chat", "")
    if platform == "matrix" and generic.startswith("@") and ":" in generic:
        return generic
    if platform == "slack" and generic[:1] in ("U", "W") and generic.isalnum():
        return generic
    return None


@dataclass(frozen=True)
class Invite:
    person: str
    user: str


def invites_for(
    people: Iterable[str], directory: Directory, platform: str
) -> tuple[list[Invite], list[str]]:
    """Invites for the people who have a handle on `platform`, and who has none."""
    found: list[Invite] = []
    missing: list[str] = []
    for person_id in people:
        person = directory.get(person_id)
        handle = chat_handle(person.handles, platform) if person else None
        if handle:
            found.append(Invite(person_id, handle))
        else:
            missing.append(person_id)
    return found, missing


def check_open(incident: Incident) -> None:
    if not incident.is_open:
        raise DomainError(
            f"{incident.id} is {incident.status.value}; reopen it to use its chat"
        )


def open_channel(
    incident: Incident,
    platforms: Sequence[str],
    invites: Mapping[str, Sequence[Invite]],
    *,
    now: datetime,
    actor: str,
    already: Iterable[str] = (),
) -> ev.NewEvent:
    """Open the incident's channel on each platform (those not opened before)."""
    check_open(incident)
    chosen = [p for p in check_platforms(platforms) if p not in set(already)]
    if not chosen:
        raise DomainError(f"{incident.id} already has its chat channel")
    payload: dict[str, Any] = {
        "platforms": chosen,
        "title": channel_title(incident),
        "topic": status_line(incident),
        "invites": {
            p: [{"person": i.person, "user": i.user} for i in invites.get(p, ())]
            for p in chosen
        },
    }
    return ev.NewEvent(ev.CHAT_OPENED, payload, now, actor)


def post(
    incident: Incident,
    text: str,
    platforms: Sequence[str],
    *,
    now: datetime,
    actor: str,
) -> ev.NewEvent:
    """A message to the incident's channels. Empty text is refused here, so no
    platform ever gets a message with nothing to show."""
    check_open(incident)
    body = clean_text(text).strip()
    if not body:
        raise DomainError("the message is empty")
    if len(body) > MAX_POST:
        raise DomainError(
            f"the message is {len(body):,} characters; at most {MAX_POST:,} can be "
            "posted (put the rest in a note)"
        )
    chosen = list(check_platforms(platforms))
    payload = {"text": body, "platforms": chosen}
    return ev.NewEvent(ev.CHAT_POSTED, payload, now, actor)


def received(
    *,
    platform: str,
    remote_id: str,
    author: str,
    author_name: str,
    text: str,
    at: datetime,
) -> ev.NewEvent:
    """A human message read back from the channel, dated when it was said."""
    payload = {
        "platform": platform,
        "remote_id": remote_id,
        "author": author,
        "text": clean_text(text)[:MAX_POST],
    }
    return ev.NewEvent(ev.CHAT_RECEIVED, payload, at, author_name or author)


def membership(
    *, platform: str, remote_id: str, user: str, state: str, at: datetime
) -> ev.NewEvent:
    """Someone without a directory entry joined or left the channel."""
    payload = {
        "platform": platform,
        "remote_id": remote_id,
        "user": user,
        "state": state,
    }
    return ev.NewEvent(ev.CHAT_MEMBERSHIP, payload, at, user)


def pin(
    incident: Incident,
    message: ev.JournalEvent,
    *,
    now: datetime,
    actor: str,
    unpin: bool = False,
) -> ev.NewEvent:
    """Mark a message read from chat (or posted to it) as a key timeline entry."""
    if message.kind not in (ev.CHAT_RECEIVED, ev.CHAT_POSTED):
        raise DomainError("only chat messages can be pinned")
    if message.incident_id != incident.id:
        raise DomainError(f"that message belongs to {message.incident_id}")
    payload = {
        "event": message.id,
        "text": str(message.payload.get("text", ""))[:500],
        "said_by": message.actor,
        "unpin": unpin,
    }
    return ev.NewEvent(ev.CHAT_PINNED, payload, now, actor)


def pinned(events: Iterable[ev.JournalEvent]) -> set[str]:
    """Ids of the messages pinned now (a later unpin removes a pin)."""
    state: set[str] = set()
    for event in events:
        if event.kind == ev.CHAT_PINNED:
            target = str(event.payload["event"])
            if event.payload.get("unpin"):
                state.discard(target)
            else:
                state.add(target)
    return state


def describe(event: ev.JournalEvent) -> str | None:
    p = event.payload
    if event.kind == ev.CHAT_OPENED:
        people = sum(len(v) for v in p.get("invites", {}).values())
        return f"chat channel opened on {', '.join(p['platforms'])} ({people} invited)"
    if event.kind == ev.CHAT_POSTED:
        return f"posted to {', '.join(p['platforms'])}: {p['text']}"
    if event.kind == ev.CHAT_RECEIVED:
        return f"[{p['platform']}] {p['text']}"
    if event.kind == ev.CHAT_MEMBERSHIP:
        verb = {"join": "joined", "leave": "left", "invite": "was invited to"}.get(
            p["state"], p["state"]
        )
        return f"{p['user']} {verb} the {p['platform']} channel"
    if event.kind == ev.CHAT_PINNED:
        verb = "unpinned" if p.get("unpin") else "pinned"
        return f"{verb}: {p['said_by']}: {p['text']}"
    if event.kind == ev.OUTBOX_CHANGED:
        return f"outbox #{p['item']} {p['action']}: {p['what']}"
    return None
