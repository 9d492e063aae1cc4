"""Compare stage: what kind of answer a fetch was, and what changed since the last snapshot.

Pure functions over status codes and text, so every rule is tested without Scrapy or SQLite.
An error (5xx, timeout, anti-bot challenge) is never a change; only 404/410, a redirect to the
site's home page or an error page count towards "removed".
"""

from __future__ import annotations

import enum
import re
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from crawler.compare.diff import TextDiff, diff_texts
from crawler.compare.figures import Figure, extract_figures, one_per_figure
from crawler.compare.keywords import Hit, KeywordMatcher
from crawler.compare.normalise import fold_width, normalise_text
from crawler.compare.sentences import split_sentences

GONE_STATUSES = frozenset({404, 410})
# Anti-bot pages answer 200 (or 521) with a script that sets a cookie and reloads.
_CHALLENGE = re.compile(
    rb"__jsl_clearance|acw_sc__v2|document\.cookie\s*=|challenge-platform|"
    rb"please enable javascript|\xe8\xaf\xb7\xe5\xbc\x80\xe5\x90\xaf javascript",  # 请开启 javascript
    re.I,
)
CHALLENGE_MAX_BYTES = 20_000
# "404" alone is no evidence: quotas are numbers (转移就业2404人, 404人次, 404.5万). It counts only
# as a whole number next to an error word ("404 Not Found", "404错误", "错误 404", "HTTP 404"),
# or as the whole title ("404", "404 - 某某县人民政府").
_404 = r"(?<!\d)(?<!\d[.,，．])404(?!\d|[.,，．]\d|\s*[人万亿户名次元个家项%％])"
_ERROR_PAGE = re.compile(
    rf"{_404}\s*(?:not\s*found|error|错误|页面|找不到|未找到)|(?:error|错误|http|状态码|代码)\s*[:：]?\s*{_404}|"
    r"页面不存在|页面未找到|您访问的页面不存在|找不到(该|您要的)?页面|信息已删除|文章已删除|已被删除|page not found",
    re.I,
)
_ERROR_TITLE = re.compile(rf"\s*{_404}\s*(?:[-–—|｜_:：]\s*\S.*)?", re.I)
ERROR_PAGE_MAX_CHARS = 600
_HOME_PATH = re.compile(r"^/([^/]+/)?((index|default|home)\.(s?html?|aspx?|jsp|php))?$", re.I)


class Verdict(enum.Enum):
    OK = "ok"
    GONE = "gone"  # counts towards "removed"
    ERROR = "error"  # says nothing about the page


def classify_response(status: int, url: str, final_url: str, body: bytes) -> tuple[Verdict, str]:
    """Judge an HTTP answer before extraction; the reason is shown to the user."""
    if status in GONE_STATUSES:
        return Verdict.GONE, f"HTTP {status}"
    if status == 521:
        return Verdict.ERROR, "HTTP 521 (anti-bot challenge)"
    if status >= 400:
        return Verdict.ERROR, f"HTTP {status}"
    if len(body) <= CHALLENGE_MAX_BYTES and _CHALLENGE.search(body):
        return Verdict.ERROR, "anti-bot JavaScript challenge page"
    if final_url != url and redirected_home(url, final_url):
        return Verdict.GONE, f"redirected to the site's home page {final_url}"
    return Verdict.OK, ""


def redirected_home(url: str, final_url: str) -> bool:
    """An article URL that now redirects to `/` or `/<site>/index.shtml` was taken down."""
    before, after = urlsplit(url), urlsplit(final_url)
    return bool(_HOME_PATH.match(after.path or "/")) and not _HOME_PATH.match(before.path or "/")


def is_error_page(title: str, text: str) -> bool:
    """A 200 answer that is really a "page not found" page (soft 404). The title is as the page
    writes it (４０４ reads as 404), the text normalised."""
    if len(text) > ERROR_PAGE_MAX_CHARS:
        return False
    title = fold_width(title)
    return bool(_ERROR_TITLE.fullmatch(title) or _ERROR_PAGE.search(title) or _ERROR_PAGE.search(text[:200]))


@dataclass(frozen=True)
class Version:
    """What the comparison needs of a stored or fetched version of a page: its text in the
    page's own characters (a snapshot stored before docwatch kept them: its normalised text)."""

    text: str
    published: str | None


@dataclass(frozen=True)
class Findings:
    """The keyword hits and figures (one per figure stated) in one text: worked out where the
    text is extracted (a worker process, for pages), so that storing a page only compares."""

    hits: list[Hit]
    figures: list[Figure]

    @classmethod
    def of(cls, text: str, matcher: KeywordMatcher) -> Findings:
        return cls(matcher.find(text), one_per_figure(extract_figures(text)))


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
    scrubbed = _first_per_term(h for h in matcher.find(previous.text) if (h.set, h.term) not in current_terms)
    old_figures = one_per_figure(extract_figures(previous.text))
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
