"""Search over every version of every page (`docwatch search`, the workbench's /search).

The query is folded as keyword matching folds text (traditional to simplified, full-width to
half-width, lower case), so 轉移就業 and ＵＦＬＰＡ find 转移就业 and UFLPA. Results come one per
page, pages that no longer say it first ("当时有，现在没有"), each with the sentence that said
it, cut from the page's own characters, and the first and last snapshot that contained it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from crawler.compare.normalise import fold_for_matching
from crawler.compare.sentences import sentence_spans
from crawler.safe_text import printable_line
from storage import search as search_index
from storage.connection import Database

MAX_QUERY_CHARS = 200
MAX_RESULTS = 50  # pages
VERSIONS_READ = 5000  # the newest matching snapshots read: a term on every page stays fast
CONTEXT_CHARS = 80  # either side of the match when its sentence is longer than a line
MAX_TITLE_CHARS = 300


class BadQuery(ValueError):
    """The query cannot be searched for; the message says why."""


@dataclass(frozen=True)
class SnapshotAt:
    snapshot_id: int
    fetched_at: str


@dataclass(frozen=True)
class PageResult:
    """A page some snapshot of which contains the query."""

    url: str
    source_id: str
    kind: str
    title: str
    state: str  # live, missing, removed
    first: SnapshotAt  # the first snapshot that contained it
    last: SnapshotAt  # the last one
    matching: int  # snapshots that contain it
    snapshots: int  # snapshots of the page
    says_it_now: bool  # the page's latest snapshot contains it
    latest_snapshot_id: int | None
    before: str  # the sentence of the last snapshot that contained it, around the match
    match: str
    after: str

    def as_json(self) -> dict:
        return {
            "url": self.url, "source": self.source_id, "kind": self.kind, "title": self.title, "state": self.state,
            "first": {"snapshot_id": self.first.snapshot_id, "fetched_at": self.first.fetched_at},
            "last": {"snapshot_id": self.last.snapshot_id, "fetched_at": self.last.fetched_at},
            "matching_snapshots": self.matching, "snapshots": self.snapshots, "says_it_now": self.says_it_now,
            "latest_snapshot_id": self.latest_snapshot_id, "sentence": self.before + self.match + self.after,
            "match": self.match,
        }


@dataclass(frozen=True)
class Found:
    pages: tuple[PageResult, ...]
    # False when more than VERSIONS_READ snapshots match: the pages shown are those of the newest
    # ones, whose last version and whether they still say it are exact, their first version and
    # count only as far back as was read; a narrower search (a source, a date) reads them all.
    complete: bool

    def as_json(self) -> dict:
        return {"complete": self.complete, "versions_read": VERSIONS_READ, "pages": [page.as_json() for page in self.pages]}


def search(db: Database, query: str, source_ids: Sequence[str] = (), since: str | None = None,
           limit: int = MAX_RESULTS) -> Found:
    """Pages whose title or text contained `query` in any snapshot (fetched since `since`);
    `db` must be writable (the index takes in new snapshots first: storage/search.py)."""
    folded = fold_for_matching(" ".join(query.split()))
    if not folded:
        raise BadQuery("give some text to search for")
    if len(folded) > MAX_QUERY_CHARS:
        raise BadQuery(f"the query has {len(folded)} characters; search for at most {MAX_QUERY_CHARS}")
    rows, complete = search_index.matching_pages(db, folded, source_ids, since, limit, VERSIONS_READ)
    versions = search_index.snapshot_texts(db, sorted({row[key] for row in rows for key in ("first_id", "last_id")}))
    return Found(tuple(_result(row, versions, folded) for row in rows), complete)


def _result(row: dict, versions: dict[int, dict], folded: str) -> PageResult:
    last = versions[row["last_id"]]
    before, match, after = _around(last["original_text"], folded) or _around(last["title"] or "", folded) or ("", "", "")
    return PageResult(
        url=printable_line(row["url"], 2048), source_id=row["source_id"], kind=row["kind"],
        title=printable_line(row["title"], MAX_TITLE_CHARS), state=row["state"],
        first=SnapshotAt(row["first_id"], versions[row["first_id"]]["fetched_at"]),
        last=SnapshotAt(row["last_id"], last["fetched_at"]), matching=row["matching"], snapshots=row["snapshots"],
        says_it_now=bool(row["says_it_now"]), latest_snapshot_id=row["latest_snapshot_id"],
        before=before, match=match, after=after,
    )


def _around(text: str, folded_query: str) -> tuple[str, str, str] | None:
    """(before, match, after) in `text`'s own characters: the sentence with the first match,
    cut to CONTEXT_CHARS either side. The fold keeps offsets, so the match found in the folded
    text is at the same place in the text. Whitespace is folded to one space, as in the query."""
    tidy = " ".join(text.split())
    at = fold_for_matching(tidy).find(folded_query)
    if at < 0:
        return None
    end = at + len(folded_query)
    start_of, end_of = next(((a, b) for a, b in sentence_spans(tidy) if a <= at < b), (at, end))
    start_of, end_of = max(start_of, at - CONTEXT_CHARS), min(max(end_of, end), end + CONTEXT_CHARS)
    return (printable_line(tidy[start_of:at], CONTEXT_CHARS + 1), printable_line(tidy[at:end], MAX_QUERY_CHARS),
            printable_line(tidy[end:end_of], CONTEXT_CHARS + 1))
