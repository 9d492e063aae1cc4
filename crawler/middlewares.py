"""Downloader middlewares docwatch adds to Scrapy's defaults."""

from __future__ import annotations

import asyncio

from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware
from scrapy.downloadermiddlewares.retry import RetryMiddleware


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


class QuickMetaRefreshMiddleware(MetaRefreshMiddleware):
    """Scrapy's meta-refresh redirect, without decoding every page to look for one.

    Scrapy reads the first 4,096 characters of the decoded text, and decoding a page that
    declares no charset runs charset detection over all of it. A refresh tag has the word
    "refresh" in those characters, so a page whose first 16 kB (4,096 characters of at most
    four bytes) lack it has none.
    """

    def process_response(self, request, response, spider=None):
        if b"refresh" not in response.body[:16_384].lower():
            return response
        return super().process_response(request, response)
