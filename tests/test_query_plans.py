"""The queries behind `events --since`, `hits --since`, `figures --since`, `digest --since` and
`status` read what they need through indexes, never every row of a big table: on a database of
two years (bench/bigdb.py) a full scan turned each into seconds or minutes. SQLite plans these
queries the same on an empty database as on a big one (docwatch never runs ANALYZE), so the
plan of each statement the functions run is checked here."""

import json
import re
from datetime import datetime, timedelta, timezone

import pytest

from crawler.report.model import build_digest
from storage import archive_queue, bodies, events, open_database, queries, reports
from storage.database import since_bound, utcnow
from tests.conftest import database_before

BIG_TABLES = ("pages", "snapshots", "events", "fetches", "runs", "hits", "hit_flags", "figures", "archive_requests")


@pytest.fixture
def statements(tmp_path):
    """The database, and the list every statement it runs is added to."""
    db = open_database(tmp_path / "docwatch.db")
    ran: list[str] = []
    db.conn.set_trace_callback(ran.append)
    return db, ran


def full_scans(db, statements: list[str]) -> list[str]:
    scans = []
    for statement in statements:
        if not statement.lstrip().upper().startswith("SELECT"):
            continue
        aliases = {alias or table: table for table, alias in re.findall(
            r"(?:FROM|JOIN)\s+(\w+)(?:\s+(?!WHERE|ON|JOIN|LEFT|ORDER|GROUP|LIMIT)(\w+))?", statement, re.I)}
        for *_, detail in db.conn.execute(f"EXPLAIN QUERY PLAN {statement}"):
            scanned = re.match(r"SCAN (\w+)$", detail)
            if scanned and aliases.get(scanned[1], scanned[1]) in BIG_TABLES:
                scans.append(f"{detail} in: {statement}")
    return scans


def test_the_period_queries_and_status_use_indexes(statements):
    db, ran = statements
    since = since_bound(datetime.now(timezone.utc) - timedelta(days=1))
    reports.events(db, since)
    reports.hit_flags(db, since, new_only=True)
    reports.figures(db, since)
    build_digest(db, since, utcnow())
    queries.last_runs(db)
    queries.last_fetch_errors(db)
    db.conn.set_trace_callback(None)

    assert len(ran) >= 6
    assert full_scans(db, ran) == []


URL = "http://www.htx.gov.cn/htx/c114304/202310/f44ac40812424a1c9bcb113ab2b88936.shtml"
WEB = "https://web.archive.org/web"


def test_a_pages_earlier_capture_is_one_index_lookup_in_a_database_the_previous_version_made(tmp_path):
    """Digests and `docwatch evidence` ask, per version, for the newest capture taken before it
    was fetched, and per event for the page's latest archive request: on a page with thousands
    of versions, reading each snapshot row for its capture columns cost 20 ms an event.
    Migration 28 indexes both; the answers are unchanged."""
    path = tmp_path / "old.db"
    with database_before(path, 28).conn as old:
        old.execute("INSERT INTO sources (id, url, type, added_at, updated_at) VALUES ('htx', ?, 'page', 'x', 'x')", [URL])
        old.execute("INSERT INTO pages (id, source_id, url, kind, first_seen) VALUES (1, 'htx', ?, 'page', 'x')", [URL])
        for snapshot_id, fetched_at, captured in ((1, "2026-11-20T10:00:00+00:00", "20261120110000"),
                                                  (2, "2026-11-21T10:00:00+00:00", "20261121110000"),
                                                  (3, "2026-11-22T10:00:00+00:00", None)):
            old.execute("INSERT INTO snapshots (id, page_id, fetched_at, http_status, final_url, encoding, title, text,"
                        " text_sha256, body_sha256, body_size, body_zlib, wayback_url, wayback_timestamp)"
                        " VALUES (?, 1, ?, 200, ?, 'utf-8', '', '', ?, ?, 0, x'', ?, ?)",
                        [snapshot_id, fetched_at, URL, str(snapshot_id), str(snapshot_id),
                         f"{WEB}/{captured}/{URL}" if captured else None, captured])
        old.execute("INSERT INTO archive_requests (url, reason, state, next_attempt_at, wayback_url, wayback_timestamp,"
                    " capture_kind, created_at, updated_at) VALUES (?, 'manual', 'done', 'x', ?, '20261121180000',"
                    " 'new', 'x', 'x')", [URL, f"{WEB}/20261121180000/{URL}"])
    db = open_database(path)
    ran: list[str] = []
    db.conn.set_trace_callback(ran.append)

    stamps = [getattr(archive_queue.earlier_capture(db, URL, fetched_at), "wayback_timestamp", None)
              for fetched_at in ("2026-11-20T09:00:00+00:00", "2026-11-21T09:00:00+00:00", "2026-11-22T10:00:00+00:00")]
    last = archive_queue.last_capture_for_page(db, URL)
    state = archive_queue.latest_request_state(db, URL)
    db.conn.set_trace_callback(None)

    assert stamps == [None, "20261120110000", "20261121180000"]  # the manual request's capture is the newest
    assert last.wayback_timestamp == "20261121180000" and state == "done"
    plans = [detail for statement in ran if "wayback_timestamp" in statement
             for *_, detail in db.conn.execute(f"EXPLAIN QUERY PLAN {statement}")]
    snapshot_reads = [detail for detail in plans if re.match(r"(SEARCH|SCAN) s\b", detail)]
    assert snapshot_reads and all("USING COVERING INDEX snapshots_page_capture" in d for d in snapshot_reads), plans
    [latest] = [statement for statement in ran if "ORDER BY id DESC LIMIT 1" in statement]
    latest_plan = [detail for *_, detail in db.conn.execute(f"EXPLAIN QUERY PLAN {latest}")]
    # the URLs in a list (a digest asks for all of its events' at once), each URL one index lookup
    assert "SEARCH archive_requests USING COVERING INDEX archive_requests_latest (url=?)" in latest_plan, latest_plan
    assert not any(detail.startswith("SCAN archive_requests") for detail in latest_plan), latest_plan


def test_a_new_page_finds_the_pages_gone_lately_without_reading_every_page_of_its_source(statements):
    """Each new page asks whether it is a page of its source that went lately (removed, failing,
    delisted) and moved. Read through the source's every page, that question made a cold crawl of
    one source of thousands of articles grow with the square of its size (bench/stages.py)."""
    db, ran = statements
    since = since_bound(datetime.now(timezone.utc) - timedelta(days=30))
    events.gone_pages_of(db, "htx", "article", since)
    events.gone_pages_of(db, "htx", "document", since, body_sha256="0" * 64)
    db.conn.set_trace_callback(None)

    plans = [[detail for *_, detail in db.conn.execute(f"EXPLAIN QUERY PLAN {statement}")] for statement in ran]
    assert len(plans) == 2
    for plan in plans:
        assert "SEARCH pages USING INDEX pages_gone (source_id=? AND kind=? AND <expr>>?)" in plan, plan
        assert "SEARCH events USING INDEX events_type_detected (type=? AND detected_at>?)" in plan, plan
        assert not any(detail.startswith("SCAN") for detail in plan), plan


def _listing_with_history(path, list_pages: int, snapshots: int, shown_on: int = 0, articles: int = 0):
    """A source of `list_pages` list pages, each stored `snapshots` times, and of `articles` article
    pages; the article of URL is shown on list page `shown_on`, in its newest two snapshots, and
    never on the others."""
    db = open_database(path)
    with db.conn:
        db.conn.execute("INSERT INTO sources (id, url, type, added_at, updated_at) VALUES ('htx', ?, 'listing', 'x', 'x')",
                        ["http://www.htx.gov.cn/htx/c114304/index.shtml"])
        db.conn.executemany("INSERT INTO pages (id, source_id, url, kind, first_seen) VALUES (?, 'htx', ?, 'listing', 'x')",
                            [[page + 1, f"http://www.htx.gov.cn/htx/c114304/index_{page}.shtml"] for page in range(list_pages)])
        db.conn.executemany("INSERT INTO pages (source_id, url, kind, first_seen) VALUES ('htx', ?, 'article', 'x')",
                            [[f"http://www.htx.gov.cn/htx/c114304/{n}.shtml"] for n in range(articles)])
        for n in range(snapshots):
            for page in range(list_pages):
                links = [{"url": f"http://www.htx.gov.cn/htx/c114304/old{n}-{page}-{k}.shtml"} for k in range(20)]
                if page == shown_on and n >= snapshots - 2:
                    links.append({"url": URL})
                db.conn.execute("INSERT INTO snapshots (page_id, fetched_at, http_status, final_url, encoding, title, text,"
                                " text_sha256, body_sha256, body_size, body_zlib, links)"
                                " VALUES (?, ?, 200, 'x', 'utf-8', '', '', ?, ?, 0, x'', ?)",
                                [page + 1, f"2026-01-01T00:{n // 60:02d}:{n % 60:02d}", str(n), str(n), json.dumps(links)])
    return db


def _steps(db, work) -> tuple[object, int]:
    """What `work(db)` returns, and how many SQLite virtual-machine steps (in hundreds) it took."""
    steps = 0

    def count() -> int:
        nonlocal steps
        steps += 1
        return 0

    db.conn.set_progress_handler(count, 100)
    try:
        return work(db), steps
    finally:
        db.conn.set_progress_handler(None, 0)


def test_which_list_page_showed_a_delisted_article_last_does_not_cost_more_as_the_listing_ages(tmp_path):
    """Each article a listing drops is told with the list page's snapshot that showed it last. Read
    through every snapshot's links, that cost grew with each day of the listing's history (and
    with each article of the source): here it is counted in SQLite's own steps, not timed."""
    def lookup(db):
        return queries.last_listing_snapshot_linking(db, "htx", URL)

    young, young_steps = _steps(_listing_with_history(tmp_path / "young.db", 1, snapshots=10, articles=10), lookup)
    old, old_steps = _steps(_listing_with_history(tmp_path / "old.db", 1, snapshots=400, articles=2000), lookup)

    assert young == (10, "http://www.htx.gov.cn/htx/c114304/index_0.shtml")
    assert old == (400, "http://www.htx.gov.cn/htx/c114304/index_0.shtml")
    assert old_steps <= young_steps + 2, (young_steps, old_steps)


def test_which_list_page_showed_a_delisted_article_last_does_not_cost_more_as_its_other_list_pages_age(tmp_path):
    """A listing of several list pages shows an article on one of them. Each list page's
    snapshots read back to one that links the article read the whole history of the list pages
    that never showed it: each delisting cost more with every day of the listing's history."""
    def lookup(db):
        return queries.last_listing_snapshot_linking(db, "htx", URL)

    young, young_steps = _steps(_listing_with_history(tmp_path / "young.db", 3, snapshots=10, shown_on=1), lookup)
    old, old_steps = _steps(_listing_with_history(tmp_path / "old.db", 3, snapshots=400, shown_on=1), lookup)

    assert young == (29, "http://www.htx.gov.cn/htx/c114304/index_1.shtml")  # the newest of the 30 snapshots but one
    assert old == (1199, "http://www.htx.gov.cn/htx/c114304/index_1.shtml")
    assert old_steps <= young_steps + 2, (young_steps, old_steps)


def _page_with_versions(path, deltas: int):
    """A page stored once whole (a keyframe) and then `deltas` times as a delta against it."""
    db = open_database(path)
    keyframe = bodies.keyframe(BODY)
    with db.conn:
        db.conn.execute("INSERT INTO sources (id, url, type, added_at, updated_at) VALUES ('htx', ?, 'page', 'x', 'x')", [URL])
        db.conn.execute("INSERT INTO pages (id, source_id, url, kind, first_seen) VALUES (1, 'htx', ?, 'page', 'x')", [URL])
        db.conn.executemany("INSERT INTO snapshots (page_id, fetched_at, http_status, final_url, encoding, title, text,"
                            " text_sha256, body_sha256, body_size, body_zlib, body_codec, body_base_id)"
                            " VALUES (1, ?, 200, ?, 'utf-8', '', ?, ?, ?, 0, ?, ?, ?)",
                            [[f"2026-01-01T00:{n // 60:02d}:{n % 60:02d}", URL, "text " * 500, str(n), str(n),
                              keyframe if n == 0 else b"delta", "zstd" if n == 0 else "zstd-delta", None if n == 0 else 1]
                             for n in range(deltas + 1)])
    return db


BODY = "".join(f"<p>Notice {n}: {n * 7919 % 1000} households</p>" for n in range(400)).encode()


def test_a_new_version_finds_its_keyframe_at_the_same_cost_however_many_versions_the_page_has(tmp_path):
    """Each new version of a page is compressed against the page's latest keyframe. A page that
    changes a little each time keeps one keyframe for hundreds of versions; found by reading the
    page's snapshots back from the newest, each version cost more than the one before it."""
    def store(db):
        return bodies.pack(db, 1, BODY)["body_base_id"]

    young, young_steps = _steps(_page_with_versions(tmp_path / "young.db", deltas=5), store)
    old, old_steps = _steps(_page_with_versions(tmp_path / "old.db", deltas=2000), store)

    assert young == old == 1  # a delta against the page's one keyframe
    assert old_steps <= young_steps + 2, (young_steps, old_steps)


def _runs(path, finished: int):
    """A database that recorded `finished` runs, and one left running by a process that died."""
    db = open_database(path)
    with db.conn:
        db.conn.executemany("INSERT INTO runs (started_at, finished_at, trigger, pid, status)"
                            " VALUES ('2026-01-01T00:00:00+00:00', '2026-01-01T00:01:00+00:00', 'daemon', 1, 'done')",
                            [[]] * finished)
        db.conn.execute("INSERT INTO runs (started_at, trigger, pid, status)"
                        " VALUES ('2026-01-02T00:00:00+00:00', 'daemon', ?, 'running')", [2**22 + 12345])  # no such process
    return db


def test_a_crawl_finds_the_runs_left_running_at_the_same_cost_however_many_runs_the_database_recorded(tmp_path):
    """Each crawl starts by marking the runs a dead process left running as interrupted. Found by
    reading every run, that cost grew with each run the daemon ever started (tens of thousands in
    two years)."""
    young, young_steps = _steps(_runs(tmp_path / "young.db", finished=10), queries.interrupt_dead_runs)
    old, old_steps = _steps(_runs(tmp_path / "old.db", finished=20000), queries.interrupt_dead_runs)

    assert young == old == 1
    assert old_steps <= young_steps + 2, (young_steps, old_steps)


def _archive_requests(path, old: int):
    """`old` requests submitted a year ago, and two in the last minute."""
    db = open_database(path)
    now = datetime.now(timezone.utc)
    submitted = [utcnow(now - timedelta(days=365, seconds=n)) for n in range(old)]
    submitted += [utcnow(now - timedelta(seconds=20)), utcnow(now - timedelta(seconds=10))]
    with db.conn:
        db.conn.executemany("INSERT INTO archive_requests (url, reason, state, next_attempt_at, submitted_at, created_at,"
                            " updated_at) VALUES (?, 'changed', 'done', 'x', ?, 'x', 'x')",
                            [[f"{URL}?v={n}", at] for n, at in enumerate(submitted)])
    return db


def test_the_archive_worker_counts_the_last_minutes_submissions_at_the_same_cost_however_many_it_made_before(tmp_path):
    """Before each capture it asks for, the archive worker counts the submissions of the last
    minute (the per-minute budget). Counted by reading every request, that cost grew with each
    version the crawl ever stored (one request each)."""
    def last_minute(db):
        return archive_queue.submissions_since(db, datetime.now(timezone.utc) - timedelta(minutes=1))

    young, young_steps = _steps(_archive_requests(tmp_path / "young.db", old=5), last_minute)
    old, old_steps = _steps(_archive_requests(tmp_path / "old.db", old=2000), last_minute)

    assert young == old == 2
    assert old_steps <= young_steps + 2, (young_steps, old_steps)
