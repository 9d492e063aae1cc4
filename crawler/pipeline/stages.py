"""The Scrapy item pipeline: each item a spider yields goes through these stages, in the order
of ITEM_PIPELINES (crawler/fetch/scrapy_settings/base.py):

    VerdictStage → UnchangedStage → ExtractStage → WarcStage → StoreStage → DocumentRequestStage

A fetched page becomes a `StagedPage` in the first stage and carries what each stage found
(verdict, capture, WARC record, whether it is stored) to the next. A stage that has nothing to
do with an item hands it on untouched; none drops one (Scrapy's DropItem would log each drop
and skip the store stage, and every fetch must end in a row). Stages share the crawl's
`CrawlSession` (database, run, full-disk state) and `ExtractionPool`, both Scrapy extensions.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import defaultdict

from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.threads import deferToThread

from crawler.archive.warc import WarcExchange, WarcRecordRef, WarcWriter
from crawler.config.watchlist import Source
from crawler.extract.capture import (
    DOCUMENT_FINGERPRINT, capture_document, extraction_fingerprint, listing_extraction, matcher_for, prepare_page,
    warc_exchange,
)
from crawler.extract.documents import read_document
from crawler.fetch.items import FetchedPage, FetchFailed, FetchSkipped, ListingFetched
from crawler.fetch.verdict import Verdict, classify_response, is_error_page
from crawler.pipeline.extraction_pool import ExtractionPool
from crawler.pipeline.session import CrawlSession
from crawler.pipeline.store import (
    Attachment, ListingRead, store_capture, store_failure, store_fetch_only, store_gone, store_listing,
    store_listing_page, store_same_body,
)
from storage import out_of_space, queries
from storage.queries import FAILED, SKIPPED, PageCapture

log = logging.getLogger(__name__)


@dataclasses.dataclass
class StagedPage:
    """A fetched page, list page or document on its way through the stages."""

    page: FetchedPage  # the answer as fetched (a list page's `answer`)
    source: Source
    verdict: Verdict  # VerdictStage; ExtractStage may find an error page (GONE) or an unreadable one (ERROR)
    reason: str = ""  # why the verdict is not OK
    listing: ListingFetched | None = None  # a list page, read by its spider
    capture: PageCapture | None = None  # ExtractStage (a list page's: VerdictStage)
    exchange: WarcExchange | None = None  # the WARC record's content, made with the capture
    attachment: Attachment | None = None  # a document's reading
    links: list[dict[str, str]] = dataclasses.field(default_factory=list)  # documents the page links
    warc: WarcRecordRef | None = None  # WarcStage, when the capture is a new snapshot
    stored: bool = False  # UnchangedStage or StoreStage wrote its rows: later stages only pass it on


class Stage:
    """One step of the pipeline, built by Scrapy from the crawler. `process_item` runs the step
    on a `StagedPage` it `wants` while storing goes on; a full disk met on the way stops storing."""

    def __init__(self, crawler):
        self.crawler = crawler
        self.session: CrawlSession = crawler.get_extension(CrawlSession)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def takes(self, item) -> bool:
        return isinstance(item, StagedPage) and not item.stored and self.session.storing and self.wants(item)

    def wants(self, item: StagedPage) -> bool:
        return item.verdict is Verdict.OK


class VerdictStage(Stage):
    """Judges the HTTP answer (crawler/fetch/verdict.py) and makes each page a `StagedPage`;
    failed and skipped fetches go on as they are, to the store stage."""

    def process_item(self, item):
        if isinstance(item, FetchedPage):
            verdict, reason = classify_response(item.status, item.url, item.final_url, item.body)
            return StagedPage(item, self.session.sources[item.source_id], verdict, reason)
        if isinstance(item, ListingFetched):  # its spider judged it, and read its links
            source = self.session.sources[item.answer.source_id]
            return StagedPage(item.answer, source, Verdict.OK, listing=item, capture=item.listing,
                              exchange=warc_exchange(item.answer, item.listing, listing_extraction(source)))
        return item


class UnchangedStage(Stage):
    """The fast path of an unchanged re-crawl: the same bytes as last time, read with the same
    extraction settings, are recorded unchanged without being extracted again."""

    def wants(self, item: StagedPage) -> bool:
        return item.verdict is Verdict.OK and item.listing is None

    def process_item(self, item):
        if self.takes(item):
            with self.session.stops_on_full_disk():
                page = item.page
                fingerprint = DOCUMENT_FINGERPRINT if page.kind == "document" else extraction_fingerprint(item.source)
                links = store_same_body(self.session.db, self.session.run_id, page.url, page.fetched_at, page.body,
                                        fingerprint, page.status, page.elapsed_ms, page.final_url)
                if links is not None:
                    item.links, item.stored = links, True
        return item


class ExtractStage(Stage):
    """A page's capture (text, hits, links), extracted in the `ExtractionPool`; a document's text,
    read in a thread (up to a minute, in a child process) so that downloads go on meanwhile.
    A page that will not extract is an error; one that extracts to a "not found" page is gone."""

    def __init__(self, crawler):
        super().__init__(crawler)
        self.pool: ExtractionPool = crawler.get_extension(ExtractionPool)

    def wants(self, item: StagedPage) -> bool:
        return item.verdict is Verdict.OK and item.capture is None

    async def process_item(self, item):
        if self.takes(item):
            if item.page.kind == "document":
                await self.read_document(item)
            else:
                await self.extract_page(item)
        return item

    async def extract_page(self, item: StagedPage) -> None:
        page = item.page
        try:
            capture, item.exchange = await self.pool.run(
                prepare_page, page, item.source, self.session.keyword_sets_of(item.source))
        except Exception as error:  # a hostile or broken page: record it, keep crawling
            log.exception("could not extract %s", page.url)
            item.verdict, item.reason = Verdict.ERROR, f"extraction failed: {error!r}"
            return
        if is_error_page(capture.title, capture.text):
            item.verdict, item.reason = Verdict.GONE, f"error page: {capture.title[:80]}"
            return
        item.capture = dataclasses.replace(capture, body=page.body)
        item.links = capture.attachments

    async def read_document(self, item: StagedPage) -> None:
        page = item.page
        reading = await maybe_deferred_to_future(deferToThread(read_document, page.body, item.source.ocr_languages))
        if reading.error is not None:
            item.verdict, item.reason = Verdict.ERROR, reading.error
            return
        if reading.ocr_error is not None:
            log.warning("%s kept without text: %s", page.url, reading.ocr_error)
        item.capture = capture_document(page, reading.text)
        item.exchange = warc_exchange(page, item.capture,
                                      {"file_type": reading.file_type, "text_origin": reading.text_origin})
        item.attachment = Attachment(page.parent_url or "", reading.file_type, reading.text_origin,
                                     reading.ocr_confidence, reading.ocr_page_hashes, reading.ocr_skipped_pages)


class WarcStage(Stage):
    """Local evidence first: the WARC records of a new snapshot are on disk before the snapshot
    that points to them. The append waits for fsync, in a thread: downloads and other pages go
    on meanwhile. An append is all or nothing (crawler/archive/warc.py)."""

    def __init__(self, crawler):
        super().__init__(crawler)
        self.warc = WarcWriter(self.session.warc_dir)

    def wants(self, item: StagedPage) -> bool:
        return item.verdict is Verdict.OK and item.capture is not None

    async def process_item(self, item):
        if self.takes(item):
            with self.session.stops_on_full_disk():
                if queries.needs_snapshot(self.session.db, item.capture.url, item.capture.text_sha256):
                    self.session.check_still_storing()
                    item.warc = await maybe_deferred_to_future(deferToThread(self.warc.append, item.exchange))
                self.session.check_still_storing()
        return item


class StoreStage(Stage):
    """Every fetch ends in rows here (crawler/pipeline/store.py: compare, then one transaction):
    a capture, a gone or failed page, a list page, a failed or skipped fetch. Once storing has
    stopped (a full disk), each fetch still unstored gets a failed row, if even that fits. After
    the last item, each listing read whole is stored, with the articles it dropped."""

    def __init__(self, crawler):
        super().__init__(crawler)
        self.listings: dict[str, ListingRead] = defaultdict(ListingRead)  # listing source → what was read

    def process_item(self, item):
        if isinstance(item, StagedPage) and item.stored:
            return item
        if self.session.storing:
            with self.session.stops_on_full_disk():
                self.store(item)
                return item
        self.record_unsaved(item)
        return item

    def store(self, item) -> None:
        session = self.session
        if isinstance(item, FetchFailed):
            if item.kind == "listing":
                self.listings[item.source_id].failed = True
            store_failure(session.db, session.run_id, item.source_id, item.url, item.kind, item.fetched_at, item.error,
                          item.status, item.size, item.final_url)
        elif isinstance(item, FetchSkipped):
            store_fetch_only(session.db, session.run_id, item.source_id, item.url, item.kind, item.fetched_at, SKIPPED,
                             item.reason)
        elif isinstance(item, StagedPage):
            self.store_page(item)
            item.stored = True

    def store_page(self, item: StagedPage) -> None:
        session, page = self.session, item.page
        if item.listing is not None:
            self.store_listing_page(item)
        elif item.verdict is Verdict.OK:
            store_capture(session.db, session.run_id, item.capture,
                          matcher_for(session.keyword_sets_of(item.source)), item.warc, item.attachment)
        elif item.verdict is Verdict.GONE:
            store_gone(session.db, session.run_id, page.source_id, page.url, page.kind, page.fetched_at, item.reason,
                       page.status, item.source.removal_confirmations, page.final_url)
        else:
            store_failure(session.db, session.run_id, page.source_id, page.url, page.kind, page.fetched_at,
                          item.reason, page.status, len(page.body), page.final_url)

    def store_listing_page(self, item: StagedPage) -> None:
        """A list page is evidence like any page; its links also make up the listing as a whole."""
        listing = item.listing
        read = self.listings[item.source.id]
        read.article_urls.extend(url for url in listing.article_urls if url not in read.article_urls)
        read.shown.update(link["url"] for link in listing.listing.links)
        read.snapshots[listing.listing.url] = store_listing_page(self.session.db, self.session.run_id,
                                                                 listing.listing, item.warc)

    def record_unsaved(self, item) -> None:
        """A fetch the full disk kept us from storing: a failed fetch row, if even that fits."""
        unsaved = f"not stored: {self.session.storage_error}"
        if isinstance(item, FetchFailed):
            error = f"{item.error}; {unsaved}"
        elif isinstance(item, FetchSkipped):
            error = f"{item.reason}; {unsaved}"
        else:
            error = unsaved
        fetch = item.page if isinstance(item, StagedPage) else item
        size = len(fetch.body) if isinstance(fetch, FetchedPage) else getattr(fetch, "size", None)
        try:
            store_fetch_only(self.session.db, self.session.run_id, fetch.source_id, fetch.url, fetch.kind,
                             fetch.fetched_at, FAILED, error, getattr(fetch, "status", None), size)
        except Exception as failure:
            if not out_of_space(failure):
                raise

    def close_spider(self):
        if not self.session.storing:  # a crawl stopped early read partial listings
            return
        for source_id, read in self.listings.items():
            if not read.failed:  # a partial listing says nothing about what was dropped
                store_listing(self.session.db, self.session.run_id, source_id, read, queries.utcnow(),
                              matcher_for(self.session.keyword_sets_of(self.session.sources[source_id])))


class DocumentRequestStage(Stage):
    """Fetch the documents a stored page links (found in extraction, or as last read by the
    unchanged fast path), as its spider's requests."""

    def takes(self, item) -> bool:
        return (isinstance(item, StagedPage) and item.stored and item.links and self.session.storing
                and item.page.kind not in ("document", "listing"))

    def process_item(self, item):
        if self.takes(item):
            spider = self.crawler.spider
            for link in item.links:
                self.crawler.engine.crawl(spider.document_request(item.source, link["url"], link["text"], item.page.url))
        return item
