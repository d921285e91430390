"""Typed and pasted text is stored so it cannot disguise itself when shown."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mimdesk.domain.incident import add_note, declare
from mimdesk.domain.text import clean_text

from ..recording import Recorder

NOW = datetime(2026, 12, 3, 14, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("\x1b[31mred\x1b[0m alert\x07", "[31mred[0m alert"),
        ("invoice\u202egnp.exe", "invoicegnp.exe"),
        ("line one\r\nline two\rline three", "line one\nline two\nline three"),
        ("col\tumn", "col\tumn"),
        (
            "Zahlungen \u2014 \u652f\u4ed8 \U0001f525",
            "Zahlungen \u2014 \u652f\u4ed8 \U0001f525",
        ),
    ],
)
def test_control_and_bidi_characters_are_removed(typed: str, stored: str) -> None:
    assert clean_text(typed) == stored


def test_a_title_is_one_clean_line() -> None:
    (created, _) = declare(
        title="Payments\n  down\u202e\x1b", severity=1, services=[],
        detected_at=NOW, now=NOW, actor="dana",
    )  # fmt: skip

    assert created.payload["title"] == "Payments down"


def test_a_note_keeps_its_lines_but_not_its_escapes(recorder: Recorder) -> None:
    incident = recorder.record(
        declare(
            title="t", severity=2, services=[], detected_at=NOW, now=NOW, actor="a"
        ),
        NOW,
    )

    (note,) = add_note(incident, "first\r\nsecond\x1b[2J", now=NOW, actor="sam")

    assert note.payload["text"] == "first\nsecond[2J"
