"""`docwatch backfill`: a page's history from the Wayback Machine, imported as snapshots.

For each URL (for a listing: each article its first page linked in its captures, and each
docwatch knows): list its captures in the CDX index (one per distinct body in a row), play back
each one not imported before raw (`id_`), and hand it to the one way in for history
(crawler/pipeline/ingest.py). Polite: one request to the Wayback Machine at a time, `delay`
seconds apart; 429, 5xx and timeouts back off (Retry-After when given, else `backoff` doubling)
and give up on the URL after MAX_ATTEMPTS, to be resumed by the next run. Resumable: every
capture read is recorded (`history_imports`), so a run after an interruption, or a second run,
fetches only what is left.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from tqdm import tqdm

from crawler.archive.wayback import Capture as IndexEntry
from crawler.archive.wayback import WaybackBusy, WaybackClient, WaybackUnavailable
from crawler.compare.keywords import KeywordSet
from crawler.config.watchlist import Source, keyword_sets_of
from crawler.extract.capture import capture_listing
from crawler.fetch.items import FetchedPage
from crawler.pipeline.ingest import ALREADY, WAYBACK, Capture, ingest
from storage import history, transaction, utcnow
from storage.connection import Database
from storage.queries import SKIPPED

MAX_ATTEMPTS = 5  # per request, before the URL is left for the next run
LISTED = "listed"  # the outcome of a listing's capture: read for the articles it links
T = TypeVar("T")


@dataclass
class BackfillSummary:
    """What a backfill did, by outcome of each capture listed, and the URLs it could not finish."""

    urls: int = 0
    listed: int = 0
    outcomes: Counter = field(default_factory=Counter)
    unfinished: list[tuple[str, str]] = field(default_factory=list)  # (URL, why)

    def describe(self) -> str:
        said = self.outcomes
        return (f"{self.urls} URL(s), {self.listed} distinct capture(s) listed: {said['new'] + said['changed']} new "
                f"snapshot(s), {said['unchanged']} the same as the version before, {said['gone']} showing the page "
                f"gone, {said['skipped']} saying nothing about the page, {said[ALREADY]} imported before.")


class Pacer:
    """Keeps requests at least `delay` seconds apart."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self._last = float("-inf")

    def wait(self) -> None:
        pause = self._last + self.delay - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        self._last = time.monotonic()


@dataclass
class Backfill:
    """One backfill run's client, pace and patience."""

    db: Database
    client: WaybackClient
    delay: float
    backoff: float
    max_bytes: int
    start: str | None = None
    end: str | None = None
    limit: int | None = None
    show_progress: bool = False

    def __post_init__(self) -> None:
        self._pacer = Pacer(self.delay)

    def run(self, targets: Iterable[tuple[Source, str]], keyword_sets: dict[str, KeywordSet]) -> BackfillSummary:
        summary = BackfillSummary()
        for source, url in targets:
            summary.urls += 1
            sets = keyword_sets_of(source, keyword_sets)
            try:
                self._backfill_url(source, url, sets, summary)
            except WaybackUnavailable as error:
                summary.unfinished.append((url, str(error)))
        return summary

    def listed_articles(self, source: Source) -> list[str]:
        """The article URLs the listing's first page linked in its captures not read before
        (each read once: the articles found are pages afterwards, which later runs know)."""
        found: list[str] = []
        for entry in self._patiently(lambda: self.client.captures(source.url, self.start, self.end, self.limit)):
            if history.already_imported(self.db, WAYBACK, source.url, entry.timestamp):
                continue
            memento = self._patiently(lambda: self.client.memento(entry, self.max_bytes))
            links = []
            if memento is not None and memento.http_status == 200:
                answer = FetchedPage(source.id, "listing", source.url, source.url, 200, memento.headers, memento.body,
                                     utcnow(memento.captured_at), None)
                links = [link["url"] for link in capture_listing(answer, source).links]
            found += [url for url in links if url not in found]
            with transaction(self.db):
                history.record_import(self.db, WAYBACK, source.url, entry.timestamp, utcnow(entry.captured_at),
                                      LISTED, note=f"a list page linking {len(links)} article(s)")
        return found

    def _backfill_url(self, source: Source, url: str, keyword_sets: tuple[KeywordSet, ...],
                      summary: BackfillSummary) -> None:
        entries = self._patiently(lambda: self.client.captures(url, self.start, self.end, self.limit))
        summary.listed += len(entries)
        for entry in tqdm(entries, desc=url[-60:], unit="capture", disable=not self.show_progress, leave=False):
            if history.already_imported(self.db, WAYBACK, url, entry.timestamp):
                summary.outcomes[ALREADY] += 1
                continue
            summary.outcomes[self._import(source, url, entry, keyword_sets)] += 1

    def _import(self, source: Source, url: str, entry: IndexEntry, keyword_sets: tuple[KeywordSet, ...]) -> str:
        memento = self._patiently(lambda: self.client.memento(entry, self.max_bytes))
        if memento is None:  # listed by the index, but not played back: nothing to read
            with transaction(self.db):
                history.record_import(self.db, WAYBACK, url, entry.timestamp, utcnow(entry.captured_at), SKIPPED,
                                      note="listed by the CDX index, but the Wayback Machine has no such memento")
            return SKIPPED
        capture = Capture(url, utcnow(memento.captured_at), memento.http_status, memento.headers, memento.body,
                          WAYBACK, f"{self.client.endpoints.web}/{memento.timestamp}/{url}", entry.timestamp,
                          memento.location)
        return ingest(self.db, source, keyword_sets, capture)

    def _patiently(self, call: Callable[[], T]) -> T:
        """One request, paced; retried after a pause while the Wayback Machine is busy."""
        for attempt in range(MAX_ATTEMPTS - 1):
            self._pacer.wait()
            try:
                return call()
            except WaybackBusy as busy:
                time.sleep(max(busy.retry_after or 0.0, self.backoff * 2**attempt))
        self._pacer.wait()
        try:
            return call()
        except WaybackBusy as busy:
            raise WaybackBusy(f"{busy} (gave up after {MAX_ATTEMPTS} attempts)") from None
