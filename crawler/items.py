"""What the spiders hand to the pipeline: raw fetch results, nothing interpreted yet."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class FetchedPage:
    """One HTTP answer for a watched page, an article found on a listing, or a document
    (attachment) linked from either: then `parent_url` is that page and `link_text` its label."""

    source_id: str
    kind: str  # "page", "article" or "document"
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
    """A listing page was read; `article_urls` are the links that matched the source's `follow`."""

    source_id: str
    url: str
    status: int
    size: int
    fetched_at: str
    elapsed_ms: int | None
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
