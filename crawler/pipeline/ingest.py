"""One way in for captures docwatch did not fetch itself: a Wayback Machine capture found by
`docwatch backfill`, or a response record of a WARC file given to `docwatch import`.

A capture goes through the crawl's own extraction (crawler/extract/capture.py) and comparison
(crawler/compare/versions.py) and is stored as a snapshot dated by its capture time and marked
with its origin. History arrives out of order: a capture is placed among the page's snapshots
by time, and its events are computed against its neighbours in time, not against the newest
snapshot. Every event it implies carries `detail.historical`: it is evidence of what that
capture held at that time, not news of today.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from urllib.parse import urljoin

from crawler.compare.keywords import KeywordMatcher, KeywordSet
from crawler.compare.versions import Version, compare_versions
from crawler.config.watchlist import Source
from crawler.extract.capture import capture_page, matcher_for
from crawler.fetch.items import FetchedPage
from crawler.fetch.verdict import Verdict, classify_response, is_error_page, redirected_home, removal_kind
from crawler.pipeline.store import change_detail
from storage import events, history, queries, transaction, utcnow
from storage.connection import Database
from storage.queries import CHANGED, GONE, NEW, SKIPPED, UNCHANGED, PageCapture

CRAWL, WAYBACK, WARC_IMPORT = "crawl", "wayback", "warc-import"  # snapshots.origin
ALREADY = "already imported"  # the outcome of a capture a previous run read


@dataclasses.dataclass(frozen=True)
class Capture:
    """An HTTP answer someone else recorded: `captured_at` is when (ISO 8601 UTC), `origin`
    who (WAYBACK, WARC_IMPORT), `origin_ref` where to find it again (the Wayback URL, or the
    WARC file and record id), `capture_key` what identifies it among the URL's captures (the
    Wayback timestamp, the WARC-Record-ID). `location` is where a redirect pointed."""

    url: str
    captured_at: str
    http_status: int
    headers: dict[str, str]
    body: bytes
    origin: str
    origin_ref: str
    capture_key: str
    location: str | None = None


def ingest(db: Database, source: Source, keyword_sets: tuple[KeywordSet, ...], capture: Capture,
           run_id: int | None = None) -> str:
    """Store one capture as history; returns what it was: NEW, CHANGED, UNCHANGED (the version
    of the snapshot before it), GONE, SKIPPED (says nothing about the page: 403, 451, 5xx, a
    redirect elsewhere, an anti-bot page) or ALREADY."""
    if history.already_imported(db, capture.origin, capture.url, capture.capture_key):
        return ALREADY
    verdict, reason = _verdict(capture)
    kind = "page" if source.type == "page" else "article"
    if verdict is Verdict.OK:
        fetched = FetchedPage(source.id, kind, capture.url, capture.url, capture.http_status, capture.headers,
                              capture.body, capture.captured_at, None)
        page = dataclasses.replace(capture_page(fetched, source), origin=capture.origin, origin_ref=capture.origin_ref)
        if not is_error_page(page.title, page.text):
            return store_history(db, run_id, page, matcher_for(keyword_sets), capture.capture_key)
        verdict, reason = Verdict.GONE, f"a \"page not found\" page: {page.title[:80]}"
    if verdict is Verdict.GONE:
        return store_history_gone(db, run_id, source.id, kind, capture, reason)
    with transaction(db):
        history.record_import(db, capture.origin, capture.url, capture.capture_key, capture.captured_at, SKIPPED,
                              note=reason)
    return SKIPPED


def _verdict(capture: Capture) -> tuple[Verdict, str]:
    """A capture is judged as a crawl's answer would be, but 403 and 451 (forbidden,
    geo-blocked) are never a removal, and a redirect is a removal only when it leads home."""
    said = f"the capture of {capture.captured_at[:10]} answered"
    if 300 <= capture.http_status < 400:
        location = urljoin(capture.url, capture.location or "")
        if capture.location and redirected_home(capture.url, location):
            return Verdict.GONE, f"{said} with a redirect to the site's home page {location}"
        return Verdict.ERROR, f"{said} with a redirect to {location if capture.location else 'nowhere'}"
    verdict, reason = classify_response(capture.http_status, capture.url, capture.url, capture.body)
    return verdict, f"{said} {reason}" if reason.startswith("HTTP") else reason


def store_history(db: Database, run_id: int | None, capture: PageCapture, matcher: KeywordMatcher,
                  capture_key: str) -> str:
    """A version of the page as a capture showed it at `capture.fetched_at`, placed between the
    snapshots before and after it in time, in one transaction."""
    with transaction(db):
        page = queries.page_for(db, capture.source_id, capture.url, capture.kind, capture.fetched_at)
        before, after = history.neighbours(db, page["id"], capture.fetched_at)
        if before is not None and before["text_sha256"] == capture.text_sha256:
            history.record_import(db, capture.origin, capture.url, capture_key, capture.fetched_at, UNCHANGED,
                                  before["id"], note="the version of the snapshot before it")
            return UNCHANGED
        if after is not None and after["text_sha256"] == capture.text_sha256 \
                and _within_the_second(capture.fetched_at, after["fetched_at"]):
            history.record_import(db, capture.origin, capture.url, capture_key, capture.fetched_at, UNCHANGED,
                                  after["id"], note="the version of the snapshot made in the same second")
            return UNCHANGED
        report = compare_versions(_version(before), Version(capture.original_text, capture.published), matcher)
        snapshot_id = queries.insert_snapshot(db, page["id"], run_id, capture)
        outcome = CHANGED if before else NEW
        event_id = events.insert_event(
            db, "changed" if before else "new_page", page, run_id, capture.fetched_at, snapshot_id=snapshot_id,
            previous_snapshot_id=before["id"] if before else None, http_status=capture.http_status,
            similarity=report.diff.similarity if report.diff else None, silent_edit=report.silent_edit,
            detail={**change_detail(report), **_historical(capture.origin, capture.origin_ref)},
        )
        latest = after is None and not _crawled_since(page, capture.fetched_at)
        events.update_hit_ledger_from_history(db, page, snapshot_id, event_id, capture.fetched_at, report.hits,
                                              report.new_hits, report.scrubbed_hits, latest)
        events.update_figures_from_history(db, page, event_id, capture.fetched_at, report.figures,
                                           report.removed_figures, latest)
        if after is not None:
            _compare_with_next(db, run_id, page, capture, snapshot_id, after, matcher)
        if latest:
            queries.update_page(db, page, latest_snapshot_id=snapshot_id, title=capture.title,
                                published=capture.published, state="live", gone_count=0)
        history.record_import(db, capture.origin, capture.url, capture_key, capture.fetched_at, outcome, snapshot_id)
        return outcome


def _compare_with_next(db: Database, run_id: int | None, page: dict, capture: PageCapture,
                       snapshot_id: int, after: dict, matcher: KeywordMatcher) -> None:
    """The snapshot after the new one now follows it: the change between them is a history
    event, replacing the history event computed for it before (against an older neighbour, or
    as the first version known). A crawl's own event stays: its new hits were flagged then, so
    only what the change scrubbed is flagged here."""
    history.drop_history_events_into(db, after["id"])
    if after["text_sha256"] == capture.text_sha256:
        return
    report = compare_versions(Version(capture.original_text, capture.published), _version(after), matcher)
    event_id = events.insert_event(
        db, "changed", page, run_id, after["fetched_at"], snapshot_id=after["id"], previous_snapshot_id=snapshot_id,
        similarity=report.diff.similarity if report.diff else None, silent_edit=report.silent_edit,
        detail={**change_detail(report), **_historical(after["origin"], after["origin_ref"])},
    )
    new_hits = report.new_hits if after["origin"] != CRAWL else []
    events.flag_hits(db, page, after["id"], event_id, after["fetched_at"], new_hits, report.scrubbed_hits)
    events.update_figures_from_history(db, page, event_id, after["fetched_at"], report.new_figures, [], latest=False)


def store_history_gone(db: Database, run_id: int | None, source_id: str, kind: str, capture: Capture,
                       reason: str) -> str:
    """A capture that shows the page gone (404, 410, a redirect home, a "not found" page): a
    history `removed` event when a version of the page was known before it and no removal was
    reported since. It names the last good copies: the snapshot before, and its capture."""
    with transaction(db):
        page = queries.page_for(db, source_id, capture.url, kind, capture.captured_at)
        before, after = history.neighbours(db, page["id"], capture.captured_at)
        if before is not None and not history.removal_reported_after(
                db, page["id"], before["fetched_at"], after["fetched_at"] if after else None):
            last_capture = before["origin_ref"] if before["origin"] == WAYBACK else before["wayback_url"]
            events.insert_event(
                db, "removed", page, run_id, capture.captured_at, snapshot_id=before["id"],
                http_status=capture.http_status,
                detail={"reason": reason, "kind": removal_kind(capture.http_status, reason), "checks": 1,
                        "last_good_snapshot": before["id"], "last_capture": {"wayback_url": last_capture},
                        **_historical(capture.origin, capture.origin_ref)},
            )
            if after is None and not _crawled_since(page, capture.captured_at):
                queries.update_page(db, page, state="removed")
        history.record_import(db, capture.origin, capture.url, capture.capture_key, capture.captured_at, GONE,
                              note=reason)
        return GONE


def _historical(origin: str, origin_ref: str | None) -> dict:
    """What marks an event as history: where its capture came from, and when it was imported
    (a digest `--since` reads that time, the event's own being its capture's)."""
    return {"historical": True, "origin": origin, "capture": origin_ref, "imported_at": utcnow()}


def _within_the_second(capture_time: str, snapshot_time: str) -> bool:
    """A capture's time has whole seconds (a Wayback timestamp): a snapshot made later in that
    same second may be the very version the capture shows."""
    return datetime.fromisoformat(snapshot_time) - datetime.fromisoformat(capture_time) < timedelta(seconds=1)


def _version(snapshot: dict | None) -> Version | None:
    return Version(snapshot["original_text"], snapshot["published"]) if snapshot else None


def _crawled_since(page: dict, at: str) -> bool:
    """Whether docwatch itself fetched the page after `at`: then its state is the crawl's to say."""
    return page["last_fetched"] is not None and page["last_fetched"] > at
