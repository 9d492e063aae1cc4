"""`listing` sources: a column's list pages, whose article links are followed.

Each list page is read like a page (decoded by docwatch, not by Scrapy's guess) into the
snapshot the pipeline keeps when its links change; the same links are the articles to follow.

Pagination follows a "下一页" (next page) link when the page has one, else the CMS convention
index.shtml → index_1.shtml → index_2.shtml. Pages are read one after another, so the
`max_items` newest articles are the ones kept. Articles the listing dropped recently are
fetched directly too, until they are confirmed removed or the recheck period ends.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

from scrapy.http import Response

from crawler.extract.capture import capture_listing
from crawler.fetch.verdict import Verdict, classify_response
from crawler.fetch.items import ListingFetched
from crawler.fetch.middlewares import SOURCE_ID
from spiders.base import WatchlistSpider
from storage import DatabaseUnusable, events, open_database, utcnow

log = logging.getLogger(__name__)

RECHECK_DELISTED = timedelta(days=30)  # how long an article a listing dropped is still fetched directly
NEXT_PAGE_TEXTS = ("下一页", "下页", "后页", "next", "next page", ">", "»")
_CMS_PAGE = re.compile(r"/(index|list)(?:_(\d+))?\.(s?html?)$")


def cms_next_page(url: str) -> str | None:
    """index.shtml → index_1.shtml, index_1.shtml → index_2.shtml (the TRS/Hanweb convention)."""
    match = _CMS_PAGE.search(url.split("?")[0])
    if not match:
        return None
    stem, number, ext = match.groups()
    following = int(number) + 1 if number else 1
    return url[: match.start()] + f"/{stem}_{following}.{ext}"


class ListingSpider(WatchlistSpider):
    name = "listing"
    source_type = "listing"

    async def start(self):
        self.seen: dict[str, set[str]] = {source_id: set() for source_id in self.sources}
        self.rechecking: set[str] = set()
        rechecks = self.delisted_to_recheck()
        for source in self.sources.values():
            yield self.request(source, source.url, "listing", self.parse, listing_page=1)
            for url in rechecks.get(source.id, ()):
                self.rechecking.add(url)
                yield self.request(source, url, "article", self.parse_article)

    def delisted_to_recheck(self) -> dict[str, list[str]]:
        """Per listing source, the articles it dropped in the last RECHECK_DELISTED_DAYS and not
        confirmed removed: fetched directly, so that a deleted one is seen removed (its 404s
        counted) and one still online is reported hidden. One read of the database for all."""
        path = self.settings.get("DOCWATCH_DB")
        if not path or not Path(path).exists():
            return {}
        since = utcnow(datetime.now(timezone.utc) - RECHECK_DELISTED)
        try:
            db = open_database(path, create=False)
            try:
                return {source_id: events.delisted_to_recheck(db, source_id, since) for source_id in self.sources}
            finally:
                db.close()
        except (DatabaseUnusable, sqlite3.Error) as error:  # the crawl's own storing says why, once
            log.warning("could not read which dropped articles to check again: %s", error)
            return {}

    def parse(self, response: Response):
        source = self.sources[response.meta[SOURCE_ID]]
        answer = self.fetched(response)
        verdict, reason = classify_response(answer.status, answer.url, answer.final_url, answer.body)
        if verdict is not Verdict.OK:  # an error or a challenge lists nothing: no article was dropped
            self.walk_ended(source)
            yield self.unusable(response, reason)
            return
        try:
            listing = capture_listing(answer, source)
        except Exception as error:  # a hostile or broken page: record it, keep crawling
            log.exception("could not read the listing %s", answer.url)
            self.walk_ended(source)
            yield self.unusable(response, f"could not read the listing: {error!r}")
            return
        seen = self.seen[source.id]
        found = []
        for link in listing.links:
            if link["url"] in seen or len(seen) >= source.max_items:
                continue
            seen.add(link["url"])
            found.append(link["url"])
        yield ListingFetched(answer=answer, listing=listing, article_urls=found)
        for url in found:
            if url not in self.rechecking:  # listed again: fetched once
                yield self.request(source, url, "article", self.parse_article)
        page = response.meta["listing_page"]
        next_url = self.next_page(response) if page < source.pages and len(seen) < source.max_items else None
        if next_url:
            yield self.request(source, next_url, "listing", self.parse, listing_page=page + 1)
        else:
            self.walk_ended(source)

    def walk_ended(self, source) -> None:
        """The last list page of a source was read: its links are the store stage's now (at
        20,000 articles these sets were ≈ 1.3 MiB held to the end of the run)."""
        self.seen.pop(source.id, None)

    def next_page(self, response: Response) -> str | None:
        for link in response.css("a[href]"):
            text = " ".join(link.css("::text").getall()).strip().lower()
            if text in NEXT_PAGE_TEXTS:
                return response.urljoin(link.attrib["href"])
        return cms_next_page(response.url)

    def parse_article(self, response: Response):
        yield from self.page_answered(response)
