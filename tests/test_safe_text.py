"""The one sanitiser (crawler/safe_text.py): `printable_line` takes a shortcut for text with
nothing to replace, and the shortcut must never let through what the full path replaces."""

from __future__ import annotations

import re

from crawler.safe_text import REPLACEMENT, UNSAFE_CHARACTERS, printable, printable_line

WHITESPACE_RUN = re.compile(r"\s+")


def the_full_path(text: str, limit: int) -> str:
    return printable(WHITESPACE_RUN.sub(" ", text).strip(), limit)


def test_the_shortcut_is_taken_only_where_the_full_path_would_change_nothing():
    """The shortcut rests on this: of all Unicode, the characters Python calls printable include
    no unsafe character and no whitespace but the space."""
    printable_characters = "".join(filter(str.isprintable, map(chr, range(0x110000))))
    assert len(printable_characters) > 100_000
    assert UNSAFE_CHARACTERS.search(printable_characters) is None
    assert WHITESPACE_RUN.findall(printable_characters) == [" "]


def test_the_result_is_the_full_paths_with_or_without_the_shortcut():
    for text in ("转移就业 275万人次", "  padded  ", "two  spaces", "tab\there", "\u3000全角空格", "\u202e反转",
                 "line\nbreak", "", "字" * 400, "a\u2028b", "\x85"):
        for limit in (1, 5, 300):
            assert printable_line(text, limit) == the_full_path(text, limit), (text, limit)


def test_controls_bidi_and_line_breaks_never_survive():
    text = "Title\u202e\x1b[2J\n\n  next\u2028line\x00"
    line = printable_line(text, 300)
    assert not UNSAFE_CHARACTERS.search(line) and "\n" not in line and "  " not in line
    assert line == f"Title{REPLACEMENT}{REPLACEMENT}[2J next line{REPLACEMENT}"


def test_long_text_is_cut_with_an_ellipsis_either_way():
    assert printable_line("  " + "字" * 400, 300) == "字" * 299 + "…"
    assert printable_line("字" * 400, 300) == "字" * 299 + "…"
    assert printable_line("字\n" * 400, 5) == "字 字 …"
