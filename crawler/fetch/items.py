"""What the spiders hand to the pipeline: raw fetch results, nothing interpreted yet (but the
links of a list page, which the listing spider reads to know what to follow)."""

from __future__ import annotations

from dataclasses import dataclass, field

from storage.queries import PageCapture


@dataclass(frozen=True)
class WireExchange:
    """One HTTP request and the answer to it as they crossed the wire: a redirect hop, or the
    final answer before Scrapy decompressed it (`body` still in its `Content-Encoding`).

    Twisted, under Scrapy, consumes the connection headers (`Transfer-Encoding`,
    `Content-Length`, `Connection`, `Keep-Alive`) and de-chunks the body before anyone else
    sees the answer, so those are not in `headers`."""

    url: str
    method: str
    request_headers: list[tuple[str, str]]
    status: int
    protocol: str  # "HTTP/1.1"
    headers: list[tuple[str, str]]
    body: bytes
    received_at: str  # ISO 8601, UTC
    ip: str | None = None


@dataclass
class FetchedPage:
    """One HTTP answer for a watched page, an article found on a listing, or a document
    (attachment) linked from either: then `parent_url` is that page and `link_text` its label.
    `headers` and `body` are the answer as the crawler reads it (decompressed); `exchanges` are
    what went over the wire, each redirect hop and then the final answer, for the WARC records."""

    source_id: str
    kind: str  # "page", "article", "document" or "listing"
    url: str  # as requested (before redirects): the page's identity
    final_url: str
    status: int
    headers: dict[str, str]
    body: bytes
    fetched_at: str
    elapsed_ms: int | None
    exchanges: list[WireExchange] = field(default_factory=list)
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
    """No usable answer: network error, timeout, size cap, a redirect loop or too many
    redirects, or an HTTP error status. `final_url` is where redirects had led, if anywhere."""

    source_id: str
    kind: str  # "page", "article", "document" or "listing"
    url: str
    error: str
    fetched_at: str
    status: int | None = None
    size: int | None = None
    final_url: str | None = None


@dataclass
class FetchSkipped:
    """A request docwatch decided not to send (robots.txt, off-site, already requested in this
    run): recorded with the reason, so that no URL a crawl should fetch goes unaccounted for."""

    source_id: str
    kind: str
    url: str
    reason: str
    fetched_at: str
