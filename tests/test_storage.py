"""The evidence store: migrations, atomic writes, snapshot-only-on-change."""

import dataclasses
import hashlib
import json
import sqlite3
import zlib

import pytest

from crawler.compare.keywords import KeywordMatcher, KeywordSet
from crawler.config.watchlist import parse_watchlist
from crawler.pipeline.store import store_capture, store_failure
from storage import SCHEMA_VERSION, locks, open_database, queries
from storage.migrations import MIGRATIONS
from tests.conftest import FILES

WATCHLIST = """\
keyword_sets:
  labor_transfer: {terms: [转移就业]}
sources:
  - {id: xj-rst, url: "http://gov.example/", type: page, name: 人社厅, tags: [xinjiang], keyword_sets: [labor_transfer]}
"""
DAY_ADDED = "2024-01-01T00:00:00+00:00"
MATCHER = KeywordMatcher({"labor_transfer": KeywordSet(terms=["转移就业"])})


def capture(url="http://gov.example/a.shtml", text="农村富余劳动力转移就业275万人次。", body=b"<html>...</html>"):
    return queries.PageCapture(
        source_id="s1", url=url, kind="page", fetched_at="2026-11-22T10:00:00+00:00", http_status=200,
        final_url=url, content_type="text/html", encoding="utf-8", title="标题", published="2018-01-09",
        text=text, original_text=text, text_sha256=hashlib.sha256(text.encode()).hexdigest(), body=body,
        body_sha256=hashlib.sha256(body).hexdigest(),
    )


@pytest.fixture
def db(tmp_path):
    database = open_database(tmp_path / "d.db")
    database["sources"].insert({"id": "s1", "url": "http://gov.example/", "type": "page", "tags": "[]",
                                "added_at": "x", "updated_at": "x"})
    return database


def test_open_migrates_once_and_uses_wal(tmp_path):
    path = tmp_path / "d.db"
    open_database(path).close()
    db = open_database(path)
    assert [r[0] for r in db.execute("SELECT version FROM schema_migrations")] == [m[0] for m in MIGRATIONS]
    assert MIGRATIONS[-1][0] == SCHEMA_VERSION
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert {"sources", "pages", "snapshots", "fetches", "runs"} <= set(db.table_names())


def test_a_database_from_before_undecodable_bytes_migrates(tmp_path, db):
    store_capture(db, None, capture(), MATCHER)
    db.execute("ALTER TABLE snapshots DROP COLUMN undecodable_bytes")  # as the previous version made it
    db.execute("DELETE FROM schema_migrations WHERE version = 15")
    db.close()
    migrated = open_database(tmp_path / "d.db")
    assert [row["undecodable_bytes"] for row in migrated.query("SELECT undecodable_bytes FROM snapshots")] == [0]
    assert store_capture(migrated, None, capture(text="转移就业276万人次。"), MATCHER) == queries.CHANGED


def test_a_database_made_before_fetch_accounting_migrates_and_keeps_its_rows(tmp_path):
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL,"
                " applied_at TEXT NOT NULL)")
    for version, description, sql in MIGRATIONS:
        if version < 12:  # the schema of the version before m0012
            old.executescript(sql)
            old.execute("INSERT INTO schema_migrations VALUES (?, ?, 'then')", [version, description])
    old.execute("INSERT INTO runs (started_at, trigger, pid, status) VALUES ('2026-11-01', 'cli', 1, 'done')")
    old.execute("INSERT INTO fetches (run_id, source_id, url, kind, fetched_at, outcome)"
                " VALUES (1, 's1', 'http://gov.example/a', 'page', '2026-11-01', 'new')")
    old.commit()
    old.close()

    db = open_database(path)
    assert db.execute("SELECT url, final_url FROM fetches").fetchall() == [("http://gov.example/a", None)]
    run = queries.finish_run(db, 1, "done")
    assert (run["pages_new"], run["pages_skipped"], run["requests"], run["requests_unaccounted"]) == (1, 0, None, None)
    queries.add_run_requests(db, 1, 2)
    assert queries.finish_run(db, 1, "done")["requests_unaccounted"] == 1  # two set out, one recorded


def test_snapshot_only_when_text_changes_but_every_fetch_recorded(db):
    assert store_capture(db, None, capture(), MATCHER) == queries.NEW
    assert store_capture(db, None, capture(body=b"<html>other markup</html>"), MATCHER) == queries.UNCHANGED
    assert store_capture(db, None, capture(text="农村富余劳动力转移就业276万人次。"), MATCHER) == queries.CHANGED
    assert db["snapshots"].count == 2
    assert [r["outcome"] for r in db.query("SELECT outcome FROM fetches ORDER BY id")] == ["new", "unchanged", "changed"]


def test_raw_body_is_stored_compressed_and_reads_back(db):
    body = ("<p>转移就业</p>" * 2000).encode("utf-8")
    store_capture(db, None, capture(body=body), MATCHER)
    stored = db.execute("SELECT id, length(body_zlib), body_size FROM snapshots").fetchone()
    assert stored[1] < stored[2] / 10
    assert queries.snapshot_body(db, stored[0]) == body


def test_a_failure_mid_write_leaves_no_partial_rows(db):
    db.execute("CREATE TRIGGER disk_full BEFORE INSERT ON fetches BEGIN SELECT RAISE(ABORT, 'disk full'); END")
    with pytest.raises(sqlite3.IntegrityError, match="disk full"):
        store_capture(db, None, capture(), MATCHER)
    assert db["pages"].count == 0
    assert db["snapshots"].count == 0


def test_a_failed_fetch_is_recorded_and_keeps_the_last_snapshot(db):
    store_capture(db, None, capture(), MATCHER)
    store_failure(db, None, "s1", "http://gov.example/a.shtml", "page", "2026-11-22T11:00:00+00:00", "HTTP 503", 503)
    page = next(db.query("SELECT * FROM pages"))
    assert page["last_outcome"] == "failed" and page["last_status"] == 503
    assert page["latest_snapshot_id"] == 1


def test_runs_killed_while_running_are_marked_interrupted(db):
    run_id = queries.start_run(db, "cli", ["s1"])
    db["runs"].update(run_id, {"pid": 2**22 + 12345})  # no such process
    assert queries.interrupt_dead_runs(db) == 1
    assert db["runs"].get(run_id)["status"] == "interrupted"


def test_a_crawl_that_skips_busy_sources_locks_the_others_and_is_refused_only_when_all_are_held(tmp_path, db):
    path = tmp_path / "d.db"

    def start_run(source_ids: list[str]) -> int:
        return queries.start_run(db, "daemon", source_ids)

    held, held_run = locks.SourceLock.acquire(db, path, ["a"], "cli", start_run)
    with pytest.raises(locks.SourcesBusy, match="source a is being crawled by pid"):
        locks.SourceLock.acquire(db, path, ["a", "b"], "daemon", start_run)  # all or none, by default

    lock, run_id = locks.SourceLock.acquire(db, path, ["b", "a"], "daemon", start_run, skip_busy=True)
    assert lock.source_ids == ["b"]
    assert [passed.source_id for passed in lock.passed_over] == ["a"]
    assert json.loads(db["runs"].get(run_id)["sources"]) == ["b"]
    assert db.execute("SELECT source_id FROM run_sources WHERE run_id = ?", [run_id]).fetchall() == [("b",)]
    assert {(held.source_id, held.run_id) for held in locks.current_locks(db)} == {("a", held_run), ("b", run_id)}
    with pytest.raises(locks.SourcesBusy):
        locks.SourceLock.acquire(db, path, ["a", "b"], "daemon", start_run, skip_busy=True)
    assert db.execute("SELECT count(*) FROM runs").fetchone() == (2,)  # the refusal started no run
    lock.release(db)
    held.release(db)
    assert locks.current_locks(db) == []


def test_syncing_the_watchlist_updates_a_source_and_keeps_when_it_was_added(tmp_path):
    db = open_database(tmp_path / "d.db")
    watchlist = parse_watchlist(WATCHLIST)
    queries.sync_sources(db, watchlist.sources)
    [first] = db.query("SELECT * FROM sources")
    assert (first["id"], first["name"], json.loads(first["tags"])) == ("xj-rst", "人社厅", ["xinjiang"])
    db.execute("UPDATE sources SET added_at = ?, updated_at = ?", [DAY_ADDED, DAY_ADDED])  # watched since then
    renamed = dataclasses.replace(watchlist.sources[0], name="新疆人社厅", tags=("xinjiang", "labor"))
    queries.sync_sources(db, [renamed])
    [second] = db.query("SELECT * FROM sources")
    assert (second["name"], json.loads(second["tags"])) == ("新疆人社厅", ["xinjiang", "labor"])
    assert second["added_at"] == DAY_ADDED and second["updated_at"] >= first["updated_at"]


def test_later_versions_of_a_real_page_cost_what_changed_and_read_back_exactly(db):
    """Ten versions of a real county report (125 kB) take little more room than one."""
    page = (FILES / "pages" / "wanzai.gov.cn_tjgb2022_article.html").read_bytes()
    versions = [page.replace("2022年".encode(), f"202{n}年".encode(), 1) + f"<!-- {n} -->".encode() for n in range(10)]
    for n, body in enumerate(versions):
        store_capture(db, None, capture(text=f"转移就业{n}万人次。", body=body), MATCHER)
    rows = db.execute("SELECT id, length(body_zlib), body_codec FROM snapshots ORDER BY id").fetchall()
    assert [codec for _, _, codec in rows] == ["zstd"] + ["zstd-delta"] * 9
    assert sum(size for _, size, _ in rows) < 2 * rows[0][1]
    assert [queries.snapshot_body(db, snapshot_id) for snapshot_id, _, _ in rows] == versions


def test_a_zlib_keyframe_of_an_older_database_still_reads_back_and_bases_deltas(db):
    page = (FILES / "pages" / "wanzai.gov.cn_tjgb2022_article.html").read_bytes()
    store_capture(db, None, capture(text="转移就业1万人次。", body=page), MATCHER)
    db.execute("UPDATE snapshots SET body_zlib = ?, body_codec = 'zlib'", [zlib.compress(page)])
    later = page.replace("2022年".encode(), "2023年".encode(), 1)
    store_capture(db, None, capture(text="转移就业2万人次。", body=later), MATCHER)
    rows = db.execute("SELECT id, body_codec, body_base_id FROM snapshots ORDER BY id").fetchall()
    assert [(codec, base) for _, codec, base in rows] == [("zlib", None), ("zstd-delta", rows[0][0])]
    assert [queries.snapshot_body(db, snapshot_id) for snapshot_id, _, _ in rows] == [page, later]
