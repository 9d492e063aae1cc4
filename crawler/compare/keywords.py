"""Find watched terms in page text, whatever script, width or case they are written in.

Matching runs on :func:`fold_for_matching` of the text, with every term folded the same way,
so 轉移就業, ＵＦＬＰＡ and "Labor Transfer" are found by the terms 转移就业, UFLPA and
"labor transfer". The fold keeps every offset, so a hit's ``start``/``end``, ``context`` and
``sentence`` refer to the text as given.

All literal terms of all sets go into one Aho-Corasick automaton (``ahocorasick_rs``: one pass
over the text whatever the number of terms, overlapping terms all reported). Per-hit work
(context, sentence) is only done for hits, so a page without hits costs one fold and one scan.
"""

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter

import ahocorasick_rs

from crawler.compare.normalise import FoldedText, fold_cjk_variants, fold_for_matching
from crawler.compare.sentences import SentenceLocator

CONTEXT_CHARS = 40
# A Latin term must not match inside a longer Latin word or number ("labor" in "laborer").
_LATIN_WORD = frozenset(b"0123456789abcdefghijklmnopqrstuvwxyz")
_HIT_ORDER = attrgetter("start", "end", "set", "term")


@dataclass(frozen=True)
class KeywordSet:
    """One named keyword set: literal ``terms`` and regular expressions ``patterns``, some
    with a name (``pattern_names``: (regex, name) pairs) that their hits carry as their term.
    The watchlist's ``keyword_sets:`` entries are these, with their name and description."""

    terms: Sequence[str] = ()
    patterns: Sequence[str] = ()
    pattern_names: Sequence[tuple[str, str]] = ()
    name: str = ""
    description: str | None = None


@dataclass(frozen=True)
class Hit:
    """One occurrence of a term (as configured) or a pattern in a text.

    ``context`` and ``sentence`` are worked out on access: a page can have thousands of hits
    of which the ledger keeps only the new ones.
    """

    term: str
    set: str
    start: int
    end: int
    matched: str
    _sentences: SentenceLocator = field(repr=False, compare=False)

    @property
    def context(self) -> str:
        """About CONTEXT_CHARS characters either side of the hit, from the text as given."""
        text = self._sentences.text
        return text[max(0, self.start - CONTEXT_CHARS) : self.end + CONTEXT_CHARS]

    @property
    def sentence(self) -> str:
        """The sentence (or sentences, if the hit spans a boundary) containing the hit."""
        start, end = self._sentences.around(self.start, self.end)
        return self._sentences.text[start:end]


class KeywordMatcher:
    """All keyword sets, compiled once; ``find`` is then safe to call for every page."""

    def __init__(self, sets: Mapping[str, KeywordSet]) -> None:
        # folded term -> [(set name, term as written)]; a term in two sets is reported twice.
        owners: dict[str, list[tuple[str, str]]] = {}
        self._patterns: list[tuple[str, str, re.Pattern[str]]] = []
        for set_name, spec in sets.items():
            for term in _strings(set_name, "terms", spec.terms):
                folded = fold_for_matching(term.strip())
                if not folded:
                    raise ValueError(f"keyword set {set_name!r}: empty term {term!r}")
                entries = owners.setdefault(folded, [])
                if all(owner != set_name for owner, _ in entries):
                    entries.append((set_name, term))
            names = dict(spec.pattern_names)
            for pattern in _strings(set_name, "patterns", spec.patterns):
                try:
                    compiled = re.compile(fold_cjk_variants(pattern), re.IGNORECASE)
                except re.error as error:
                    raise ValueError(
                        f"keyword set {set_name!r}: invalid pattern {pattern!r}: {error}"
                    ) from None
                self._patterns.append((set_name, names.get(pattern, pattern), compiled))
        encoded_terms = [folded.encode("utf-8", "surrogatepass") for folded in owners]
        self._owners = list(owners.values())
        self._term_lengths = [len(folded) for folded in owners]
        self._latin_edged = [
            term[0] in _LATIN_WORD or term[-1] in _LATIN_WORD for term in encoded_terms
        ]
        self._automaton = (
            ahocorasick_rs.BytesAhoCorasick(encoded_terms) if encoded_terms else None
        )

    def find(self, text: str, folded: FoldedText | None = None) -> list[Hit]:
        """Every hit in ``text``, ordered by position, then set and term; ``folded`` is
        ``FoldedText(text)`` when the caller has it already."""
        sentences = SentenceLocator(text)
        hits = [
            Hit(term, set_name, start, end, text[start:end], sentences)
            for set_name, term, start, end in self._spans(folded or FoldedText(text))
        ]
        hits.sort(key=_HIT_ORDER)
        return hits

    def _spans(self, folded: FoldedText) -> Iterator[tuple[str, str, int, int]]:
        """(set, term, start, end) of every hit, unordered: what ``find`` makes its hits of."""
        yield from self._term_spans(folded.utf8)
        if self._patterns:
            yield from self._pattern_spans(folded.text)

    def _term_spans(self, folded: bytes) -> Iterator[tuple[str, str, int, int]]:
        """(set, term as configured, start, end) of every literal term, in characters.

        The automaton scans UTF-8 bytes (several times faster than handing it a str). Byte
        offsets become character offsets by decoding only the stretch since the previous
        hit; a hit's start is its end minus the term's length, as folding keeps lengths.
        """
        if self._automaton is None:
            return
        chars = bytes_seen = 0
        for index, start, end in self._automaton.find_matches_as_indexes(folded, overlapping=True):
            if self._latin_edged[index] and _inside_latin_word(folded, start, end):
                continue
            if end >= bytes_seen:
                chars += len(folded[bytes_seen:end].decode("utf-8", "surrogatepass"))
            else:
                chars -= len(folded[end:bytes_seen].decode("utf-8", "surrogatepass"))
            bytes_seen = end
            for set_name, term in self._owners[index]:
                yield set_name, term, chars - self._term_lengths[index], chars

    def _pattern_spans(self, folded: str) -> Iterator[tuple[str, str, int, int]]:
        """(set, pattern's name, start, end) of every non-empty regular-expression match."""
        for set_name, pattern, compiled in self._patterns:
            for match in compiled.finditer(folded):
                if match.end() > match.start():
                    yield set_name, pattern, match.start(), match.end()


def _strings(set_name: str, field: str, values: Sequence[str]) -> Sequence[str]:
    """Reject the classic slip of writing one string where a list of strings belongs."""
    if isinstance(values, str) or not all(isinstance(value, str) for value in values):
        raise TypeError(f"keyword set {set_name!r}: {field} must be a list of strings")
    return values


def _inside_latin_word(folded: bytes, start: int, end: int) -> bool:
    """True when a match that starts or ends with a Latin letter/digit continues a word."""
    glued_left = start > 0 and folded[start] in _LATIN_WORD and folded[start - 1] in _LATIN_WORD
    glued_right = (
        end < len(folded) and folded[end - 1] in _LATIN_WORD and folded[end] in _LATIN_WORD
    )
    return glued_left or glued_right
