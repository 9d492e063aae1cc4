"""`page` sources: one URL each, fetched as is."""

from __future__ import annotations

from spiders.base import WatchlistSpider


class PageSpider(WatchlistSpider):
    name = "page"
    source_type = "page"

    async def start(self):
        for source in self.sources.values():
            yield self.request(source, source.url, "page", self.parse)

    def parse(self, response):
        yield from self.page_answered(response)
