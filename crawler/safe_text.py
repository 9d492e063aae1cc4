"""The one sanitiser for hostile text on its way to a reader.

Titles, article text, URLs, error messages and everything else taken from a crawled page or a
remote server may carry control characters (ESC sequences that rewrite a terminal, BEL) and
bidi overrides that reorder what a reader sees. Every terminal output and every digest passes
such text through `printable` (or `printable_line`), so there is one list of unsafe characters to keep right.
"""

from __future__ import annotations

import json
import re

# C0 and C1 controls except tab and newline, bidi embeddings, overrides, isolates and marks,
# and what terminals and XML cannot carry (lone surrogates, U+FFFE, U+FFFF).
UNSAFE_CHARACTERS = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]"
)
REPLACEMENT = "\ufffd"
_WHITESPACE_RUN = re.compile(r"\s+")


def printable(text: str | None, limit: int | None = None) -> str:
    """`text` with every unsafe character replaced by U+FFFD, cut to `limit` characters ("…")."""
    text = UNSAFE_CHARACTERS.sub(REPLACEMENT, text or "")
    return text if limit is None or len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def printable_json(value: object) -> str:
    """`value` as indented JSON whose unsafe characters are written as \\uXXXX escapes: the same
    data for a program, nothing that drives the terminal it may be printed on."""
    text = json.dumps(value, ensure_ascii=False, indent=2)
    return UNSAFE_CHARACTERS.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def printable_line(text: str | None, limit: int) -> str:
    """`printable` on one line: every run of whitespace, newlines included, becomes one space."""
    return printable(_WHITESPACE_RUN.sub(" ", text or "").strip(), limit)
