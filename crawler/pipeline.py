"""The Scrapy item pipeline: every item a spider yields is extracted, compared and stored here."""

from __future__ import annotations

import logging

from crawler.capture import capture_page
from crawler.items import FetchedPage, FetchFailed, ListingFetched
from storage import open_database
from storage import queries

log = logging.getLogger(__name__)


class StorePipeline:
    """Writes to the SQLite file named by the DOCWATCH_DB setting. When the docwatch CLI started
    the run it passes DOCWATCH_RUN_ID; a bare `scrapy crawl` gets a run of its own."""

    def __init__(self, crawler, db_path: str, run_id: int | None):
        self.crawler = crawler
        self.db_path = db_path
        self.run_id = run_id
        self.owns_run = run_id is None

    @classmethod
    def from_crawler(cls, crawler):
        run_id = crawler.settings.get("DOCWATCH_RUN_ID")
        return cls(crawler, crawler.settings.get("DOCWATCH_DB", "docwatch.db"), int(run_id) if run_id else None)

    def open_spider(self, spider=None):
        self.db = open_database(self.db_path)
        self.sources = self.crawler.spider.sources
        if self.owns_run:
            queries.sync_sources(self.db, self.sources.values())
            self.run_id = queries.start_run(self.db, "scrapy", sorted(self.sources))

    def close_spider(self, spider=None):
        if self.owns_run:
            queries.finish_run(self.db, self.run_id, "done")
        self.db.close()

    def process_item(self, item, spider=None):
        if isinstance(item, FetchedPage):
            self._store_page(item)
        elif isinstance(item, ListingFetched):
            queries.record_listing_fetch(
                self.db, self.run_id, item.source_id, item.url, item.fetched_at, item.status, item.size, item.elapsed_ms
            )
        elif isinstance(item, FetchFailed):
            self._store_failure(item)
        return item

    def _store_page(self, item: FetchedPage) -> None:
        if item.status >= 400:
            self._store_failure(
                FetchFailed(item.source_id, item.kind, item.url, f"HTTP {item.status}", item.fetched_at, item.status, len(item.body))
            )
            return
        try:
            capture = capture_page(item, self.sources[item.source_id])
        except Exception as error:  # hostile or broken page: record it, keep crawling
            log.exception("could not extract %s", item.url)
            self._store_failure(
                FetchFailed(item.source_id, item.kind, item.url, f"extraction failed: {error!r}", item.fetched_at, item.status, len(item.body))
            )
            return
        queries.record_capture(self.db, self.run_id, capture)

    def _store_failure(self, item: FetchFailed) -> None:
        queries.record_failure(
            self.db,
            self.run_id,
            queries.FailedFetch(
                source_id=item.source_id, url=item.url, kind=item.kind, fetched_at=item.fetched_at,
                error=item.error, http_status=item.status, size=item.size,
            ),
        )
