"""Extract labour-transfer figures ("转移就业275万人次, 完成年度目标的106%") from page text.

A figure is a count of people or households (人次, 人, 户; 名 is reported as 人), with an
optional 万 (×10⁴) or 亿 (×10⁸), decimals, thousands separators or full-width digits, that
stands in the same *clause* as a labour-transfer or training term. The clause (the stretch
between commas, semicolons and colons) is deliberately narrower than the sentence: official
sentences pile up unrelated counts ("农牧民转移就业69.33万人、实现劳务收入58.1亿元,均创历史新高,城镇新增就业
5.21万人,动态消除4010户城镇零就业家庭"), and only the first is a transfer figure. So 城镇新增
就业 (urban job creation) counts only if its own clause names a transfer or training term.
Counts without a unit (年份, dates), percentages, money (亿元) and numbers written in
Chinese numerals (六万) are not figures. The cost of the clause rule: a series that names the
term once ("2005年转移就业67万多人次,2006年达到120多万人次") yields only its first figure.

Values are exact: 175.62万 is computed with Decimal, so it is 1756200, never 1756199.9999.

A figure is what the page states, a value and a unit, not the term that found it: the headline
"农村富余劳动力转移就业275万人次" and the body's "累计转移就业275万人次,完成年度目标的106%" are
one figure of the page, with both terms (:func:`one_per_figure`).
"""

import dataclasses
import functools
import re
from bisect import bisect_left, bisect_right
from itertools import groupby
from collections.abc import Sequence
from decimal import Decimal

from crawler.compare.keywords import Hit, KeywordMatcher, KeywordSet
from crawler.compare.normalise import FoldedText
from crawler.compare.sentences import sentence_spans

# Actions, not populations: 富余劳动力 (surplus labour) names who, 转移就业 what was counted.
DEFAULT_FIGURE_TERMS: tuple[str, ...] = (
    "劳动力转移就业",
    "劳动力转移",
    "转移就业",
    "有组织转移",
    "整建制转移",
    "转移内地",
    "疆外就业",
    "转移",
    "劳务输出",
    "输出",
    "职业技能培训",
    "就业培训",
    "技能培训",
    "培训",
    "务工",
    "拾花",
    "采棉",
)

_MULTIPLIERS = {"": 1, "万": 10**4, "亿": 10**8}
_UNITS = {"人次": "人次", "人": "人", "名": "人", "户": "户"}
# Runs on folded text: digits are ASCII, 萬 is 万, full-width commas are ",". A number starts at a
# digit not preceded by a digit, "." or "," (part of a longer number) or 第 (an ordinal). The
# pattern starts with the digit and looks back from there: a pattern that starts with a digit
# lets the regex engine skip to the next digit, where one that starts with a look-behind is
# tried at every character (twice as slow over a page).
_QUANTITY = re.compile(
    r"(?P<number>\d(?<![\d.,第]\d)(?:\d{0,2}(?:,\d{3}){1,4}(?!\d)|\d{0,11}(?!\d)))"
    r"(?:\.(?P<fraction>\d{1,6}))?"
    r"[多余]?(?P<multiplier>[万亿]?)[多余]?(?P<unit>人次|人(?!民)|名|户)"
)
# A comma between two digits is a thousands separator, not a clause boundary.
_CLAUSE_BREAK = re.compile(r"(?<!\d)[,:]|[,:](?!\d)|;")
_COMPLETION_RATE = re.compile(
    r"完成[^,;:。!?]{0,12}?(?:目标|任务|计划)[^,;:。!?\d]{0,6}?(?P<rate>\d+(?:\.\d+)?)%"
)


@dataclasses.dataclass(frozen=True)
class Figure:
    """A quantity stated next to labour-transfer or training terms, in the page's characters.

    ``terms`` are the anchor terms in its clause, nearest first (a term inside a longer one
    found at the same place, 转移就业 in 劳动力转移就业, is not listed again).
    """

    value: int | float
    unit: str
    text: str
    terms: tuple[str, ...]
    sentence: str
    rate: float | None

    @property
    def term(self) -> str:
        """The term nearest the quantity."""
        return self.terms[0]

    @property
    def key(self) -> tuple[str, int | float]:
        """Identity in the ledger: what the page states. The same figure on a re-crawl, or a
        sentence reworded around it, is not news again."""
        return (self.unit, self.value)


def extract_figures(
    text: str, anchor_terms: Sequence[str] = DEFAULT_FIGURE_TERMS, folded: FoldedText | None = None
) -> list[Figure]:
    """Every statement of a figure in ``text``, in order, with its terms and completion rate.

    The nearest term is the anchor ending closest before the quantity in its clause (starting
    closest after it if none comes before). ``rate`` is the first "完成…目标…N%" after the
    quantity and before the sentence's next quantity; an approximate rate ("完成年度目标逾6成")
    gives None. ``text`` and ``sentence`` are cut from ``text`` as given; ``folded`` is
    ``FoldedText(text)`` when the caller has it already.

    The quantities are found in one pass over the whole text: none can span two sentences (a
    quantity holds no terminator, line break or space), so each falls in one sentence.
    """
    if isinstance(anchor_terms, str):
        raise TypeError("anchor_terms must be a list of terms, not a single string")
    anchor_matcher = _anchor_matcher(tuple(anchor_terms))
    folded = folded or FoldedText(text)
    quantities = list(_QUANTITY.finditer(folded.text))
    if not quantities:
        return []
    anchors = anchor_matcher.find(text, folded)
    anchor_starts = [hit.start for hit in anchors]
    sentences = sentence_spans(text)
    starts = [start for start, _ in sentences]
    figures = []
    for index, found in groupby(quantities, key=lambda quantity: bisect_right(starts, quantity.start()) - 1):
        sentence_start, sentence_end = sentences[index]
        in_sentence = [q for q in found if sentence_start <= q.start() and q.end() <= sentence_end]
        clauses = _Clauses(folded.text, sentence_start, sentence_end)
        rate_ends = [quantity.start() for quantity in in_sentence[1:]] + [sentence_end]
        for quantity, rate_end in zip(in_sentence, rate_ends):
            terms = _terms_near(anchors, anchor_starts, clauses.around(quantity), quantity)
            if not terms:
                continue
            rate = _COMPLETION_RATE.search(folded.text, quantity.end(), rate_end)
            figures.append(
                Figure(
                    value=_value(quantity),
                    unit=_UNITS[quantity["unit"]],
                    text=text[quantity.start() : quantity.end()],
                    terms=terms,
                    sentence=text[sentence_start:sentence_end],
                    rate=float(rate["rate"]) if rate else None,
                )
            )
    return figures


@functools.lru_cache(maxsize=8)
def _anchor_matcher(anchor_terms: tuple[str, ...]) -> KeywordMatcher:
    if not anchor_terms:
        raise ValueError("extract_figures needs at least one anchor term")
    return KeywordMatcher({"figure anchors": KeywordSet(terms=anchor_terms)})


class _Clauses:
    """The clauses of one sentence, split once however many quantities it holds."""

    def __init__(self, folded: str, sentence_start: int, sentence_end: int) -> None:
        breaks = list(_CLAUSE_BREAK.finditer(folded, sentence_start, sentence_end))
        self._starts = [sentence_start] + [boundary.end() for boundary in breaks]
        self._ends = [boundary.start() for boundary in breaks] + [sentence_end]

    def around(self, quantity: re.Match[str]) -> tuple[int, int]:
        index = bisect_right(self._starts, quantity.start()) - 1
        return self._starts[index], self._ends[index]


def _terms_near(
    anchors: list[Hit], anchor_starts: list[int], clause: tuple[int, int], quantity: re.Match[str]
) -> tuple[str, ...]:
    """The anchor terms of the quantity's clause: those ending before it, the one ending
    closest first (longest on a tie), then those after it, the closest first. An anchor inside
    a longer anchor hit is part of that term, not another one."""
    clause_start, clause_end = clause
    first, last = bisect_left(anchor_starts, clause_start), bisect_left(anchor_starts, clause_end)
    in_clause = [hit for hit in anchors[first:last] if hit.end <= clause_end]
    outermost = [
        hit for hit in in_clause
        if not any(other.start <= hit.start and hit.end <= other.end and other.end - other.start > hit.end - hit.start
                   for other in in_clause)
    ]
    before = sorted((hit for hit in outermost if hit.end <= quantity.start()),
                    key=lambda hit: (-hit.end, hit.start - hit.end))
    after = sorted((hit for hit in outermost if hit.start >= quantity.end()), key=lambda hit: (hit.start, hit.start - hit.end))
    return tuple(dict.fromkeys(hit.term for hit in before + after))


def one_per_figure(figures: Sequence[Figure]) -> list[Figure]:
    """One entry per figure the page states (its key), in order of first statement, with every
    term near any statement of it. The sentence, text and rate are those of the first statement
    that gives a completion rate, else of the first: the quote then shows the rate it reports."""
    statements: dict[tuple[str, int | float], list[Figure]] = {}
    for figure in figures:
        statements.setdefault(figure.key, []).append(figure)
    merged = []
    for same in statements.values():
        quoted = next((figure for figure in same if figure.rate is not None), same[0])
        terms = dict.fromkeys(quoted.terms)
        for figure in same:
            terms.update(dict.fromkeys(figure.terms))
        merged.append(dataclasses.replace(quoted, terms=tuple(terms)))
    return merged


def _value(quantity: re.Match[str]) -> int | float:
    digits = quantity["number"].replace(",", "") + "." + (quantity["fraction"] or "0")
    number = Decimal(digits) * _MULTIPLIERS[quantity["multiplier"]]
    return int(number) if number == number.to_integral_value() else float(number)
