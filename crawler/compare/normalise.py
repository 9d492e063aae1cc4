"""Canonical text forms: one for storing and diffing, one for matching keywords."""

import functools
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import opencc

_SPACES = re.compile(r"[ \t\u3000\u00a0\u200b\ufeff]+")


def normalise_text(text: str) -> str:
    """NFKC (full-width digits and Latin become half-width), collapse spaces, drop blank lines.

    Line breaks are kept: they separate paragraphs, which the sentence splitter relies on.
    """
    text = unicodedata.normalize("NFKC", text)
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def fold_for_matching(text: str) -> str:
    """Fold text so that spelling variants of a keyword compare equal.

    Full-width and compatibility forms become their plain form (NFKC), traditional Chinese
    becomes simplified (OpenCC ``t2s`` character table) and letters become lower case.
    Every character maps to exactly one character, so ``len(result) == len(text)`` and an
    offset found in the folded text points at the same character in ``text``. Where a
    mapping would change the length (NFKC ``㎡`` → ``m2``, ``İ`` → ``i̇``, OpenCC listing
    several candidates for 乾) the character keeps its single-character form or stays as is.
    """
    return fold_to_utf8(text).decode("utf-8", "surrogatepass")


def fold_to_utf8(text: str) -> bytes:
    """``fold_for_matching(text)`` encoded as UTF-8, the form the keyword automaton scans.

    ASCII upper case is folded on the bytes (one C-speed table lookup per byte, and UTF-8
    never uses bytes below 0x80 inside a multi-byte character); only the rarer non-ASCII
    foldable characters go through the per-character table.
    """
    fold = _fold_tables()
    folded = fold.spans.sub(lambda span: span.group().translate(fold.table), text)
    return folded.encode("utf-8", "surrogatepass").translate(_ASCII_LOWER)


def fold_cjk_variants(text: str) -> str:
    """Map traditional Chinese characters to simplified ones and touch nothing else.

    For regular expressions, where NFKC or lower-casing would change the syntax (``（`` → a
    group, ``\\S`` → ``\\s``).
    """
    return text.translate(_fold_tables().t2s)


@dataclass(frozen=True)
class _FoldTables:
    table: dict[int, str]
    t2s: dict[int, str]
    spans: re.Pattern[str]


# OpenCC's own converter works phrase by phrase in pure Python (far too slow for 100 MB of
# text) and can change the length ("乾" has two candidates). Character by character, its t2s
# conversion is its TSCharacters table (TSPhrases has no one-character entries), so that
# table is read from OpenCC's data and applied with str.translate; the first candidate wins.
_OPENCC_CHARACTERS = Path(opencc.__file__).parent / "dictionary" / "TSCharacters.txt"
# Runs of foldable characters with short gaps: one translate call per run keeps the number
# of Python callbacks low on traditional-character text.
_MAX_GAP = 12
# Above the CJK extension planes nothing has an NFKC, simplified or lower-case form (Unicode
# 15: planes 3 to 16 hold CJK extensions G and H, tags, variation selectors and private use).
# Scanning only up to here builds the table five times faster (each process builds it once).
_LAST_FOLDABLE = 0x2FFFF
_ASCII_LOWER = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", b"abcdefghijklmnopqrstuvwxyz")


@functools.cache
def _fold_tables() -> _FoldTables:
    """Build the per-character fold table (a tenth of a second: done once, on first use)."""
    t2s = {}
    for line in _OPENCC_CHARACTERS.read_text("utf-8").splitlines():
        traditional, _, candidates = line.partition("\t")
        simplified = candidates.split(" ")[0]
        if len(traditional) == 1 and len(simplified) == 1 and simplified != traditional:
            t2s[ord(traditional)] = simplified
    table = {}
    for code in range(_LAST_FOLDABLE + 1):
        if 0xD800 <= code <= 0xDFFF:
            continue
        char = chr(code)
        folded = unicodedata.normalize("NFKC", char)
        if len(folded) != 1:
            folded = char
        folded = t2s.get(ord(folded), folded)
        lower = folded.lower()
        if len(lower) == 1:
            folded = lower
        if folded != char:
            table[code] = folded
    # A character class made only of BMP characters compiles to a fast lookup table; every
    # astral character is sent to translate, which leaves those without a mapping alone.
    # ASCII is left to fold_to_utf8's byte table.
    foldable = "".join(re.escape(chr(code)) for code in sorted(table) if 0x80 <= code <= 0xFFFF)
    foldable += "\U00010000-\U0010ffff"
    spans = re.compile(f"[{foldable}](?:[^{foldable}\\n]{{0,{_MAX_GAP}}}[{foldable}])*")
    return _FoldTables(table=table, t2s=t2s, spans=spans)
