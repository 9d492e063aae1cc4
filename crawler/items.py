"""What the spiders hand to the pipeline: raw fetch results, nothing interpreted yet (but the
links of a list page, which the listing spider reads to know what to follow)."""

from __future__ import annotations

from dataclasses import dataclass, field

from storage.queries import PageCapture


@dataclass
class FetchedPage:
    """One HTTP answer for a watched page, an article found on a listing, or a document
    (attachment) linked from either: then `parent_url` is that page and `link_text` its label."""

    source_id: str
    kind: str  # "page", "article", "document" or "listing"
    url: str  # as requested (before redirects): the page's identity
    final_url: str
    status: int
    headers: dict[str, str]
    body: bytes
    fetched_at: str
    elapsed_ms: int | None
    request_headers: dict[str, str] = field(default_factory=dict)
    parent_url: str | None = None
    link_text: str = ""


@dataclass
class ListingFetched:
    """A list page was read: its HTTP answer (for the WARC record), the snapshot it makes when
    its links changed (`listing`: its article links, in order) and the article URLs to follow
    (new to this crawl, within `max_items`)."""

    answer: FetchedPage
    listing: PageCapture
    article_urls: list[str]


@dataclass
class FetchFailed:
    """No usable answer: network error, timeout, size cap, robots.txt, or an HTTP error status."""

    source_id: str
    kind: str  # "page", "article", "document" or "listing"
    url: str
    error: str
    fetched_at: str
    status: int | None = None
    size: int | None = None
