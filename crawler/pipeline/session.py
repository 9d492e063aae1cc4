"""What the stages of one crawl share: its database connection, its run, and whether storing
goes on. A Scrapy extension, so that each stage finds it with `crawler.get_extension`."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from scrapy import signals
from scrapy.utils.defer import deferred_from_coro

from crawler.compare.keywords import KeywordSet
from crawler.config.watchlist import Source, keyword_sets_of
from crawler.fetch.dupefilter import FIRST_REQUESTED_BY
from crawler.fetch.middlewares import SOURCE_ID
from crawler.pipeline.store import store_fetch_only
from storage import open_database, out_of_space, queries
from storage.database import describe_write_error, keep_space_reserve, release_space_reserve
from storage.queries import SKIPPED

log = logging.getLogger(__name__)

# request.meta: the crawl has counted this URL (copied to its redirects and retries, so counted once).
REQUEST_COUNTED = "docwatch_counted"

# Sent (with `message`) when the crawl cannot write its data any more: the runner stops every
# spider of the run and reports the run failed.
storage_failed = object()


class StorageStopped(Exception):
    """Storing stopped (a full disk) while this item was on its way to be stored."""


class CrawlSession:
    """Writes to the SQLite file named by the DOCWATCH_DB setting. When the docwatch CLI started
    the run it passes DOCWATCH_RUN_ID; a bare `scrapy crawl` gets a run of its own. The sources
    and keyword sets are the spider's: the watchlist is read once, by whoever started the crawl.

    The database is opened here, when the crawl is set up (an error stops it before any fetch),
    and closed on `spider_closed`, after the stages' own `close_spider`."""

    def __init__(self, crawler):
        self.crawler = crawler
        settings = crawler.settings
        self.db_path = settings.get("DOCWATCH_DB", "docwatch.db")
        self.warc_dir = Path(settings.get("DOCWATCH_WARC_DIR") or Path(self.db_path).parent / "warc")
        run_id = settings.get("DOCWATCH_RUN_ID")
        self.run_id = int(run_id) if run_id else None
        self.owns_run = self.run_id is None
        self.sources: dict[str, Source] = crawler.spider.sources
        self.keyword_sets: dict[str, KeywordSet] = crawler.spider.keyword_sets
        self.requested = 0  # the URLs the crawl set out to fetch
        self.storage_error: str | None = None  # set when nothing more can be written
        self.db = open_database(self.db_path)
        keep_space_reserve(self.db_path)
        if self.owns_run:
            queries.sync_sources(self.db, self.sources.values())
            self.run_id = queries.start_run(self.db, "scrapy", sorted(self.sources))

    @classmethod
    def from_crawler(cls, crawler):
        session = cls(crawler)
        crawler.signals.connect(session.request_scheduled, signal=signals.request_scheduled)
        crawler.signals.connect(session.request_dropped, signal=signals.request_dropped)
        crawler.signals.connect(session.close, signal=signals.spider_closed)
        return session

    @property
    def storing(self) -> bool:
        return self.storage_error is None

    def keyword_sets_of(self, source: Source) -> tuple[KeywordSet, ...]:
        return keyword_sets_of(source, self.keyword_sets)

    def request_scheduled(self, request, spider=None):
        """Counts each URL the crawl sets out to fetch once, however often it is redirected or
        retried: the mark in its meta goes with the copies Scrapy makes for those."""
        self.count_requested(request)

    def request_dropped(self, request, spider=None):
        """The duplicate filter refused a request: recorded as skipped, never silently lost."""
        if not self.count_requested(request):
            return
        first = request.meta.get(FIRST_REQUESTED_BY)
        reason = "duplicate: already requested in this run" + (f" by source {first}" if first else "")
        store_fetch_only(self.db, self.run_id, request.meta[SOURCE_ID], request.url, request.meta["kind"],
                         queries.utcnow(), SKIPPED, reason)

    def count_requested(self, request) -> bool:
        """Count a request for a page of a source (not robots.txt) the first time it is seen."""
        if SOURCE_ID not in request.meta:
            return False
        if not request.meta.get(REQUEST_COUNTED):
            request.meta[REQUEST_COUNTED] = True
            self.requested += 1
        return True

    @contextlib.contextmanager
    def stops_on_full_disk(self):
        """Around a stage's writes: a full disk (or a quota) stops storing, for this item and every
        later one, which the store stage then records as not stored; any other error goes on up."""
        try:
            yield
        except StorageStopped:
            pass
        except Exception as error:
            if not out_of_space(error):
                raise
            self.stop_storing(error)

    def check_still_storing(self) -> None:
        """Pages extracted while the disk filled up must not use the space kept for the records."""
        if self.storage_error is not None:
            raise StorageStopped(self.storage_error)

    def stop_storing(self, error: BaseException) -> None:
        """The disk (or a quota) is full: say so once, and stop the crawl, since nothing more it
        fetches could be kept. What was fetched and not stored is fetched again next time."""
        if self.storage_error is not None:
            return
        self.storage_error = f"cannot write to {Path(self.db_path).parent}: {describe_write_error(error)}"
        release_space_reserve(self.db, self.db_path)  # room to record the fetches in flight and the run's end
        if not self.crawler.signals.send_catch_log(storage_failed, message=self.storage_error):
            log.error("%s; the crawl stops", self.storage_error)  # a bare `scrapy crawl`: no runner to tell
        deferred_from_coro(self.crawler.stop_async())

    def close(self, spider=None, reason=None):
        if self.storage_error is None:  # a crawl stopped early counts nothing
            queries.add_run_requests(self.db, self.run_id, self.requested)
        if self.owns_run:
            queries.finish_run(self.db, self.run_id, "failed" if self.storage_error else "done", self.storage_error)
        self.db.close()
