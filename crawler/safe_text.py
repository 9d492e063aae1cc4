"""The one sanitiser for hostile text on its way to a reader.

Titles, article text, URLs, error messages and everything else taken from a crawled page or a
remote server may carry control characters (ESC sequences that rewrite a terminal, BEL) and
bidi overrides that reorder what a reader sees. Every terminal output and every digest passes
such text through `printable` (or `printable_line`), so there is one list of unsafe characters to keep right.
"""

from __future__ import annotations

import re

from crawler.json_text import indented_json

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
    return _cut(text, limit)


def _cut(text: str, limit: int | None) -> str:
    return text if limit is None or len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def printable_json(value: object) -> str:
    """`value` as indented JSON whose unsafe characters are written as \\uXXXX escapes: the same
    data for a program, nothing that drives the terminal it may be printed on."""
    text = indented_json(value)
    return UNSAFE_CHARACTERS.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def printable_line(text: str | None, limit: int) -> str:
    """`printable` on one line: every run of whitespace, newlines included, becomes one space."""
    text = text or ""
    if text.isprintable() and "  " not in text:
        # Nothing to replace (a digest's thousands of titles and sentences mostly): Python counts
        # every unsafe character and every whitespace but the space as not printable.
        return _cut(text.strip(), limit)
    return printable(_WHITESPACE_RUN.sub(" ", text).strip(), limit)
