"""Downloader middlewares docwatch adds to Scrapy's defaults."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from urllib.parse import urldefrag

from scrapy import Request
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware, RedirectMiddleware
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import IgnoreRequest

from crawler.fetch.items import WireExchange

WIRE_EXCHANGE = "wire_exchange"  # request.meta: the last answer as it came off the wire
HOPS = "hops"  # request.meta: the redirects followed so far, each a WireExchange
SOURCE_ID = "source_id"  # request.meta: the source a request fetches for (robots.txt requests have none)
UNRECORDED_REQUEST_HEADERS = frozenset({b"Proxy-Authorization"})  # a secret, never written to evidence


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retry, but each retry waits exponentially longer (base × 2^(n-1), capped).

    Slow county servers answer 503 under load; hammering them again at once only makes it worse.
    """

    def __init__(self, settings):
        super().__init__(settings)
        self.backoff_base = settings.getfloat("RETRY_BACKOFF_BASE")
        self.backoff_max = settings.getfloat("RETRY_BACKOFF_MAX")

    async def process_request(self, request, spider=None):
        retries = request.meta.get("retry_times", 0)
        if retries:
            await asyncio.sleep(min(self.backoff_base * 2 ** (retries - 1), self.backoff_max))
        return None


class WireRecorderMiddleware:
    """Keeps every answer as it arrived, in `request.meta[WIRE_EXCHANGE]`: placed (at 650) nearer
    the downloader than RedirectMiddleware (600) and HttpCompressionMiddleware (590), it sees
    each redirect before it is followed and each body before it is decompressed."""

    def process_response(self, request, response, spider=None):
        request.meta[WIRE_EXCHANGE] = WireExchange(
            url=request.url,
            method=request.method,
            request_headers=_header_lines(request.headers, leave_out=UNRECORDED_REQUEST_HEADERS),
            status=response.status,
            protocol=response.protocol or "HTTP/1.1",
            headers=_header_lines(response.headers),
            body=response.body,
            received_at=datetime.now(timezone.utc).isoformat(timespec="microseconds"),
            ip=str(response.ip_address) if response.ip_address else None,
        )
        return response


class RedirectFailed(IgnoreRequest):
    """A redirect loop, or more redirects than REDIRECT_MAX_TIMES: the URL's fetch failed, for this reason."""


class HopRecording:
    """What docwatch adds to a Scrapy redirect middleware. Each redirect it follows is kept as a
    hop (for the WARC records); a loop or too many redirects fail the fetch with the chain of
    URLs; and a redirected request is never dropped as a duplicate, because the URL a watched
    page now leads to may be one another source watches, and each must be its own page."""

    max_redirect_times: int
    reload_is_answer = False  # a redirect to the URL itself is this answer, not a loop

    def process_response(self, request, response, spider=None):
        chain = [*request.meta.get("redirect_urls", []), request.url]
        try:
            redirected = super().process_response(request, response)
        except IgnoreRequest as refused:  # Scrapy's "max redirections reached"
            raise RedirectFailed(
                f"too many redirects (more than {self.max_redirect_times}): {' → '.join(chain)} → "
                f"{response.headers.get('Location', b'?').decode('latin-1')}"
            ) from refused
        if not isinstance(redirected, Request):
            return redirected
        if self.reload_is_answer and urldefrag(redirected.url).url == urldefrag(request.url).url:
            return response
        if urldefrag(redirected.url).url in {urldefrag(url).url for url in chain}:
            raise RedirectFailed(f"redirect loop: {' → '.join([*chain, redirected.url])}")
        redirected.dont_filter = True
        redirected.meta[HOPS] = [*request.meta.get(HOPS, []), request.meta[WIRE_EXCHANGE]]
        return redirected


class HopRedirectMiddleware(HopRecording, RedirectMiddleware):
    """Scrapy's 3xx redirects, with docwatch's hop recording."""


class QuickMetaRefreshMiddleware(HopRecording, MetaRefreshMiddleware):
    """Scrapy's meta-refresh redirect, with docwatch's hop recording, and without decoding every
    page to look for one.

    Scrapy reads the first 4,096 characters of the decoded text, and decoding a page that
    declares no charset runs charset detection over all of it. A refresh tag has the word
    "refresh" in those characters, so a page whose first 16 kB (4,096 characters of at most
    four bytes) lack it has none. A page whose refresh tag reloads the page itself (a news page
    refreshing every 30 s) is the answer.
    """

    reload_is_answer = True

    def process_response(self, request, response, spider=None):
        if b"refresh" not in response.body[:16_384].lower():
            return response
        return super().process_response(request, response)


def _header_lines(headers, leave_out: frozenset[bytes] = frozenset()) -> list[tuple[str, str]]:
    """Scrapy's headers as (name, value) lines, one per value, in the order received."""
    return [(name.decode("latin-1"), value.decode("latin-1"))
            for name, values in headers.items() if name not in leave_out for value in values]
