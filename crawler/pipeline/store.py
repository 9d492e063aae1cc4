"""Store stage: one fetch result into the database, with the events it implies.

Each function runs in one transaction: the snapshot, the fetch row, the page's state, the
event and its hit and figure flags are written together or not at all.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import datetime, timedelta

from crawler.compare.keywords import KeywordMatcher
from crawler.archive.warc import WarcRecordRef
from crawler.compare.scans import same_reading
from crawler.fetch.verdict import removal_kind
from crawler.compare.versions import MOVED_WITHIN_DAYS, ChangeReport, Version, compare_versions, moved_from
from storage import archive_queue, attachments, events, queries, transaction, utcnow
from storage.connection import Database
from storage.queries import CHANGED, FAILED, GONE, NEW, UNCHANGED, PageCapture


@dataclasses.dataclass(frozen=True)
class Attachment:
    """What a document's capture adds to a page's: the page that links it, its file type, and
    whether its text was read by OCR (with OCR's confidence and the page images' hashes)."""

    parent_url: str
    file_type: str  # pdf, doc, docx, xls, xlsx, jpeg, png, gif, tiff
    text_origin: str = "text"  # or "ocr"
    ocr_confidence: float | None = None
    ocr_page_hashes: tuple[str, ...] = ()
    ocr_skipped_pages: int = 0


def store_capture(
    db: Database, run_id: int | None, capture: PageCapture, matcher: KeywordMatcher,
    warc: WarcRecordRef | None = None, attachment: Attachment | None = None,
) -> str:
    """A page or a document answered with content. Returns NEW, CHANGED or UNCHANGED.

    A new snapshot records its WARC record (`warc`, written just before) and is queued for the
    Wayback Machine in the same transaction, so no archive request can be lost. A document's
    first snapshot is a `new_document` event; one without any text is kept, flagged `no_text`."""
    with transaction(db):
        page = queries.page_for(db, capture.source_id, capture.url, capture.kind, capture.fetched_at)
        if attachment is not None:
            attachments.link_to_parent(db, page, attachment.parent_url, capture.fetched_at)
        previous = queries.latest_snapshot(db, page)
        fetch = dict(http_status=capture.http_status, elapsed_ms=capture.elapsed_ms, size=len(capture.body),
                     final_url=capture.final_url)
        if page["state"] == "removed":
            events.insert_event(
                db, "restored", page, run_id, capture.fetched_at, snapshot_id=page["latest_snapshot_id"],
                http_status=capture.http_status,
            )
        live = dict(state="live", gone_count=0, error_count=0, last_fetched=capture.fetched_at,
                    last_status=capture.http_status, last_body_sha256=capture.body_sha256,
                    extract_fingerprint=capture.extract_fingerprint,
                    attachments=json.dumps(capture.attachments, ensure_ascii=False))
        if attachment is None:
            _record_unlinked_documents(db, run_id, page, capture.attachments, capture.fetched_at)
        if previous is not None and previous["text_sha256"] == capture.text_sha256:
            _record_unchanged(db, run_id, page, capture.fetched_at, live, **fetch)
            return UNCHANGED
        if _rescan_reads_the_same(previous, capture, attachment, matcher):
            capture = dataclasses.replace(capture, text=previous["text"], original_text=previous["original_text"],
                                          findings=None)

        moved = _moved_from(db, page, capture, attachment is not None) if previous is None else None
        before = previous or (moved[0] if moved else None)
        report = compare_versions(
            Version(before["original_text"], before["published"]) if before else None,
            Version(capture.original_text, capture.published),
            matcher,
            capture.findings,
        )
        snapshot_id = queries.insert_snapshot(db, page["id"], run_id, capture, warc)
        if attachment is not None:
            attachments.mark_snapshot(db, snapshot_id, attachment.file_type, not capture.text, attachment.text_origin,
                                      attachment.ocr_confidence, attachment.ocr_page_hashes, attachment.ocr_skipped_pages)
        outcome = NEW if previous is None else CHANGED
        if outcome == NEW:
            event_type, archive_reason = ("new_document", "attachment") if attachment else ("new_page", "new_page")
        else:
            event_type, archive_reason = "changed", ("new_hits" if report.new_hits else "changed")
        archive_queue.enqueue(db, capture.url, archive_reason, snapshot_id)
        detail = change_detail(report)
        if moved:
            event_type, detail = "moved", {**detail, **moved_detail(*moved)}
        event_id = events.insert_event(
            db, event_type, page, run_id, capture.fetched_at,
            snapshot_id=snapshot_id, previous_snapshot_id=before["id"] if before else None,
            http_status=capture.http_status, similarity=report.diff.similarity if report.diff else None,
            silent_edit=report.silent_edit, detail=detail,
        )
        events.update_hit_ledger(db, page, snapshot_id, event_id, capture.fetched_at,
                                  report.hits, report.new_hits, report.scrubbed_hits)
        events.update_figures(db, page, event_id, capture.fetched_at, report.figures, report.removed_figures)
        if moved:
            events.figures_not_new(db, event_id, [f for f in report.figures if f not in report.new_figures])
        queries.insert_fetch(db, run_id, page, capture.source_id, capture.url, capture.kind, capture.fetched_at,
                             outcome, snapshot_id=snapshot_id, **fetch)
        _report_if_hidden(db, run_id, page, capture.fetched_at, snapshot_id, capture.http_status)
        queries.update_page(db, page, last_outcome=outcome, latest_snapshot_id=snapshot_id, title=capture.title,
                            published=capture.published, **live)
        return outcome


def _moved_from(db: Database, page: dict, capture: PageCapture, document: bool) -> tuple[dict, float] | None:
    """The page of the same source, gone lately, that this new page is a copy of (a document:
    the same bytes), with how alike they are; None for a page that is new indeed."""
    since = utcnow(datetime.fromisoformat(capture.fetched_at) - timedelta(days=MOVED_WITHIN_DAYS))
    gone = [candidate for candidate in events.gone_pages_of(db, page["source_id"], page["kind"], since,
                                                           capture.body_sha256 if document else None)
            if candidate["page_id"] != page["id"]]
    if document:
        return (gone[0], 1.0) if gone else None
    return moved_from(capture.original_text, gone)


def moved_detail(old: dict, similarity: float) -> dict:
    """What a `moved` event says of where the page was: its old URL and last version there."""
    return {"moved_from": old["url"], "moved_from_snapshot": old["id"], "moved_similarity": round(similarity, 4)}


def _report_if_hidden(db: Database, run_id: int | None, page: dict, fetched_at: str,
                      snapshot_id: int | None, http_status: int) -> None:
    """An article its listing dropped that still answers with content is `hidden` (delisted,
    still online: not removed), said once per delisting; it is fetched on, in case it goes."""
    delisting = events.unconfirmed_delisting(db, page)
    if delisting is not None and fetched_at > delisting["delisted_at"]:
        events.insert_event(db, "hidden", page, run_id, fetched_at, snapshot_id=snapshot_id, http_status=http_status,
                            detail={"listing_source": delisting["source_id"], "delisted_at": delisting["delisted_at"]})


def change_detail(report: ChangeReport) -> dict:
    """What a `changed` event keeps of a comparison: the diff and the figures no longer stated."""
    detail = {}
    if report.diff is not None:
        detail["diff"] = report.diff.as_json()
    if report.removed_figures:
        detail["removed_figures"] = [{"value": f.value, "unit": f.unit, "text": f.text, "term": f.term}
                                     for f in report.removed_figures]
    return detail


def _rescan_reads_the_same(previous: dict | None, capture: PageCapture, attachment: Attachment | None,
                           matcher: KeywordMatcher) -> bool:
    """A new file of a scanned document whose OCR reading is the previous one's but for OCR
    jitter: it keeps the previous reading, so no diff, figure or hit comes from the jitter."""
    if previous is None or attachment is None or attachment.text_origin != "ocr" or previous["text_origin"] != "ocr":
        return False
    return same_reading(previous["original_text"], tuple(json.loads(previous["ocr_page_hashes"] or "[]")),
                        capture.original_text, attachment.ocr_page_hashes, matcher)


def _record_unlinked_documents(db: Database, run_id: int | None, page: dict,
                               links: list[dict[str, str]], seen_at: str) -> None:
    """A `delisted` event for each document this page linked last time and links no more
    (while no other page took it over): it is not fetched again, and the researcher should know."""
    linked_now = {link["url"] for link in links}
    for url in {link["url"] for link in json.loads(page["attachments"])} - linked_now:
        document = attachments.document_linked_from(db, url, page)
        if document and document["latest_snapshot_id"] is not None:
            events.insert_event(db, "delisted", document, run_id, seen_at, snapshot_id=document["latest_snapshot_id"],
                                 detail={"parent_url": page["url"]})


def store_same_body(
    db: Database, run_id: int | None, url: str, fetched_at: str, body: bytes, fingerprint: str,
    http_status: int, elapsed_ms: int | None, final_url: str,
) -> list[dict[str, str]] | None:
    """The fast path of an unchanged re-crawl: the same bytes as last time, read with the same
    extraction settings, cannot have changed; nothing is decoded or extracted again (and a
    page never stored, as on a cold crawl, is not even hashed here). Returns the attachments
    the page links (as last read), or None (nothing written) when the full path is needed."""
    page = queries.page_at(db, url)  # read before the transaction: no write lock for a page that misses
    if (page is None or page["state"] == "removed" or page["latest_snapshot_id"] is None
            or page["extract_fingerprint"] != fingerprint or page["last_body_sha256"] != hashlib.sha256(body).hexdigest()):
        return None
    # The source's lock keeps other crawls off this page, so the row read above is still current.
    with transaction(db):
        live = dict(state="live", gone_count=0, error_count=0, last_fetched=fetched_at, last_status=http_status)
        _record_unchanged(db, run_id, page, fetched_at, live, http_status=http_status, elapsed_ms=elapsed_ms,
                          size=len(body), final_url=final_url)
    return json.loads(page["attachments"])


def _record_unchanged(db: Database, run_id: int | None, page: dict, fetched_at: str, live: dict,
                      **fetch) -> None:
    queries.insert_fetch(db, run_id, page, page["source_id"], page["url"], page["kind"], fetched_at, UNCHANGED, **fetch)
    _report_if_hidden(db, run_id, page, fetched_at, page["latest_snapshot_id"], fetch["http_status"])
    events.hits_seen_again(db, page, fetched_at)
    queries.update_page(db, page, last_outcome=UNCHANGED, **live)


def store_gone(
    db: Database, run_id: int | None, source_id: str, url: str, kind: str, fetched_at: str,
    reason: str, http_status: int | None, confirmations: int, final_url: str | None = None,
) -> str:
    """404/410, a redirect home, or an error page. The page becomes `removed` (one event) only
    after `confirmations` such answers in a row, and only if it was ever seen live."""
    with transaction(db):
        page = queries.page_for(db, source_id, url, kind, fetched_at)
        gone_count = page["gone_count"] + 1
        queries.insert_fetch(db, run_id, page, source_id, url, kind, fetched_at, GONE, http_status=http_status,
                             error=reason, final_url=final_url)
        state = page["state"]
        if page["latest_snapshot_id"] is not None and state != "removed":
            state = "missing"
            if gone_count >= confirmations:
                state = "removed"
                evidence = archive_queue.last_capture_for_page(db, url)
                events.insert_event(
                    db, "removed", page, run_id, fetched_at, snapshot_id=page["latest_snapshot_id"],
                    http_status=http_status,
                    detail={"reason": reason, "kind": removal_kind(http_status, reason), "checks": gone_count,
                        "last_capture": dataclasses.asdict(evidence) if evidence else None},
                )
        queries.update_page(db, page, state=state, gone_count=gone_count, last_fetched=fetched_at,
                            last_status=http_status, last_outcome=GONE)
        return GONE


def store_failure(
    db: Database, run_id: int | None, source_id: str, url: str, kind: str, fetched_at: str,
    error: str, http_status: int | None = None, size: int | None = None, final_url: str | None = None,
) -> str:
    """No usable answer. Never a change: the last snapshot stands, a removal count is not
    advanced, and a `fetch_error` event is written when a page starts failing."""
    fetch = dict(http_status=http_status, size=size, error=error, final_url=final_url)
    with transaction(db):
        # A list page is a page once it was read (a failure does not make one): it has no events.
        page = queries.page_at(db, url) if kind == "listing" else queries.page_for(db, source_id, url, kind, fetched_at)
        queries.insert_fetch(db, run_id, page, source_id, url, kind, fetched_at, FAILED, **fetch)
        if page is None:
            return FAILED
        if page["error_count"] == 0 and kind != "listing":
            events.insert_event(db, "fetch_error", page, run_id, fetched_at, http_status=http_status,
                                 detail={"error": error})
        queries.update_page(db, page, error_count=page["error_count"] + 1, last_fetched=fetched_at,
                            last_status=http_status, last_outcome=FAILED)
        return FAILED


def store_fetch_only(
    db: Database, run_id: int | None, source_id: str, url: str, kind: str, fetched_at: str,
    outcome: str, reason: str, http_status: int | None = None, size: int | None = None,
) -> str:
    """A fetch that says nothing about the page: a request docwatch chose not to send (SKIPPED:
    robots.txt, off-site, a duplicate), or an answer it could not store (FAILED: a full disk; the
    next crawl fetches it again). One fetch row with the reason; no event, no change to the page."""
    with transaction(db):
        queries.insert_fetch(db, run_id, queries.page_at(db, url), source_id, url, kind, fetched_at, outcome,
                             http_status=http_status, size=size, error=reason)
        return outcome


def _recast_moved_articles(db: Database, run_id: int | None, source_id: str, delisted: list[str],
                           matcher: KeywordMatcher) -> None:
    """The articles this crawl found new, compared with those the listing dropped in it: a copy
    (or near copy) of a dropped one is that article, moved; only what differs is flagged."""
    gone = events.gone_pages_of(db, source_id, "article", "", urls=delisted)
    for new in events.new_pages_of_run(db, source_id, run_id):
        moved = moved_from(new["original_text"], gone)
        if moved is None:
            continue
        old, similarity = moved
        gone.remove(old)
        report = compare_versions(Version(old["original_text"], old["published"]),
                                  Version(new["original_text"], new["published"]), matcher)
        events.recast_as_moved(db, new["event_id"], old["id"], {**change_detail(report), **moved_detail(old, similarity)})
        page = {"id": new["page_id"], "source_id": source_id, "url": new["url"]}
        events.flag_hits(db, page, new["snapshot_id"], new["event_id"], new["detected_at"], report.new_hits,
                         report.scrubbed_hits)
        events.figures_not_new(db, new["event_id"], [f for f in report.figures if f not in report.new_figures])


@dataclasses.dataclass
class ListingRead:
    """What one crawl read of a listing source, gathered page by page until it is complete."""

    article_urls: list[str] = dataclasses.field(default_factory=list)  # in order, within max_items
    shown: set[str] = dataclasses.field(default_factory=set)  # every article link of its list pages
    snapshots: dict[str, int] = dataclasses.field(default_factory=dict)  # list page URL → its snapshot now
    failed: bool = False  # a list page could not be read: nothing can be said about what it dropped


def store_listing_page(db: Database, run_id: int | None, listing: PageCapture,
                       warc: WarcRecordRef | None = None) -> int:
    """One list page: a new snapshot (with its WARC record, `warc`, written just before, and
    an archive request) when its links changed or on its first crawl, else only a fetch row.
    No event: what a listing's change means is said by the `delisted` events of its articles.
    Returns the id of the page's snapshot as it is now."""
    with transaction(db):
        page = queries.page_for(db, listing.source_id, listing.url, "listing", listing.fetched_at)
        previous = queries.latest_snapshot(db, page)
        fetch = dict(http_status=listing.http_status, elapsed_ms=listing.elapsed_ms, size=len(listing.body),
                     final_url=listing.final_url)
        live = dict(state="live", gone_count=0, error_count=0, last_fetched=listing.fetched_at,
                    last_status=listing.http_status)
        if previous is not None and previous["text_sha256"] == listing.text_sha256:
            _record_unchanged(db, run_id, page, listing.fetched_at, live, **fetch)
            return previous["id"]
        snapshot_id = queries.insert_snapshot(db, page["id"], run_id, listing, warc)
        archive_queue.enqueue(db, listing.url, "listing_changed", snapshot_id)
        outcome = NEW if previous is None else CHANGED
        queries.insert_fetch(db, run_id, page, listing.source_id, listing.url, "listing", listing.fetched_at,
                             outcome, snapshot_id=snapshot_id, **fetch)
        queries.update_page(db, page, last_outcome=outcome, latest_snapshot_id=snapshot_id, title=listing.title,
                            **live)
        return snapshot_id


def store_listing(db: Database, run_id: int | None, source_id: str, read: ListingRead,
                  seen_at: str, matcher: KeywordMatcher) -> list[str]:
    """After every page of a listing was read: record its articles, flag the ones it dropped,
    each naming the listing snapshot that last showed it and the same list page's snapshot now;
    an article of this crawl that is one it dropped, republished at a new URL, is `moved`."""
    with transaction(db):
        delisted = events.update_listing(db, source_id, read.article_urls, seen_at, read.shown)
        if delisted:
            _recast_moved_articles(db, run_id, source_id, delisted, matcher)
        for url in delisted:
            page = queries.page_for(db, source_id, url, "article", seen_at)
            last_shown = queries.last_listing_snapshot_linking(db, source_id, url)
            detail = {"listing_source": source_id, "listing_url": None, "listing_snapshot_before": None,
                      "listing_snapshot_after": None}
            if last_shown is not None:
                snapshot_id, listing_url = last_shown
                detail.update(listing_url=listing_url, listing_snapshot_before=snapshot_id,
                              listing_snapshot_after=read.snapshots.get(listing_url))
            events.insert_event(db, "delisted", page, run_id, seen_at, snapshot_id=page["latest_snapshot_id"],
                                 detail=detail)
        return delisted
