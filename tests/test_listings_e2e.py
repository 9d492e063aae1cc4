"""Issue 12, item 3: listings are evidence too. The real `docwatch crawl` of the demo site's
two-page column listing keeps each list page (its links in order, its body, its WARC record)
whenever its links change, queues it for the Wayback Machine, and a `delisted` event names the
listing snapshots before and after the article disappeared from it."""

import json
import sqlite3

import pytest

from crawler.demo.fake_wayback import FakeWayback
from tests.wayback import save_requests
from storage import archive_queue, open_database
from storage.migrations import MIGRATIONS
from tests.conftest import run_docwatch
from tests.test_changes_e2e import DELETED_PAGE, LISTING, crawl, edit, report

SECOND_LISTING_PAGE = "/xjrst/c112676/index_1.shtml"
DELETED_ITEM = f'<li><a href="{DELETED_PAGE}" target="_blank">新疆上半年转移就业农村富余劳动力175.62万人次</a><span>2019-07-19</span></li>'
ACCESS, SECRET = "listing-access", "listing-secret"
CHALLENGE = b"<html><script>document.cookie='__jsl_clearance=1';location.reload()</script></html>"


def listing_rows(db) -> dict[str, list[tuple]]:
    """Per list page (URL): its snapshots as (id, links, warc_file, warc_length, body_sha256), oldest first."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT p.url, s.id, s.links, s.warc_file, s.warc_length, s.body_sha256 FROM pages p"
            " LEFT JOIN snapshots s ON s.page_id = p.id WHERE p.kind = 'listing' ORDER BY p.url, s.id"
        ).fetchall()
    found: dict[str, list[tuple]] = {}
    for url, *snapshot in rows:
        found.setdefault(url, []).append(tuple(snapshot))
    return found


def linked_paths(links_json: str, base_url: str) -> list[str]:
    return [link["url"].removeprefix(base_url) for link in json.loads(links_json)]


def listing_requests(db) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT url, snapshot_id, state, wayback_url FROM archive_requests WHERE reason = 'listing_changed' ORDER BY id"
        ).fetchall()


def test_each_list_page_is_kept_once_with_its_links_body_and_warc_record(tmp_path, site, demo_watchlist):
    db = tmp_path / "dw.db"
    crawl(db, demo_watchlist)
    base = site.base_url
    stored = listing_rows(db)
    assert set(stored) == {base + LISTING, base + SECOND_LISTING_PAGE}
    (first,) = stored[base + LISTING]
    (second,) = stored[base + SECOND_LISTING_PAGE]
    assert linked_paths(first[1], base) == [
        "/xjrst/c112676/201801/5b1f3c2a9e8d4f6a8c7b1e2d3f4a5b6c.shtml", DELETED_PAGE,
        "/xjrst/c112676/202005/a1b2c3d4e5f60718293a4b5c6d7e8f90.shtml",
    ]
    assert json.loads(first[1])[0]["text"] == "【2017·亮点】农村富余劳动力转移就业275万人次"
    assert linked_paths(second[1], base) == [
        "/xjrst/c112676/202308/7215380191c5400397df5d7d0b5fd06b.shtml",
        "/xjrst/c112676/201206/25340717a6b54c3d8e9f0a1b2c3d4e5f.shtml",
    ]
    assert first[2] and first[3] and second[2] and second[3]  # each has its WARC record

    raw = run_docwatch("show", str(first[0]), "--raw", db=db, watchlist=demo_watchlist)
    assert raw.returncode == 0, raw.stderr
    assert raw.stdout.encode("utf-8") == (site.root / LISTING.lstrip("/")).read_bytes()
    shown = run_docwatch("show", str(first[0]), db=db, watchlist=demo_watchlist)
    assert f"【2017·亮点】农村富余劳动力转移就业275万人次 {base}/xjrst/c112676/201801/" in shown.stdout
    verified = run_docwatch("--data-dir", str(tmp_path), "evidence", base + LISTING, "--verify", db=db,
                            watchlist=demo_watchlist)
    assert verified.returncode == 0, verified.stderr
    assert f"{first[4]}" in verified.stdout and "replay: OK" in verified.stdout

    pages = {row["url"]: row for row in report(db, demo_watchlist, "pages")}
    assert (pages[base + LISTING]["kind"], pages[base + LISTING]["snapshots"]) == ("listing", 1)
    assert pages[base + LISTING]["title"] == "工作动态_新疆维吾尔自治区人力资源和社会保障厅"
    assert [(url, snapshot, state) for url, snapshot, state, _ in listing_requests(db)] == [
        (base + LISTING, first[0], "queued"), (base + SECOND_LISTING_PAGE, second[0], "queued")]

    # Crawled again with only the footer's generation time changed: same links, nothing new kept.
    edit(site, LISTING, "页面生成时间 2024-01-30 10:00:00", "页面生成时间 2024-01-31 08:00:00")
    again = crawl(db, demo_watchlist)
    assert listing_rows(db) == stored
    assert len(listing_requests(db)) == 2
    with sqlite3.connect(db) as conn:
        fetched = conn.execute("SELECT url, outcome, snapshot_id FROM fetches WHERE kind = 'listing' AND fetched_at >= ?"
                               " ORDER BY url", [again]).fetchall()
    assert fetched == [(base + LISTING, "unchanged", None), (base + SECOND_LISTING_PAGE, "unchanged", None)]
    assert report(db, demo_watchlist, "events", "--since", again) == []


def test_a_delisted_article_names_the_listing_before_and_after_and_both_are_archived(tmp_path, site, demo_watchlist):
    db = tmp_path / "dw.db"
    base = site.base_url
    crawl(db, demo_watchlist)
    (before_id,) = [row[0] for row in listing_rows(db)[base + LISTING]]
    edit(site, LISTING, DELETED_ITEM, "")
    second = crawl(db, demo_watchlist)

    stored = listing_rows(db)
    assert len(stored[base + SECOND_LISTING_PAGE]) == 1  # its links did not change
    (before, after) = stored[base + LISTING]
    assert before[0] == before_id and after[2] and after[3]
    assert json.loads(before[1])[1]["url"] == base + DELETED_PAGE
    assert DELETED_PAGE not in linked_paths(after[1], base)

    (event,) = report(db, demo_watchlist, "events", "--since", second, "--type", "delisted")
    assert event["url"] == base + DELETED_PAGE
    assert event["detail"]["listing_url"] == base + LISTING
    assert (event["detail"]["listing_snapshot_before"], event["detail"]["listing_snapshot_after"]) == (before[0], after[0])
    for snapshot_id, shows_article in ((before[0], True), (after[0], False)):
        shown = run_docwatch("show", str(snapshot_id), db=db, watchlist=demo_watchlist)
        assert (base + DELETED_PAGE in shown.stdout) is shows_article
    listed = run_docwatch("events", "--since", second, db=db, watchlist=demo_watchlist)
    assert f"listing {base}{LISTING}: snapshot #{before[0]} listed it, #{after[0]} does not" in listed.stdout

    # One open request per URL: the first crawl's, not worked yet, now points at the newer version.
    assert {url: snapshot for url, snapshot, _, _ in listing_requests(db)}[base + LISTING] == after[0]
    with FakeWayback(ACCESS, SECRET) as fake:
        env = {"DOCWATCH_WAYBACK_URL": fake.base_url, "DOCWATCH_ARCHIVE_POLL_INTERVAL": "0.05",
               "DOCWATCH_ARCHIVE_CAPTURES_PER_MINUTE": "60",
               "DOCWATCH_IA_ACCESS_KEY": ACCESS, "DOCWATCH_IA_SECRET_KEY": SECRET}
        worked = run_docwatch("archive", "run", db=db, watchlist=demo_watchlist, env=env, timeout=300)
        assert worked.returncode == 0, worked.stderr
        assert {r.form["url"][0] for r in save_requests(fake)} >= {base + LISTING, base + SECOND_LISTING_PAGE}
    done = {snapshot: (state, wayback) for _, snapshot, state, wayback in listing_requests(db)}
    assert done[after[0]][0] == "done" and done[after[0]][1].endswith(base + LISTING)

    digest = json.loads(run_docwatch("digest", "--since", second, "--format", "json", db=db,
                                     watchlist=demo_watchlist).stdout)
    (card,) = [e for e in digest["events"] if e["type"] == "delisted"]
    assert card["listing"]["url"] == base + LISTING
    assert card["listing"]["before"]["snapshot_id"] == before[0]
    assert card["listing"]["after"]["snapshot_id"] == after[0]
    assert card["listing"]["after"]["wayback_url"] == done[after[0]][1]
    assert card["listing"]["after"]["warc"]["length"] == after[3]
    markdown = run_docwatch("digest", "--since", second, "--format", "md", db=db, watchlist=demo_watchlist).stdout
    assert f"Listing before: snapshot #{before[0]}" in markdown and f"Listing after: snapshot #{after[0]}" in markdown
    html = run_docwatch("digest", "--since", second, "--format", "html", db=db, watchlist=demo_watchlist).stdout
    assert f"<dt>Before</dt><dd>snapshot #{before[0]}," in html and f"<dt>After</dt><dd>snapshot #{after[0]}," in html


def test_a_challenge_page_in_place_of_a_list_page_is_a_failed_fetch_not_a_delisting(tmp_path, site, demo_watchlist):
    db = tmp_path / "dw.db"
    crawl(db, demo_watchlist)
    stored = listing_rows(db)
    (site.root / LISTING.lstrip("/")).write_bytes(CHALLENGE)  # answered with HTTP 200
    second = crawl(db, demo_watchlist)

    assert report(db, demo_watchlist, "events", "--since", second) == []  # its articles were not dropped
    assert listing_rows(db) == stored
    with sqlite3.connect(db) as conn:
        fetched = conn.execute("SELECT outcome, error FROM fetches WHERE url = ? AND fetched_at >= ?",
                               [site.base_url + LISTING, second]).fetchall()
    assert fetched == [("failed", "anti-bot JavaScript challenge page")]
    pages = {row["url"]: row for row in report(db, demo_watchlist, "pages")}
    assert (pages[site.base_url + LISTING]["last_outcome"], pages[site.base_url + LISTING]["snapshots"]) == ("failed", 1)


def test_a_database_of_the_previous_version_migrates(tmp_path, demo_watchlist):
    db = tmp_path / "dw.db"
    with sqlite3.connect(db) as previous:  # the schema as the previous version left it: migrations 1 to 9
        previous.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL,"
                         " applied_at TEXT NOT NULL)")
        for version, description, sql in MIGRATIONS:
            if version < 11:
                previous.executescript(sql)
                previous.execute("INSERT INTO schema_migrations VALUES (?, ?, datetime('now'))", [version, description])
        previous.executescript(PREVIOUS_ROWS)
        requests_before = previous.execute("SELECT * FROM archive_requests ORDER BY id").fetchall()

    listed = run_docwatch("events", db=db, watchlist=demo_watchlist)
    assert listed.returncode == 0, listed.stderr
    assert "no longer linked from listing xj-rst" in listed.stdout  # a delisted event from before, as it was

    with sqlite3.connect(db) as migrated:
        assert migrated.execute("SELECT * FROM archive_requests ORDER BY id").fetchall() == requests_before
        indexes = {row[0] for row in migrated.execute("SELECT name FROM sqlite_master WHERE tbl_name = 'archive_requests'"
                                                      " AND type = 'index'")}
        assert {"archive_requests_one_open_per_url", "archive_requests_due", "archive_requests_url"} <= indexes
    database = open_database(db)
    assert archive_queue.enqueue(database, "http://gov.example/index.shtml", "listing_changed") == 3
    assert archive_queue.enqueue(database, "http://gov.example/a.shtml", "listing_changed") == 2  # still one open per URL
    with pytest.raises(sqlite3.IntegrityError):
        database.execute("INSERT INTO archive_requests (url, reason, next_attempt_at, created_at, updated_at)"
                         " VALUES ('http://gov.example/b', 'whim', 'x', 'x', 'x')")


PREVIOUS_ROWS = """
INSERT INTO sources (id, url, type, added_at, updated_at) VALUES ('xj-rst', 'http://gov.example/index.shtml', 'listing', 'x', 'x');
INSERT INTO pages (id, source_id, url, kind, first_seen) VALUES (1, 'xj-rst', 'http://gov.example/a.shtml', 'article', 'x');
INSERT INTO events (type, source_id, page_id, url, detected_at, detail)
    VALUES ('delisted', 'xj-rst', 1, 'http://gov.example/a.shtml', '2026-11-30T08:00:00+00:00', '{"listing_source": "xj-rst"}');
INSERT INTO fetches (source_id, url, kind, fetched_at, outcome) VALUES ('xj-rst', 'http://gov.example/index.shtml', 'listing', 'x', 'listed');
INSERT INTO archive_requests (id, url, reason, state, attempts, next_attempt_at, wayback_url, wayback_timestamp,
    capture_kind, created_at, updated_at) VALUES (1, 'http://gov.example/a.shtml', 'new_page', 'done', 1, 'x',
    'https://web.archive.org/web/20261130080000/http://gov.example/a.shtml', '20261130080000', 'new', 'x', 'x');
INSERT INTO archive_requests (id, url, reason, state, next_attempt_at, last_error, created_at, updated_at)
    VALUES (2, 'http://gov.example/a.shtml', 'manual', 'queued', 'x', 'HTTP 503', 'x', 'x');
"""


def test_a_dropped_article_is_fetched_on_until_it_is_removed_or_found_still_online_hidden(tmp_path, site, demo_watchlist):
    """Issue 14: an article dropped from its listing and deleted is `removed` after its
    confirmations; one dropped but still online is `hidden`, never removed."""
    db = tmp_path / "dw.db"
    crawl(db, demo_watchlist)
    kept_online = "/xjrst/c112676/201801/5b1f3c2a9e8d4f6a8c7b1e2d3f4a5b6c.shtml"
    edit(site, LISTING, DELETED_ITEM, "")
    edit(site, LISTING, f'<li><a href="{kept_online}" target="_blank">【2017·亮点】农村富余劳动力转移就业275万人次</a>'
                        '<span>2018-01-09</span></li>', "")
    (site.root / DELETED_PAGE.lstrip("/")).unlink()
    crawl(db, demo_watchlist)  # both delisted: neither is linked any more
    crawl(db, demo_watchlist)  # fetched directly: the first 404, and the other still answers
    crawl(db, demo_watchlist)  # the second 404 in a row confirms the removal

    events = report(db, demo_watchlist, "events", "--source", "demo-rst-work-news")
    by_page = {}
    for event in events:
        by_page.setdefault(event["url"].removeprefix(site.base_url), []).append(event)
    assert [e["type"] for e in by_page[DELETED_PAGE]] == ["new_page", "delisted", "removed"]
    removed = by_page[DELETED_PAGE][-1]
    assert removed["detail"]["kind"] == "deleted" and removed["detail"]["checks"] == 2
    assert removed["snapshot_id"] is not None  # the last good copy
    assert [e["type"] for e in by_page[kept_online]] == ["new_page", "delisted", "hidden"]  # once, not every crawl
    assert "still answers with content: delisted, not removed" in run_docwatch(
        "events", "--type", "hidden", db=db, watchlist=demo_watchlist).stdout
    pages = {row["url"].removeprefix(site.base_url): row for row in report(db, demo_watchlist, "pages")}
    assert pages[DELETED_PAGE]["state"] == "removed" and pages[kept_online]["state"] == "live"


def test_the_same_article_republished_at_a_new_url_is_moved_with_no_new_hits(tmp_path, site, demo_watchlist):
    """Issue 14: a document republished at a new URL is one `moved` event linking both URLs,
    and its keyword hits are not flagged new again."""
    db = tmp_path / "dw.db"
    crawl(db, demo_watchlist)
    new_path = "/xjrst/c112676/202401/b8238dc3257747cea5e9a974c9c7663e.shtml"
    (site.root / new_path.lstrip("/")).parent.mkdir(parents=True)
    (site.root / DELETED_PAGE.lstrip("/")).rename(site.root / new_path.lstrip("/"))
    edit(site, LISTING, f'href="{DELETED_PAGE}"', f'href="{new_path}"')
    second = crawl(db, demo_watchlist)

    events = report(db, demo_watchlist, "events", "--since", second, "--source", "demo-rst-work-news")
    by_page = {}
    for event in events:
        by_page.setdefault(event["url"].removeprefix(site.base_url), []).append(event["type"])
    assert by_page[new_path] == ["moved"] and by_page[DELETED_PAGE] == ["delisted"]
    [moved] = [e for e in events if e["type"] == "moved"]
    assert moved["detail"]["moved_from"] == site.base_url + DELETED_PAGE and moved["detail"]["moved_similarity"] == 1.0
    assert report(db, demo_watchlist, "hits", "--since", second) == []
    assert not any(f["new"] for f in report(db, demo_watchlist, "figures") if f["url"].endswith(new_path))
    assert "moved from " + site.base_url + DELETED_PAGE in run_docwatch(
        "events", "--type", "moved", db=db, watchlist=demo_watchlist).stdout
    # The workbench's queue ranks it with the removals (section 0), as the digest does, not as
    # the new page it was first stored as: the recast event was ranked again.
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT section FROM event_triage WHERE event_id = ?", [moved["id"]]).fetchone() == (0,)
