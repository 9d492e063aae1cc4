"""What both spiders share: which sources they crawl, how a request is built, how answers become items."""

from __future__ import annotations

from typing import Any, Iterable, Iterator

import scrapy
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from twisted.python.failure import Failure

from crawler.compare.keywords import KeywordSet
from crawler.config.settings import watchlist_path
from crawler.config.watchlist import Source, load_watchlist
from crawler.fetch.items import FetchedPage, FetchFailed, FetchSkipped
from crawler.fetch.middlewares import HOPS, SOURCE_ID, WIRE_EXCHANGE
from storage import utcnow

# Scrapy's refusals that are docwatch's policy, not a failure of the page: a skipped fetch.
# Other refusals (a body over the size cap once decompressed, too many redirects) are failures.
SKIP_REASONS = ("Forbidden by robots.txt", "Filtered offsite request")


def _headers(headers) -> dict[str, str]:
    return {k.decode("latin-1"): b", ".join(v).decode("latin-1") for k, v in headers.items()}


class WatchlistSpider(scrapy.Spider):
    """Base for the spiders. `sources` and the watchlist's `keyword_sets` come from the docwatch
    CLI; from the `scrapy` command, `-a source=ID[,ID]` picks sources from the watchlist
    ($DOCWATCH_WATCHLIST or ./watchlist.yaml). The pipeline's stages take both from here."""

    source_type: str = ""
    # Error statuses reach the callback, so a 404 or a 503 is recorded rather than dropped;
    # 3xx stay with the redirect middleware.
    handle_httpstatus_list = list(range(400, 600))

    def __init__(self, sources: Iterable[Source] | None = None, keyword_sets: dict[str, KeywordSet] | None = None,
                 source: str | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        if sources is None:
            watchlist = load_watchlist(watchlist_path(None))
            wanted = set(source.split(",")) if source else None
            sources = [s for s in watchlist.sources if wanted is None or s.id in wanted]
            keyword_sets = watchlist.keyword_sets
        if keyword_sets is None:
            raise TypeError("a spider given its sources needs the watchlist's keyword_sets too")
        self.sources = {s.id: s for s in sources if s.type == self.source_type}
        self.keyword_sets = keyword_sets

    def request(self, source: Source, url: str, kind: str, callback, **meta: Any) -> scrapy.Request:
        meta.update({SOURCE_ID: source.id, "kind": kind})
        if not source.obey_robots:
            meta["dont_obey_robotstxt"] = True
        if source.proxy:
            meta["proxy"] = source.proxy
        return scrapy.Request(url, callback=callback, errback=self.failed, meta=meta)

    def page_answered(self, response: Response) -> Iterator[FetchedPage]:
        """A page or article. Its attachments are found when the pipeline extracts it (one
        parse, in a worker), and requested through `document_request`."""
        yield self.fetched(response)

    def document_request(self, source: Source, url: str, link_text: str, parent_url: str) -> scrapy.Request:
        """A request for an attachment of the page at `parent_url`, with the documents' own size cap.
        Scrapy's duplicate filter fetches a file linked twice only once per crawl."""
        max_bytes = self.settings.getint("DOCWATCH_MAX_DOCUMENT_BYTES")
        return self.request(source, url, "document", self.parse_document, parent_url=parent_url,
                            link_text=link_text[:300], download_maxsize=max_bytes, download_warnsize=max_bytes // 2)

    def parse_document(self, response: Response):
        yield self.fetched(response)

    def fetched(self, response: Response) -> FetchedPage:
        return FetchedPage(
            source_id=response.meta[SOURCE_ID],
            kind=response.meta["kind"],
            url=_page_url(response),
            final_url=response.url,
            status=response.status,
            headers=_headers(response.headers),
            body=response.body,
            fetched_at=utcnow(),
            elapsed_ms=_elapsed_ms(response.meta),
            exchanges=[*response.meta.get(HOPS, []), response.meta[WIRE_EXCHANGE]],
            parent_url=response.meta.get("parent_url"),
            link_text=response.meta.get("link_text", ""),
        )

    def unusable(self, response: Response, error: str) -> FetchFailed:
        """An answer that came but cannot be used, and why."""
        return FetchFailed(
            source_id=response.meta[SOURCE_ID],
            kind=response.meta["kind"],
            url=_page_url(response),
            error=error,
            fetched_at=utcnow(),
            status=response.status,
            size=len(response.body),
            final_url=response.url,
        )

    def failed(self, failure: Failure):
        """No answer to use: a failed fetch with the reason, or, for a request docwatch's policy
        kept from being sent (robots.txt, off-site), a skipped one."""
        request = failure.request
        url = request.meta.get("redirect_urls", [request.url])[0]
        message = failure.getErrorMessage()
        if failure.check(IgnoreRequest) and message.startswith(SKIP_REASONS):
            yield FetchSkipped(source_id=request.meta[SOURCE_ID], kind=request.meta["kind"], url=url,
                               reason=message, fetched_at=utcnow())
            return
        yield FetchFailed(
            source_id=request.meta[SOURCE_ID],
            kind=request.meta["kind"],
            url=url,
            error=message if failure.check(IgnoreRequest) else f"{failure.type.__name__}: {message}",
            fetched_at=utcnow(),
            final_url=request.url,
        )


def _page_url(response: Response) -> str:
    """The URL as requested, before redirects: a page's identity."""
    return response.meta.get("redirect_urls", [response.url])[0]


def _elapsed_ms(meta: dict) -> int | None:
    latency = meta.get("download_latency")
    return None if latency is None else int(latency * 1000)
