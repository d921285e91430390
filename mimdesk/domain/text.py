"""Cleaning text people type or paste, so it cannot disguise itself when shown.

Terminal escape sequences, other control characters and bidirectional overrides
(which make 'gnp.exe' display as 'exe.png') are removed; line breaks are kept
and normalised to '\\n', tabs kept.
"""

from __future__ import annotations

import re

# Unicode category Cc (U+0000-001F, U+007F-009F) but tab and newline, and the
# bidi embedding, override and isolate controls.
_UNWANTED = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def clean_text(text: str) -> str:
    """`text` without control characters (but newline and tab) or bidi overrides."""
    unified = text.replace("\r\n", "\n").replace("\r", "\n")
    return _UNWANTED.sub("", unified)
