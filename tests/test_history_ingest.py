"""History placed out of order (crawler/pipeline/ingest.py) on a real SQLite file: captures
older than what docwatch crawled itself, arriving newest first, end up in time order with
their events computed against their neighbours in time; and migrations 18 and 19 on a database the
previous version made."""

from __future__ import annotations

from crawler.demo import EDITED_ARTICLE, SITE_DIR, write_watchlist
from crawler.demo.history import article_versions
from crawler.config.watchlist import load_watchlist
from crawler.extract.capture import capture_page, matcher_for
from crawler.fetch.items import FetchedPage
from crawler.pipeline.ingest import ALREADY, WAYBACK, Capture, ingest
from crawler.pipeline.store import store_capture
from storage import open_database, queries, reports, search
from tests.conftest import database_before

REAL_ARTICLE = (SITE_DIR / EDITED_ARTICLE).read_text("utf-8")  # the demo site's real report

URL = "https://rst.xinjiang.gov.cn/xjrst/c112676/201801/5b1f3c2a9e8d4f6a8c7b1e2d3f4a5b6c.shtml"
VERSIONS = {stamp[:4]: (status, body) for stamp, status, body in article_versions(REAL_ARTICLE)}


def wayback_capture(year: str, stamp: str) -> Capture:
    """The capture at Wayback timestamp `stamp` (whole seconds) of the article's version of `year`."""
    status, body = VERSIONS[year]
    at = f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}T{stamp[8:10]}:{stamp[10:12]}:{stamp[12:14]}.000+00:00"
    return Capture(URL, at, status, {"Content-Type": "text/html"}, body, WAYBACK,
                   f"https://web.archive.org/web/{stamp}/{URL}", stamp)


def watched(tmp_path, db) -> tuple:
    """The article as an ad-hoc source in `db`, and the demo watchlist's keyword sets."""
    watchlist = load_watchlist(write_watchlist(tmp_path, "http://127.0.0.1:9"))
    source = watchlist.adhoc_source(URL)
    queries.sync_sources(db, [source])
    return source, tuple(watchlist.keyword_sets.values())


def crawl_today(db, source, sets, fetched_at: str) -> None:
    """docwatch's own crawl of the article as it is today: the version without 转移就业."""
    crawled = capture_page(FetchedPage(source.id, "page", URL, URL, 200, {}, VERSIONS["2021"][1], fetched_at, 10), source)
    assert store_capture(db, None, crawled, matcher_for(sets)) == queries.NEW


def test_older_captures_arriving_newest_first_are_placed_in_time_and_compared_with_their_neighbours(tmp_path):
    database_before(tmp_path / "old.db", 18).close()
    db = open_database(tmp_path / "old.db")  # migrates
    source, sets = watched(tmp_path, db)
    crawl_today(db, source, sets, "2026-11-20T08:00:00.000+00:00")

    assert ingest(db, source, sets, wayback_capture("2020", "20200611120000")) == queries.NEW
    assert ingest(db, source, sets, wayback_capture("2019", "20190315083000")) == queries.NEW
    assert ingest(db, source, sets, wayback_capture("2019", "20190315083000")) == ALREADY

    snapshots = queries.page_snapshots(db, URL)
    by_time = sorted(snapshots, key=lambda s: s["fetched_at"])
    assert [s["fetched_at"][:4] for s in by_time] == ["2019", "2020", "2026"]
    assert db.execute("SELECT origin FROM snapshots ORDER BY fetched_at").fetchall() == [
        ("wayback",), ("wayback",), ("crawl",)]
    first, second, crawl = (s["id"] for s in by_time)
    # what only the history said is searchable: the 2019 capture's 12万人次, no longer on the page
    [found], _ = search.matching_pages(db, search.fold("转移就业12万人次"))
    assert (found["url"], found["first_id"], found["last_id"]) == (URL, first, first)
    # first and last by when each version was captured, not by when it was stored: the 2019
    # capture came in after the 2020 one
    [found], _ = search.matching_pages(db, search.fold("转移就业"))
    assert (found["first_id"], found["last_id"], found["says_it_now"]) == (first, second, 0)

    events = reports.events(db)
    crawl_event = [e for e in events if not e["detail"].get("historical")]
    assert [(e["type"], e["snapshot_id"]) for e in crawl_event] == [("new_page", crawl)]  # what the crawl saw stays
    history = sorted((e for e in events if e["detail"].get("historical")), key=lambda e: e["detected_at"])
    assert [(e["type"], e["previous_snapshot_id"], e["snapshot_id"]) for e in history] == [
        ("new_page", None, first), ("changed", first, second), ("changed", second, crawl)]

    figures = {(f["value"], f["unit"]): f for f in reports.figures(db)}
    assert figures[(150000, "人次")]["first_event_id"] == history[1]["id"] and figures[(150000, "人次")]["new"]
    assert not figures[(150000, "人次")]["present"]  # the page today does not state it

    flags = reports.hit_flags(db, historical=True)
    scrubbed = {(f["term"], f["event_id"]) for f in flags if f["kind"] == "scrubbed"}
    assert ("转移就业", history[2]["id"]) in scrubbed  # taken out between the 2020 capture and the crawl
    assert not any(f["kind"] == "new" and f["event_id"] == history[2]["id"] for f in flags)  # flagged by the crawl
    ledger = dict(db.execute("SELECT term, first_seen FROM hits WHERE term = '转移就业'").fetchall())
    assert ledger["转移就业"][:4] == "2019"
    page = queries.page_at(db, URL)
    assert page["latest_snapshot_id"] == crawl and page["state"] == "live"  # history does not move today's page


def known_since_2019(tmp_path):
    """A database that knows the page from its 2019 capture: (db, the ad-hoc source, its keyword sets)."""
    db = open_database(tmp_path / "d.db")
    source, sets = watched(tmp_path, db)
    ingest(db, source, sets, wayback_capture("2019", "20190315083000"))
    return db, source, sets


def test_a_capture_of_a_forbidden_answer_is_never_a_removal(tmp_path):
    db, source, sets = known_since_2019(tmp_path)
    for code, stamp in ((403, "20200101000000"), (451, "20200201000000"), (503, "20200301000000")):
        blocked = Capture(URL, f"2020-0{stamp[5]}-01T00:00:00.000+00:00", code, {}, b"<html>Forbidden</html>", WAYBACK,
                          f"https://web.archive.org/web/{stamp}/{URL}", stamp)
        assert ingest(db, source, sets, blocked) == queries.SKIPPED
    assert [e["type"] for e in reports.events(db)] == ["new_page"]
    assert queries.page_at(db, URL)["state"] == "live"
    notes = [row[0] for row in db.execute("SELECT note FROM history_imports WHERE outcome = 'skipped' ORDER BY id")]
    assert [note.split(" (")[0] for note in notes] == [
        f"the capture of 2020-0{m}-01 answered HTTP {c}" for m, c in ((1, 403), (2, 451), (3, 503))]


def test_a_capture_redirected_to_the_home_page_is_a_history_removal_naming_the_last_good_copy(tmp_path):
    db, source, sets = known_since_2019(tmp_path)
    home = Capture(URL, "2020-02-01T00:00:00.000+00:00", 301, {}, b"", WAYBACK,
                   f"https://web.archive.org/web/20200201000000/{URL}", "20200201000000", location="/")
    assert ingest(db, source, sets, home) == queries.GONE
    [_, removed] = reports.events(db)
    assert removed["type"] == "removed" and removed["detail"]["kind"] == "redirected_home"
    assert removed["detail"]["reason"].endswith("home page https://rst.xinjiang.gov.cn/")
    assert removed["detail"]["last_capture"]["wayback_url"] == f"https://web.archive.org/web/20190315083000/{URL}"
    assert removed["detected_at"].startswith("2020-02-01") and removed["detail"]["historical"]
    assert queries.page_at(db, URL)["state"] == "removed"


def test_a_capture_in_the_same_second_as_docwatch_s_own_snapshot_of_that_version_is_not_a_new_version(tmp_path):
    """A Wayback timestamp has whole seconds: the capture docwatch asked for right after its crawl
    may carry a time a fraction of a second before the crawl's own snapshot of the same text."""
    db = open_database(tmp_path / "d.db")
    source, sets = watched(tmp_path, db)
    crawl_today(db, source, sets, "2026-11-20T08:00:00.600+00:00")
    assert ingest(db, source, sets, wayback_capture("2021", "20261120080000")) == queries.UNCHANGED
    assert len(queries.page_snapshots(db, URL)) == 1
    # A second earlier, the page may have shown another version: a version of its own.
    assert ingest(db, source, sets, wayback_capture("2021", "20261120075959")) == queries.NEW
