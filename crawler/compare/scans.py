"""Compare two OCR readings of a document: what OCR jitter is, so that it is not reported as a change.

OCR of the same page image gives the same text, but a re-scan of an unchanged page reads a few
characters differently, and, on a page rotated another way, may even take its lines in another
order. A researcher must not be told that a document changed when only the scanner did; nor
must a changed figure, or a new keyword, be hidden as jitter."""

from __future__ import annotations

from collections import Counter

from crawler.compare.figures import extract_figures, one_per_figure
from crawler.compare.keywords import KeywordMatcher

# Measured on re-scans of real report text (tests/test_ocr.py): re-scans read ≥ 0.986 alike,
# one added 16-character sentence in 400 characters 0.96.
OCR_JITTER_SIMILARITY = 0.98


def same_reading(previous_text: str, previous_page_hashes: tuple[str, ...], current_text: str,
                 current_page_hashes: tuple[str, ...], matcher: KeywordMatcher | None = None) -> bool:
    """The two readings say the same: the same page images (compared by hash first), or texts
    whose characters (counted without order) agree to OCR_JITTER_SIMILARITY, with the same
    figures and the same keyword terms as often (those are what a researcher acts on)."""
    if previous_page_hashes and previous_page_hashes == current_page_hashes:
        return True
    if character_similarity(previous_text, current_text) < OCR_JITTER_SIMILARITY:
        return False
    if matcher is not None and _terms(matcher, previous_text) != _terms(matcher, current_text):
        return False
    return _figure_keys(previous_text) == _figure_keys(current_text)


def character_similarity(first: str, second: str) -> float:
    """Share of characters (spaces aside, in any order) the two texts have in common, 0..1."""
    a, b = Counter("".join(first.split())), Counter("".join(second.split()))
    total = sum(a.values()) + sum(b.values())
    return 2 * sum((a & b).values()) / total if total else 1.0


def _terms(matcher: KeywordMatcher, text: str) -> Counter:
    return Counter((hit.set, hit.term) for hit in matcher.find(text))


def _figure_keys(text: str) -> set:
    return {figure.key for figure in one_per_figure(extract_figures(text))}
