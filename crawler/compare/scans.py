"""Compare two OCR readings of a document: what OCR jitter is, so that it is not reported as a change.

OCR of the same page image gives the same text, but a re-scan of an unchanged page reads a
character or two differently. A researcher must not be told that a document changed when only
the scanner or the OCR did."""

from __future__ import annotations

from crawler.compare.diff import diff_texts
from crawler.compare.figures import extract_figures, one_per_figure

OCR_JITTER_SIMILARITY = 0.97  # texts this similar (share of characters unchanged), with the same figures, read the same


def same_reading(previous_text: str, previous_page_hashes: tuple[str, ...],
                 current_text: str, current_page_hashes: tuple[str, ...]) -> bool:
    """The two readings say the same: the same page images (compared by hash first), or texts
    that differ by less than OCR jitter and state the same figures (a changed figure is always
    a change: it is what a researcher checks against the image)."""
    if previous_page_hashes and previous_page_hashes == current_page_hashes:
        return True
    if diff_texts(previous_text, current_text).similarity < OCR_JITTER_SIMILARITY:
        return False
    return _figure_keys(previous_text) == _figure_keys(current_text)


def _figure_keys(text: str) -> set:
    return {figure.key for figure in one_per_figure(extract_figures(text))}
