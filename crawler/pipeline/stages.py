"""The Scrapy item pipeline: each item a spider yields goes through extract → compare → store here."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import multiprocessing
import os
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from scrapy import signals
from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future
from twisted.internet.threads import deferToThread

from crawler.extract.capture import (
    DOCUMENT_FINGERPRINT, capture_document, extraction_fingerprint, listing_extraction, matcher_for, prepare_page,
    warc_exchange,
)
from crawler.config.settings import watchlist_path
from crawler.fetch.verdict import Verdict, classify_response, is_error_page
from crawler.extract.documents import DocumentReading, read_document
from crawler.archive.warc import WarcExchange, WarcRecordRef, WarcWriter
from crawler.fetch.items import FetchedPage, FetchFailed, FetchSkipped, ListingFetched
from crawler.lifeline import die_with_parent
from crawler.pipeline.store import (
    Attachment, ListingRead, store_capture, store_failure, store_gone, store_listing, store_listing_page, store_same_body,
    store_fetch_only,
)
from crawler.compare.keywords import KeywordSet
from crawler.config.watchlist import Source, load_watchlist
from spiders.base import FETCH_ID
from storage import open_database, out_of_space, queries
from storage.database import describe_write_error, keep_space_reserve, release_space_reserve
from storage.queries import FAILED, SKIPPED, PageCapture

log = logging.getLogger(__name__)


class StorageStopped(Exception):
    """Storing stopped (a full disk) while this item was on its way to be stored."""


# Sent (with `message`) when the crawl cannot write its data any more: the runner stops every
# spider of the run and reports the run failed.
storage_failed = object()

_extraction_pool: ProcessPoolExecutor | None = None


def extraction_pool() -> ProcessPoolExecutor:
    """Extraction (decode, parse, main text) is the heaviest step: it runs in worker processes,
    one per core, while this process fetches and writes the database. Shared by both spiders.
    Workers are spawned (no fork of a process with threads) as direct children, so the crawl's
    CPU accounting includes them once `shutdown_extraction_pool` has waited for them. They die
    with the crawl, however it ends; the pool is used from the reactor (main) thread only."""
    global _extraction_pool
    if _extraction_pool is None:
        _extraction_pool = ProcessPoolExecutor(
            max_workers=os.cpu_count() or 1, mp_context=multiprocessing.get_context("spawn"),
            initializer=die_with_parent, initargs=(os.getpid(),),
        )
    return _extraction_pool


def shutdown_extraction_pool() -> None:
    global _extraction_pool
    if _extraction_pool is not None:
        _extraction_pool.shutdown(wait=True)
        _extraction_pool = None


class StorePipeline:
    """Writes to the SQLite file named by the DOCWATCH_DB setting, matching the keyword sets of
    the watchlist named by DOCWATCH_WATCHLIST. When the docwatch CLI started the run it passes
    DOCWATCH_RUN_ID; a bare `scrapy crawl` gets a run of its own."""

    def __init__(self, crawler):
        self.crawler = crawler
        settings = crawler.settings
        self.db_path = settings.get("DOCWATCH_DB", "docwatch.db")
        self.watchlist_path = settings.get("DOCWATCH_WATCHLIST") or watchlist_path(None)
        self.warc_dir = settings.get("DOCWATCH_WARC_DIR") or Path(self.db_path).parent / "warc"
        run_id = settings.get("DOCWATCH_RUN_ID")
        self.run_id = int(run_id) if run_id else None
        self.owns_run = self.run_id is None
        self.listings: dict[str, ListingRead] = defaultdict(ListingRead)  # listing source → what was read
        self.requested: set[int] = set()  # fetch ids: the URLs the crawl set out to fetch
        self.requested_by: dict[str, str] = {}  # URL → the source that asked for it first
        self.storage_error: str | None = None  # set when nothing more can be written

    @classmethod
    def from_crawler(cls, crawler):
        pipeline = cls(crawler)
        crawler.signals.connect(pipeline.request_scheduled, signal=signals.request_scheduled)
        crawler.signals.connect(pipeline.request_dropped, signal=signals.request_dropped)
        return pipeline

    def request_scheduled(self, request, spider=None):
        """Counts each URL the crawl sets out to fetch once, however often it is redirected or retried."""
        if FETCH_ID in request.meta:
            self.requested.add(request.meta[FETCH_ID])
            self.requested_by.setdefault(request.url, request.meta["source_id"])

    def request_dropped(self, request, spider=None):
        """Scrapy's duplicate filter refused a request: recorded as skipped, never silently lost."""
        if FETCH_ID not in request.meta:
            return
        self.requested.add(request.meta[FETCH_ID])
        first = self.requested_by.get(request.url)
        reason = "duplicate: already requested in this run" + (f" by source {first}" if first else "")
        store_fetch_only(self.db, self.run_id, request.meta["source_id"], request.url, request.meta["kind"],
                         queries.utcnow(), SKIPPED, reason)

    def open_spider(self, spider=None):
        self.db = open_database(self.db_path)
        keep_space_reserve(self.db_path)
        self.warc = WarcWriter(Path(self.warc_dir))
        self.sources = self.crawler.spider.sources
        self.keyword_sets = load_watchlist(self.watchlist_path).keyword_sets
        if self.owns_run:
            queries.sync_sources(self.db, self.sources.values())
            self.run_id = queries.start_run(self.db, "scrapy", sorted(self.sources))

    def close_spider(self, spider=None):
        if self.storage_error is None:  # a crawl stopped early read partial listings, and counts nothing
            queries.add_run_requests(self.db, self.run_id, len(self.requested))
            for source_id, read in self.listings.items():
                if not read.failed:  # a partial listing says nothing about what was dropped
                    store_listing(self.db, self.run_id, source_id, read, queries.utcnow(),
                                  matcher_for(self.keyword_sets_of(self.sources[source_id])))
        if self.owns_run:
            queries.finish_run(self.db, self.run_id, "failed" if self.storage_error else "done", self.storage_error)
        self.db.close()

    def keyword_sets_of(self, source: Source) -> tuple[KeywordSet, ...]:
        return tuple(self.keyword_sets[name] for name in source.keyword_sets if name in self.keyword_sets)

    async def process_item(self, item, spider=None):
        if self.storage_error is None:
            try:
                await self._process(item)
                return item
            except StorageStopped:
                pass
            except Exception as error:
                if not out_of_space(error):
                    raise
                self._stop_storing(error)
        self._record_unsaved(item)
        return item

    def _stop_storing(self, error: BaseException) -> None:
        """The disk (or a quota) is full: say so once, and stop the crawl, since nothing more it
        fetches could be kept. What was fetched and not stored is fetched again next time."""
        if self.storage_error is not None:
            return
        self.storage_error = f"cannot write to {Path(self.db_path).parent}: {describe_write_error(error)}"
        release_space_reserve(self.db, self.db_path)  # room to record the fetches in flight and the run's end
        if not self.crawler.signals.send_catch_log(storage_failed, message=self.storage_error):
            log.error("%s; the crawl stops", self.storage_error)  # a bare `scrapy crawl`: no runner to tell
        deferred_from_coro(self.crawler.stop_async())

    def _check_still_storing(self) -> None:
        """Pages extracted while the disk filled up must not use the space kept for the records."""
        if self.storage_error is not None:
            raise StorageStopped(self.storage_error)

    def _record_unsaved(self, item) -> None:
        """A fetch the full disk kept us from storing: a failed fetch row, if even that fits."""
        unsaved = f"not stored: {self.storage_error}"
        if isinstance(item, ListingFetched):
            item = item.answer
        if isinstance(item, FetchFailed):
            error = f"{item.error}; {unsaved}"
        elif isinstance(item, FetchSkipped):
            error = f"{item.reason}; {unsaved}"
        else:
            error = unsaved
        size = len(item.body) if isinstance(item, FetchedPage) else getattr(item, "size", None)
        try:
            store_fetch_only(self.db, self.run_id, item.source_id, item.url, item.kind, item.fetched_at, FAILED, error,
                             getattr(item, "status", None), size)
        except Exception as failure:
            if not out_of_space(failure):
                raise

    async def _process(self, item) -> None:
        if isinstance(item, FetchedPage):
            await self._store_page(item)
        elif isinstance(item, ListingFetched):
            await self._store_listing_page(item)
        elif isinstance(item, FetchFailed):
            if item.kind == "listing":
                self.listings[item.source_id].failed = True
            store_failure(self.db, self.run_id, item.source_id, item.url, item.kind, item.fetched_at, item.error,
                          item.status, item.size, item.final_url)
        elif isinstance(item, FetchSkipped):
            store_fetch_only(self.db, self.run_id, item.source_id, item.url, item.kind, item.fetched_at, SKIPPED,
                             item.reason)

    async def _store_page(self, item: FetchedPage) -> None:
        source = self.sources[item.source_id]
        verdict, reason = classify_response(item.status, item.url, item.final_url, item.body)
        if verdict is Verdict.OK and (attachments := self._same_body_as_last_time(item, source)) is not None:
            self._request_documents(item, source, attachments)
            return
        if verdict is Verdict.OK and item.kind == "document":
            # Reading a file may take up to a minute (in a child process): wait for it in a
            # thread, so that downloads go on meanwhile; the database is written here, as ever.
            reading = await maybe_deferred_to_future(deferToThread(read_document, item.body, source.ocr_languages))
            verdict, reason = await self._store_document(item, source, reading)
        elif verdict is Verdict.OK:
            verdict, reason = await self._store_content(item, source)
        if verdict is Verdict.GONE:
            store_gone(self.db, self.run_id, item.source_id, item.url, item.kind, item.fetched_at, reason,
                       item.status, source.removal_confirmations, item.final_url)
        elif verdict is Verdict.ERROR:
            store_failure(self.db, self.run_id, item.source_id, item.url, item.kind, item.fetched_at, reason,
                          item.status, len(item.body), item.final_url)

    def _same_body_as_last_time(self, item: FetchedPage, source) -> list[dict[str, str]] | None:
        """Recorded unchanged by the fast path: the page's attachments; else None."""
        fingerprint = DOCUMENT_FINGERPRINT if item.kind == "document" else extraction_fingerprint(source)
        return store_same_body(self.db, self.run_id, item.url, item.fetched_at, hashlib.sha256(item.body).hexdigest(),
                               fingerprint, item.status, item.elapsed_ms, len(item.body), item.final_url)

    async def _store_content(self, item: FetchedPage, source) -> tuple[Verdict, str]:
        """Extract and store a page; a verdict other than OK says why nothing was stored."""
        try:
            capture, exchange = await asyncio.wrap_future(
                extraction_pool().submit(prepare_page, item, source, self.keyword_sets_of(source))
            )
            capture = dataclasses.replace(capture, body=item.body)
        except Exception as error:  # a hostile or broken page: record it, keep crawling
            log.exception("could not extract %s", item.url)
            return Verdict.ERROR, f"extraction failed: {error!r}"
        if is_error_page(capture.title, capture.text):
            return Verdict.GONE, f"error page: {capture.title[:80]}"
        await self._store(capture, exchange, source)
        self._request_documents(item, source, capture.attachments)
        return Verdict.OK, ""

    def _request_documents(self, item: FetchedPage, source: Source, attachments: list[dict[str, str]]) -> None:
        """Fetch the documents a page links, as its spider's requests (found in extraction)."""
        if item.kind == "document":
            return
        for link in attachments:
            request = self.crawler.spider.document_request(source, link["url"], link["text"], item.url)
            self.crawler.engine.crawl(request)

    async def _store_document(self, item: FetchedPage, source, reading: DocumentReading) -> tuple[Verdict, str]:
        """Store an attachment like a page, or say why its file could not be read."""
        if reading.error is not None:
            return Verdict.ERROR, reading.error
        if reading.ocr_error is not None:
            log.warning("%s kept without text: %s", item.url, reading.ocr_error)
        capture = capture_document(item, reading.text)
        exchange = warc_exchange(item, capture, {"file_type": reading.file_type, "text_origin": reading.text_origin})
        await self._store(capture, exchange, source, Attachment(item.parent_url or "", reading.file_type, reading.text_origin, reading.ocr_confidence,
                                                          reading.ocr_page_hashes, reading.ocr_skipped_pages))
        return Verdict.OK, ""

    async def _store(self, capture: PageCapture, exchange: WarcExchange, source: Source,
                     attachment: Attachment | None = None) -> None:
        warc = await self._warc_record_if_new(capture, exchange)
        store_capture(self.db, self.run_id, capture, matcher_for(self.keyword_sets_of(source)), warc, attachment)

    async def _store_listing_page(self, item: ListingFetched) -> None:
        """A list page is evidence like any page; its links also make up the listing as a whole."""
        read = self.listings[item.answer.source_id]
        read.article_urls.extend(url for url in item.article_urls if url not in read.article_urls)
        read.shown.update(link["url"] for link in item.listing.links)
        exchange = warc_exchange(item.answer, item.listing, listing_extraction(self.sources[item.answer.source_id]))
        warc = await self._warc_record_if_new(item.listing, exchange)
        read.snapshots[item.listing.url] = store_listing_page(self.db, self.run_id, item.listing, warc)

    async def _warc_record_if_new(self, capture: PageCapture, exchange: WarcExchange) -> WarcRecordRef | None:
        """Local evidence first: the WARC records are on disk before the snapshot that points to them.
        The append waits for fsync, in a thread: downloads and other pages go on meanwhile."""
        warc = None
        if queries.needs_snapshot(self.db, capture.url, capture.text_sha256):
            self._check_still_storing()
            warc = await maybe_deferred_to_future(deferToThread(self.warc.append, exchange))
        self._check_still_storing()
        return warc
