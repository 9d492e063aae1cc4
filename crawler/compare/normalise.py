"""Text forms: the page's own characters for reading, a canonical form for hashing, one for matching.

A quote must be the page's own characters (``，（：``, ８２０００, 轉移), so everything a person
reads is cut from :func:`tidy_text`. Whether a page changed is decided on :func:`normalise_text`
(NFKC), so a page that only switched between full-width and half-width forms is unchanged.
Keywords and figures are found in :func:`fold_for_matching`, which keeps every offset, so a
position found there points at the same character of the text as the page writes it.
"""

import functools
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import opencc

_SPACES = re.compile(r"[ \t\u3000\u00a0\u200b\ufeff]+")


def tidy_text(text: str) -> str:
    """The text in the page's own characters, with runs of spaces collapsed and blank lines dropped.

    Line breaks are kept: they separate paragraphs, which the sentence splitter relies on.
    """
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def normalise_text(text: str) -> str:
    """:func:`tidy_text` of the NFKC form (full-width digits, Latin and punctuation become
    half-width): the form whose hash decides whether a page changed."""
    return tidy_text(unicodedata.normalize("NFKC", text))


def fold_width(text: str) -> str:
    """Each character in its NFKC form where that is one character (８ → 8, ： → :), nothing
    else: regular expressions written for normalised text then match the page's own
    characters at the same offsets."""
    if unicodedata.is_normalized("NFKC", text):  # normalised text, hashed: nothing to fold, quickly
        return text
    return text.translate(_fold_tables().nfkc)


def fold_for_matching(text: str) -> str:
    """Fold text so that spelling variants of a keyword compare equal.

    Full-width and compatibility forms become their plain form (NFKC), traditional Chinese
    becomes simplified (OpenCC ``t2s`` character table) and letters become lower case.
    Every character maps to exactly one character, so ``len(result) == len(text)`` and an
    offset found in the folded text points at the same character in ``text``. Where a
    mapping would change the length (NFKC ``㎡`` → ``m2``, ``İ`` → ``i̇``, OpenCC listing
    several candidates for 乾) the character keeps its single-character form or stays as is.
    """
    if len(text) <= _SHORT_TEXT:  # a term or a match: no need for the whole table (a command's tenth of a second)
        return "".join(map(_fold_character, text))
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


class FoldedText:
    """``fold_for_matching`` of one text, folded once for every scan of it (the keyword
    automaton, the patterns, the figures): as UTF-8 bytes, and as str when a regular
    expression asks for it."""

    def __init__(self, text: str) -> None:
        self.utf8 = fold_to_utf8(text)

    @functools.cached_property
    def text(self) -> str:
        return self.utf8.decode("utf-8", "surrogatepass")


def fold_cjk_variants(text: str) -> str:
    """Map traditional Chinese characters to simplified ones and touch nothing else.

    For regular expressions, where NFKC or lower-casing would change the syntax (``（`` → a
    group, ``\\S`` → ``\\s``).
    """
    return text.translate(_t2s())


@dataclass(frozen=True)
class _FoldTables:
    table: dict[int, str]
    nfkc: dict[int, str]
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
_BLOCK = 128  # code points checked together by `_foldable_codes`
_SHORT_TEXT = 200  # characters: folded one by one (terms, matches, queries), not through the table
_ASCII_LOWER = bytes.maketrans(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", b"abcdefghijklmnopqrstuvwxyz")


@functools.cache
def _t2s() -> dict[int, str]:
    """OpenCC's one-character traditional → simplified mappings, first candidate."""
    t2s = {}
    for line in _OPENCC_CHARACTERS.read_text("utf-8").splitlines():
        traditional, _, candidates = line.partition("\t")
        simplified = candidates.split(" ")[0]
        if len(traditional) == 1 and len(simplified) == 1 and simplified != traditional:
            t2s[ord(traditional)] = simplified
    return t2s


def _character_folds(char: str) -> tuple[str, str]:
    """A character's one-character NFKC form (or itself), and its fold for matching."""
    code = ord(char)
    if code > _LAST_FOLDABLE or 0xD800 <= code <= 0xDFFF:
        return char, char
    nfkc = unicodedata.normalize("NFKC", char)
    if len(nfkc) != 1:
        nfkc = char
    folded = _t2s().get(ord(nfkc), nfkc)
    lower = folded.lower()
    return nfkc, lower if len(lower) == 1 else folded


@functools.cache
def _fold_character(char: str) -> str:
    return _character_folds(char)[1]


def _foldable_codes() -> Iterator[int]:
    """The code points whose fold may not be the character itself, for the tables: each of a
    block of 128 that is not NFKC-normalised or not all lower case, and in the other blocks
    those OpenCC simplifies. Most of Unicode is in blocks that fold to themselves (checked
    by one C call for each), so the tables are built two to three times faster than by asking
    each of the 196,608 characters (every crawl process and extraction worker builds them)."""
    t2s = _t2s()
    for first in range(0, _LAST_FOLDABLE + 1, _BLOCK):
        if 0xD800 <= first <= 0xDFFF:  # surrogates fold to themselves
            continue
        codes = range(first, first + _BLOCK)
        block = "".join(map(chr, codes))
        if unicodedata.is_normalized("NFKC", block) and block.lower() == block:
            yield from (code for code in codes if code in t2s)
        else:
            yield from codes


@functools.cache
def _fold_tables() -> _FoldTables:
    """Build the per-character fold table (a twentieth of a second: done once, on first use)."""
    table, nfkc = {}, {}
    for code in _foldable_codes():
        char = chr(code)
        width, folded = _character_folds(char)
        if width != char:
            nfkc[code] = width
        if folded != char:
            table[code] = folded
    # A character class made only of BMP characters compiles to a fast lookup table; every
    # astral character is sent to translate, which leaves those without a mapping alone.
    # ASCII is left to fold_to_utf8's byte table.
    foldable = "".join(re.escape(chr(code)) for code in sorted(table) if 0x80 <= code <= 0xFFFF)
    foldable += "\U00010000-\U0010ffff"
    spans = re.compile(f"[{foldable}](?:[^{foldable}\\n]{{0,{_MAX_GAP}}}[{foldable}])*")
    return _FoldTables(table=table, nfkc=nfkc, spans=spans)
