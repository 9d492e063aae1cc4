"""What both spiders share: which sources they crawl, how a request is built, how answers become items."""

from __future__ import annotations

import os
import re
from datetime import datetime, timezone
from typing import Any, Iterable, Iterator
from urllib.parse import urlsplit

import scrapy
from scrapy.http import Response, TextResponse
from twisted.python.failure import Failure

from crawler.capture import header_charset
from crawler.extract import decode_html, extract_links
from crawler.items import FetchedPage, FetchFailed
from crawler.watchlist import Source, load_watchlist


# Attachments worth fetching: files whose text docwatch can read, named in the path or in the
# query (downfile.jsp?filename=x.pdf), or links labelled 附件/下载 to a URL without a file name.
_DOCUMENT_FILE = re.compile(r"\.(pdf|docx?|xlsx?|wps|et)$", re.I)
_DOCUMENT_IN_QUERY = re.compile(r"\.(pdf|docx?|xlsx?|wps|et)(&|$)", re.I)
_DOCUMENT_WORDS = ("附件", "下载")
_DOCUMENT_IN_URL = re.compile(r"\.(?:pdf|docx?|xlsx?|wps|et)\b", re.I)  # before parsing a link's URL
# Cheap test on the raw bytes before parsing a page for attachment links: most pages have none.
_MAYBE_DOCUMENT = re.compile(
    rb"\.(?:pdf|docx?|xlsx?|wps|et)\b|"
    + b"|".join(re.escape(word.encode(codec)) for word in _DOCUMENT_WORDS for codec in ("utf-8", "gb18030")),
    re.I,
)


def is_document_link(url: str, text: str, page_url: str) -> bool:
    """Whether to fetch a link as a document of the page at `page_url`. Only files of the page's
    own site (rst.xinjiang.gov.cn → file.xinjiang.gov.cn): a Wayback replay links everything
    on web.archive.org, and someone else's server is not this source."""
    parts = urlsplit(url)
    if _site(parts.hostname) != _site(urlsplit(page_url).hostname):
        return False
    if _DOCUMENT_FILE.search(parts.path) or _DOCUMENT_IN_QUERY.search(parts.query):
        return True
    file_name = parts.path.rsplit("/", 1)[-1]
    return "." not in file_name and any(word in text for word in _DOCUMENT_WORDS)


def _site(host: str | None) -> str | None:
    """The host without its first label when it has three or more: www.news.cn → news.cn."""
    labels = (host or "").split(".")
    return ".".join(labels[1:]) if len(labels) >= 3 and not labels[-1].isdigit() else host


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _headers(headers) -> dict[str, str]:
    return {k.decode("latin-1"): b", ".join(v).decode("latin-1") for k, v in headers.items()}


class WatchlistSpider(scrapy.Spider):
    """Base for the spiders. `sources` comes from the docwatch CLI; from the `scrapy` command,
    `-a source=ID[,ID]` picks sources from the watchlist ($DOCWATCH_WATCHLIST or ./watchlist.yaml)."""

    source_type: str = ""
    # Error statuses reach the callback, so a 404 or a 503 is recorded rather than dropped;
    # 3xx stay with the redirect middleware.
    handle_httpstatus_list = list(range(400, 600))

    def __init__(self, sources: Iterable[Source] | None = None, source: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        if sources is None:
            watchlist = load_watchlist(os.environ.get("DOCWATCH_WATCHLIST", "watchlist.yaml"))
            wanted = set(source.split(",")) if source else None
            sources = [s for s in watchlist.sources if wanted is None or s.id in wanted]
        self.sources = {s.id: s for s in sources if s.type == self.source_type}

    def request(self, source: Source, url: str, kind: str, callback, **meta: Any) -> scrapy.Request:
        meta.update(source_id=source.id, kind=kind)
        if not source.obey_robots:
            meta["dont_obey_robotstxt"] = True
        if source.proxy:
            meta["proxy"] = source.proxy
        return scrapy.Request(url, callback=callback, errback=self.failed, meta=meta)

    def page_answered(self, response: Response) -> Iterator[FetchedPage | scrapy.Request]:
        """A page or article: the answer itself, then a request for each attachment it links."""
        yield self.fetched(response)
        if response.status >= 300 or not isinstance(response, TextResponse) or not _MAYBE_DOCUMENT.search(response.body):
            return
        source = self.sources[response.meta["source_id"]]
        max_bytes = self.settings.getint("DOCWATCH_MAX_DOCUMENT_BYTES")
        content_type = response.headers.get(b"Content-Type", b"").decode("latin-1")
        html, _ = decode_html(response.body, header_charset(content_type), source.encoding)
        for link in extract_links(html, response.url):
            maybe = _DOCUMENT_IN_URL.search(link.url) or any(word in link.text for word in _DOCUMENT_WORDS)
            if maybe and is_document_link(link.url, link.text, response.url):
                # Scrapy's duplicate filter fetches a file linked twice only once per crawl.
                yield self.request(source, link.url, "document", self.parse_document, parent_url=_page_url(response),
                                   link_text=link.text[:300], download_maxsize=max_bytes, download_warnsize=max_bytes // 2)

    def parse_document(self, response: Response):
        yield self.fetched(response)

    def fetched(self, response: Response) -> FetchedPage:
        return FetchedPage(
            source_id=response.meta["source_id"],
            kind=response.meta["kind"],
            url=_page_url(response),
            final_url=response.url,
            status=response.status,
            headers=_headers(response.headers),
            body=response.body,
            fetched_at=_now(),
            elapsed_ms=_elapsed_ms(response.meta),
            request_headers=_headers(response.request.headers),
            parent_url=response.meta.get("parent_url"),
            link_text=response.meta.get("link_text", ""),
        )

    def http_error(self, response: Response) -> FetchFailed:
        return FetchFailed(
            source_id=response.meta["source_id"],
            kind=response.meta["kind"],
            url=_page_url(response),
            error=f"HTTP {response.status}",
            fetched_at=_now(),
            status=response.status,
            size=len(response.body),
        )

    def failed(self, failure: Failure):
        request = failure.request
        yield FetchFailed(
            source_id=request.meta["source_id"],
            kind=request.meta["kind"],
            url=request.meta.get("redirect_urls", [request.url])[0],
            error=f"{failure.type.__name__}: {failure.getErrorMessage()}",
            fetched_at=_now(),
        )


def _page_url(response: Response) -> str:
    """The URL as requested, before redirects: a page's identity."""
    return response.meta.get("redirect_urls", [response.url])[0]


def _elapsed_ms(meta: dict) -> int | None:
    latency = meta.get("download_latency")
    return None if latency is None else int(latency * 1000)
