"""A progress bar on the terminal while a crawl runs (only when stderr is a terminal)."""

from __future__ import annotations

from scrapy import signals
from tqdm import tqdm

from crawler.fetch.items import FetchedPage, FetchFailed


class Progress:
    """Counts pages as they are stored; the total grows as listings reveal articles.

    The page spider and the listing spider run side by side, each with its own extension
    instance, so they share one bar: the one the runner opened with `Progress.open()`.
    """

    bar: tqdm | None = None

    @classmethod
    def open(cls) -> None:
        cls.bar = tqdm(total=0, unit="page", desc="crawling", leave=False, dynamic_ncols=True)

    @classmethod
    def close(cls) -> None:
        if cls.bar is not None:
            cls.bar.close()
            cls.bar = None

    @classmethod
    def from_crawler(cls, crawler):
        extension = cls()
        crawler.signals.connect(extension.request_scheduled, signal=signals.request_scheduled)
        crawler.signals.connect(extension.item_scraped, signal=signals.item_scraped)
        return extension

    def request_scheduled(self, request, spider=None):
        if self.bar is not None and request.meta.get("kind") in ("page", "article"):
            self.bar.total += 1
            self.bar.refresh()

    def item_scraped(self, item, response=None, spider=None):
        if self.bar is not None and isinstance(item, (FetchedPage, FetchFailed)) and item.kind != "listing":
            self.bar.set_postfix_str(item.url[-60:], refresh=False)
            self.bar.update(1)
