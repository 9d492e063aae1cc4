"""Flagged keyword hits as a person reads them: one group per page, kind and term.

A page's first snapshot flags every occurrence of every term, and overlapping terms flag the
same words twice (激发内生动力 and 内生动力; a pattern and the literal term inside its match).
Grouping counts the occurrences of a term on a page and keeps the first one's context; an
occurrence that lies inside a longer flagged term's occurrence, in the same sentence of the
same snapshot, counts under the longer term, which names the shorter ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from crawler.compare.normalise import fold_for_matching


@dataclass
class HitGroup:
    """Occurrences of one term flagged on one page; ``first`` is the earliest flag (a row of
    ``hit_flags`` with its page's url, title and source)."""

    first: Mapping
    count: int = 0
    also: tuple[str, ...] = ()  # shorter terms flagged on the same words

    @property
    def is_pattern(self) -> bool:
        """A regular-expression hit: what it matched is not the term itself, folded."""
        return fold_for_matching(self.first["matched"]) != fold_for_matching(self.first["term"])


def group_hit_flags(flags: Iterable[Mapping]) -> list[HitGroup]:
    """Groups page by page (pages in the order of their first flag), then in the order of each
    group's first flag. Each flag needs ``url``, ``kind``, ``set_name``, ``term``, ``matched``,
    ``sentence`` and ``snapshot_id``."""
    flags = list(flags)
    owner = _covering_terms(flags)
    groups: dict[tuple, HitGroup] = {}
    also: dict[tuple, dict[str, None]] = {}
    for index, flag in enumerate(flags):
        counted_as = flags[owner.get(index, index)]
        key = (flag["url"], flag["kind"], counted_as["set_name"], counted_as["term"])
        if index in owner:
            also.setdefault(key, {})[flag["term"]] = None
            continue
        group = groups.setdefault(key, HitGroup(first=flag))
        group.count += 1
    for key, terms in also.items():
        if key in groups:
            groups[key].also = tuple(terms)
    page_order = {url: order for order, url in enumerate(dict.fromkeys(url for url, *_ in groups))}
    return [groups[key] for key in sorted(groups, key=lambda key: page_order[key[0]])]


def _covering_terms(flags: list[Mapping]) -> dict[int, int]:
    """Index of a flag -> index of a flag of the longest other term whose occurrence contains
    it, within one sentence of one snapshot."""
    by_sentence: dict[tuple, list[int]] = {}
    for index, flag in enumerate(flags):
        by_sentence.setdefault((flag["snapshot_id"], flag["kind"], flag["sentence"]), []).append(index)
    owner: dict[int, int] = {}
    for (_, _, sentence), indexes in by_sentence.items():
        by_term: dict[str, list[int]] = {}
        for index in indexes:
            by_term.setdefault(flags[index]["term"], []).append(index)
        longest_first = sorted(by_term, key=lambda term: -len(flags[by_term[term][0]]["matched"]))
        for term in longest_first:
            matched = flags[by_term[term][0]]["matched"]
            covering = [other for other in longest_first if len(flags[by_term[other][0]]["matched"]) > len(matched)]
            spans = [(start, start + len(flags[by_term[other][0]]["matched"]), by_term[other][0])
                     for other in covering for start in _positions(sentence, flags[by_term[other][0]]["matched"])]
            inside = [next(flag for start, end, flag in spans if start <= at and at + len(matched) <= end)
                      for at in _positions(sentence, matched)
                      if any(start <= at and at + len(matched) <= end for start, end, _ in spans)]
            for index, covered_by in zip(by_term[term], inside):
                owner[index] = owner.get(covered_by, covered_by)
    return owner


def _positions(text: str, part: str) -> list[int]:
    """Start of every occurrence of ``part`` in ``text``, overlapping ones included."""
    found, at = [], text.find(part) if part else -1
    while at >= 0:
        found.append(at)
        at = text.find(part, at + 1)
    return found
