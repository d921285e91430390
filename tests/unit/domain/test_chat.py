"""The chat model: what may be posted, how long text is fitted, who is invited."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mimdesk.connectors.chat import fit_text, split_text, wait_for
from mimdesk.domain import chat
from mimdesk.domain.directory import Directory, Person
from mimdesk.domain.errors import DomainError
from mimdesk.domain.events import seal
from mimdesk.domain.incident import Incident, declare, fold

NOW = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)


def incident() -> Incident:
    drafts = declare(
        title="Card payments failing", severity=1, services=[], detected_at=NOW,
        now=NOW, actor="dana",
    )  # fmt: skip
    events = [
        seal(d, seq=n, event_id=f"e{n}", incident_id="INC-261204-AAAA",
             incident_seq=n, recorded_at=NOW, seat="s", prev_hash="0" * 64)
        for n, d in enumerate(drafts, start=1)
    ]  # fmt: skip
    state = fold(events)
    assert state is not None
    return state


def test_an_empty_or_blank_message_is_refused_before_it_is_queued() -> None:
    state = incident()
    for text in ("", "   ", "\x1b\x07\n\t\u202e"):
        with pytest.raises(DomainError, match="empty"):
            chat.post(state, text, ["slack"], now=NOW, actor="d")


def test_unknown_platforms_are_named() -> None:
    with pytest.raises(DomainError, match="unknown chat platform 'irc'"):
        chat.check_platforms(["matrix", "irc"])


def test_the_topic_is_the_status_line() -> None:
    state = incident()
    assert chat.status_line(state).endswith("SEV1 · declared · Card payments failing")


def test_handles_by_platform_and_by_shape() -> None:
    directory = Directory(
        (
            Person("ana", "Ana", handles={"matrix": "@ana:example.org"}),
            Person("bo", "Bo", handles={"chat": "@bo:example.org"}),
            Person("cy", "Cy", handles={"chat": "U012AB3CD"}),
            Person("di", "Di", handles={"email": "di@example.org"}),
        )
    )
    found, missing = chat.invites_for(
        ["ana", "bo", "cy", "di", "zed"], directory, "matrix"
    )
    assert [(i.person, i.user) for i in found] == [
        ("ana", "@ana:example.org"),
        ("bo", "@bo:example.org"),
    ]
    assert missing == ["cy", "di", "zed"]
    found, _ = chat.invites_for(["cy"], directory, "slack")
    assert [i.user for i in found] == ["U012AB3CD"]


def test_long_text_is_cut_with_a_pointer_back() -> None:
    text = "word " * 100
    cut = fit_text(text, 120, ref="INC-1 outbox #7")
    assert len(cut) <= 120
    assert cut.endswith("[…continued in MIMDesk: INC-1 outbox #7]")
    assert fit_text("short", 120, ref="x") == "short"


def test_split_keeps_lines_and_caps_the_parts() -> None:
    text = "\n".join(f"line {n:02d} xxxxxxxxxxxxxxxxxxxxxx" for n in range(40))
    parts = split_text(text, 200, max_parts=3, ref="r")
    assert len(parts) == 3
    assert all(len(p) <= 200 for p in parts)
    assert parts[0].startswith("line 00")
    assert parts[1].startswith("line ")  # split at a line break
    assert parts[-1].endswith("[…continued in MIMDesk: r]")


def test_the_longest_server_hint_wins_capped() -> None:
    """C21: retry_after_ms 2500 and Retry-After 3 -> wait 3 s, never over 60 s."""
    assert wait_for([2.5, 3.0], jitter=0) == 3.0
    assert wait_for([600.0], jitter=0) == 60.0
    assert 3.0 <= wait_for([2.5, 3.0]) <= 3.3


def test_platform_handles_from_the_directory_file_are_kept() -> None:
    from mimdesk.domain.directory import directory_from_entries

    directory = directory_from_entries(
        [{"id": "ana", "matrix": "@ana:example.org", "slack": "U0ANA"}]
    )
    assert [i.user for i in chat.invites_for(["ana"], directory, "matrix")[0]] == [
        "@ana:example.org"
    ]
    assert [i.user for i in chat.invites_for(["ana"], directory, "slack")[0]] == [
        "U0ANA"
    ]
