"""What changed between two versions of a page: the diff, new and scrubbed hits, figures.

Pure functions over text, so every rule is tested without Scrapy or SQLite.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from crawler.compare.diff import TextDiff, diff_texts
from crawler.compare.figures import Figure, extract_figures, one_per_figure
from crawler.compare.keywords import Hit, KeywordMatcher
from crawler.compare.normalise import FoldedText, normalise_text
from crawler.compare.sentences import split_sentences


@dataclass(frozen=True)
class Version:
    """What the comparison needs of a stored or fetched version of a page: its text in the
    page's own characters (a snapshot stored before docwatch kept them: its normalised text)."""

    text: str
    published: str | None


# A new page whose text shares this much (characters, by the sentence diff) with the text of a
# page of the same source that went (removed, delisted, failing) in the last MOVED_WITHIN_DAYS
# is that page, moved: a `moved` event, not a `new_page`.
MOVED_SIMILARITY = 0.9
MOVED_WITHIN_DAYS = 30


def moved_from(text: str, gone: list[dict]) -> tuple[dict, float] | None:
    """The version among `gone` (dicts with `original_text`) that `text` is a copy of, or nearly
    (MOVED_SIMILARITY), with its similarity; the closest one when several are."""
    best = None
    for candidate in gone:
        similarity = diff_texts(candidate["original_text"], text).similarity
        if similarity >= MOVED_SIMILARITY and (best is None or similarity > best[1]):
            best = (candidate, similarity)
    return best


@dataclass(frozen=True)
class Findings:
    """The keyword hits and figures (one per figure stated) in one text: worked out where the
    text is extracted (a worker process, for pages), so that storing a page only compares."""

    hits: list[Hit]
    figures: list[Figure]

    @classmethod
    def of(cls, text: str, matcher: KeywordMatcher) -> Findings:
        folded = FoldedText(text)  # once for both scans
        return cls(matcher.find(text, folded), one_per_figure(extract_figures(text, folded=folded)))


@dataclass(frozen=True)
class ChangeReport:
    diff: TextDiff | None  # None for a page's first snapshot
    hits: list[Hit]  # every hit in the new version (for the ledger)
    new_hits: list[Hit]  # in a sentence the previous version did not have
    scrubbed_hits: list[Hit]  # hits of the previous version whose term is gone now
    figures: list[Figure]
    new_figures: list[Figure]
    silent_edit: bool = False
    removed_figures: list[Figure] = field(default_factory=list)


def compare_versions(
    previous: Version | None, current: Version, matcher: KeywordMatcher, found: Findings | None = None
) -> ChangeReport:
    """What is new in `current` since `previous`: the first version flags all its hits and
    figures. `found` is `Findings.of(current.text, matcher)` when the caller has it already."""
    found = found or Findings.of(current.text, matcher)
    hits, figures = found.hits, found.figures
    if previous is None:
        return ChangeReport(None, hits, hits, [], figures, figures)
    diff = diff_texts(previous.text, current.text)
    new_hits = _new_hits(hits, {normalise_text(s) for s in split_sentences(previous.text)}, diff, matcher)
    current_terms = {(hit.set, hit.term) for hit in hits}
    before = Findings.of(previous.text, matcher)
    scrubbed = _first_per_term(h for h in before.hits if (h.set, h.term) not in current_terms)
    old_figures = before.figures
    old_keys = {figure.key for figure in old_figures}
    new_keys = {figure.key for figure in figures}
    return ChangeReport(
        diff=diff,
        hits=hits,
        new_hits=new_hits,
        scrubbed_hits=scrubbed,
        figures=figures,
        new_figures=[f for f in figures if f.key not in old_keys],
        removed_figures=[f for f in old_figures if f.key not in new_keys],
        silent_edit=previous.published is not None and previous.published == current.published and not diff.is_empty,
    )


def _new_hits(hits: list[Hit], old_sentences: set[str], diff: TextDiff, matcher: KeywordMatcher) -> list[Hit]:
    """Hits in sentences the old version did not have (`old_sentences`, normalised: a sentence
    that only changed width, ， for ",", is not new). In a sentence that was only edited (a
    figure revised), a term is new only if it now occurs more often than before."""
    edited = {change.new.strip(): change.old for change in diff.changed}
    in_sentence = Counter((hit.sentence.strip(), hit.set, hit.term) for hit in hits)
    old_counts: dict[str, Counter] = {}
    had_sentence: dict[str, bool] = {}
    new = []
    for hit in hits:
        sentence = hit.sentence.strip()
        if sentence not in had_sentence:
            had_sentence[sentence] = normalise_text(sentence) in old_sentences
        if had_sentence[sentence]:
            continue
        if sentence in edited:
            if sentence not in old_counts:
                old_counts[sentence] = Counter((h.set, h.term) for h in matcher.find(edited[sentence]))
            if in_sentence[sentence, hit.set, hit.term] <= old_counts[sentence][hit.set, hit.term]:
                continue
        new.append(hit)
    return new


def _first_per_term(hits) -> list[Hit]:
    seen: dict[tuple[str, str], Hit] = {}
    for hit in hits:
        seen.setdefault((hit.set, hit.term), hit)
    return list(seen.values())
