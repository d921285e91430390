"""Cleaning text people type or paste, so it cannot disguise itself when shown.

Terminal escape sequences, other control characters and bidirectional overrides
(which make 'gnp.exe' display as 'exe.png') are removed; line breaks are kept
and normalised to '\\n', tabs kept.
"""

from __future__ import annotations

import unicodedata

_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_KEEP = frozenset("\n\t")


def clean_text(text: str) -> str:
    """`text` without control characters (but newline and tab) or bidi overrides."""
    unified = text.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(
        char
        for char in unified
        if char in _KEEP
        or (unicodedata.category(char) != "Cc" and char not in _BIDI_CONTROLS)
    )
