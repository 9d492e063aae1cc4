"""What the workbench reads and writes, through the real store path into a real SQLite file:
the triage order (migration 20) agrees with the digest's, the search index (migration 21)
finds every version with keyword matching's folding, review work shows in digests, and a
database made by the previous version gets both."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import sqlite_utils
import yaml

from crawler.compare.keywords import KeywordMatcher, KeywordSet
from crawler.pipeline.store import store_capture
from crawler.report.model import build_digest
from crawler.report.render import render
from crawler.report.search import search
from crawler.workbench.app import events_csv
from storage import custody, open_database, queries, reviews, search as search_index, utcnow
from tests.conftest import database_before

REPORT = "http://rst.example/xjrst/c112676/201801/5b1f3c2a9e8d4f6a8c7b1e2d3f4a5b6c.shtml"
OTHER = "http://rst.example/xjrst/c112676/201907/7c2e4d6f8a0b4c1d9e3f5a7b9c1d3e5f.shtml"
# From the demo's 天山网 report (2018-01-09) and the 2019 新华社 report it links.
QUOTA = "2017年全区整建制转移内地企业就业20859人，完成年度目标任务的104%。"
REVISED = "2017年全区整建制转移内地企业就业21859人，完成年度目标任务的104%。"
ADDED = "各地要激发内生动力，加强思想工作，转变就业观念。"
MATCHER = KeywordMatcher({
    "labor_transfer": KeywordSet(terms=["转移就业", "富余劳动力"]),
    "coercion": KeywordSet(terms=["激发内生动力", "转变就业观念", "思想工作"]),
})


def capture(url: str, text: str, at: str, title: str = "农村富余劳动力转移就业275万人次"):
    body = f"<html><title>{title}</title><p>{text}</p></html>".encode()
    return queries.PageCapture(
        source_id="rst", url=url, kind="page", fetched_at=at, http_status=200, final_url=url,
        content_type="text/html", encoding="utf-8", title=title, published="2018-01-09", text=text, original_text=text,
        text_sha256=hashlib.sha256(text.encode()).hexdigest(), body=body, body_sha256=hashlib.sha256(body).hexdigest(),
    )


def crawled(path) -> sqlite_utils.Database:
    """Two pages; then the report's quota revised (20859人 → 21859人, the date unchanged: a
    silent edit) and a sentence with three coercion terms added; then the other page drops
    富余劳动力."""
    db = open_database(path)
    db.execute("INSERT INTO sources (id, url, type, name, tags, added_at, updated_at) VALUES"
               " ('rst', ?, 'listing', '新疆人社厅', '[\"xinjiang\"]', 'then', 'then')", [REPORT])
    store_capture(db, None, capture(REPORT, f"农村富余劳动力转移就业275万人次。{QUOTA}", "2026-11-20T08:00:00.000+00:00"), MATCHER)
    store_capture(db, None, capture(OTHER, "新疆上半年转移就业农村富余劳动力175.62万人次。", "2026-11-20T08:00:01.000+00:00",
                                    title="新疆上半年转移就业农村富余劳动力175.62万人次"), MATCHER)
    store_capture(db, None, capture(REPORT, f"农村富余劳动力转移就业275万人次。{REVISED}{ADDED}",
                                    "2026-11-21T08:00:00.000+00:00"), MATCHER)
    store_capture(db, None, capture(OTHER, "新疆上半年转移就业175.62万人次。", "2026-11-21T08:00:01.000+00:00",
                                    title="新疆上半年转移就业175.62万人次"), MATCHER)
    return db


def test_the_queue_is_the_digests_order_of_sections_and_scores(tmp_path):
    db = crawled(tmp_path / "dw.db")
    digest = {event.event_id: event for event in build_digest(db, None, utcnow()).events}
    rows = reviews.queue(db, reviews.EventFilter())
    assert {row["id"]: (row["section"], row["score"]) for row in rows} == {
        event_id: (event.section, event.score) for event_id, event in digest.items()}
    first = digest[rows[0]["id"]]
    assert first.type == "changed" and first.url == REPORT and first.silent_edit  # what was taken back leads
    assert [f.text for f in first.removed_figures] == ["20859人"]
    assert rows[1]["url"] == OTHER and digest[rows[1]["id"]].scrubbed_hits  # 富余劳动力 scrubbed
    assert [row["score"] for row in rows] == sorted((row["score"] for row in rows), reverse=True)
    ids = [row["id"] for row in rows]
    assert [reviews.neighbours(db, reviews.EventFilter(), event_id) for event_id in ids] == [
        (ids[i - 1] if i else None, ids[i + 1] if i + 1 < len(ids) else None) for i in range(len(ids))]


def test_review_work_filters_the_queue_and_shows_in_the_digest_json_and_markdown(tmp_path):
    db = crawled(tmp_path / "dw.db")
    first, second = (row["id"] for row in reviews.queue(db, reviews.EventFilter())[:2])
    reviews.set_tags_and_note(db, first, ["quota", "silent-edit"], "20859人 became 21859人; cite both.", utcnow())
    assert reviews.set_reviewed(db, [first], True, utcnow()) == 1

    unreviewed = [row["id"] for row in reviews.queue(db, reviews.EventFilter())]
    assert first not in unreviewed and second in unreviewed
    assert [row["id"] for row in reviews.queue(db, reviews.EventFilter(reviewed=None, tag="quota"))] == [first]
    assert [row["id"] for row in reviews.queue(db, reviews.EventFilter(reviewed=None, term="激发内生动力"))] == [first]
    assert reviews.count(db, reviews.EventFilter(reviewed=None, source_tag="xinjiang")) == 4
    digest = build_digest(db, None, utcnow(), event_ids=[first])
    [event] = json.loads(render(digest, "json"))["events"]
    assert (event["tags"], event["note"], event["reviewed"]) == (["quota", "silent-edit"], "20859人 became 21859人; cite both.", True)
    assert "Note: 20859人 became 21859人; cite both." in render(digest, "md")

    reviews.set_tags_and_note(db, first, ["quota"], "", utcnow())
    assert reviews.review_work(db, [first]) == {first: {"tags": ["quota"], "note": None}}
    assert reviews.set_reviewed(db, reviews.event_ids(db, reviews.EventFilter(reviewed=True)), False, utcnow()) == 1


def test_search_finds_every_version_with_keyword_foldings_and_what_a_page_no_longer_says(tmp_path):
    db = crawled(tmp_path / "dw.db")
    [gone] = search(db, "20859人").pages
    assert gone.url == REPORT and not gone.says_it_now and (gone.matching, gone.snapshots) == (1, 2)
    assert gone.before + gone.match + gone.after == QUOTA and gone.match == "20859人"
    traditional = search(db, "轉移就業").pages  # traditional characters find the simplified text
    assert {r.url for r in traditional} == {REPORT, OTHER} and all(r.says_it_now for r in traditional)
    assert [r.url for r in search(db, "２１８５９").pages] == [REPORT]  # full-width digits
    [dropped] = search(db, "富余劳动力175").pages  # 当时有，现在没有: the other page said it, and no longer does
    assert dropped.url == OTHER and dropped.first.snapshot_id == dropped.last.snapshot_id != dropped.latest_snapshot_id
    assert [r.url for r in search(db, "内生").pages] == [REPORT]  # two characters: shorter than a trigram
    assert search(db, "转移就业", since="2026-11-21T00:00:00+00:00").pages[0].first.fetched_at.startswith("2026-11-21")
    assert search(db, "转移就业").complete
    rows, complete = search_index.matching_pages(db, "转移就业", versions_read=2)  # the two newest versions only
    assert not complete and [(row["url"], row["says_it_now"]) for row in rows] == [(OTHER, 1), (REPORT, 1)]


def unindexed(db: sqlite_utils.Database) -> int:
    return db.execute("SELECT count(*) FROM snapshots WHERE id NOT IN (SELECT rowid FROM snapshot_search)").fetchone()[0]


def test_search_first_indexes_what_was_stored_since_so_it_covers_every_snapshot(tmp_path, monkeypatch):
    """The crawl leaves the search index to the next search (it costs more CPU than storing the
    page); that search takes in every snapshot stored since, in batches, before it answers."""
    monkeypatch.setattr(search_index, "INDEX_BATCH", 3)  # four snapshots: two batches
    db = crawled(tmp_path / "dw.db")
    assert unindexed(db) == 4
    assert [r.url for r in search(db, "20859人").pages] == [REPORT]
    assert unindexed(db) == 0
    store_capture(db, None, capture(OTHER, "新疆下半年转移就业98.3万人次。", "2026-11-22T08:00:00.000+00:00"), MATCHER)
    [later] = search(db, "98.3万人次").pages
    assert later.url == OTHER and later.says_it_now and unindexed(db) == 0


def test_a_database_of_the_previous_version_gets_the_triage_order_and_the_search_index(tmp_path):
    path = tmp_path / "old.db"
    db = crawled(tmp_path / "new.db")
    expected = db.execute("SELECT event_id, section, score FROM event_triage ORDER BY event_id").fetchall()
    db.close()
    old = database_before(path, 20)
    old.execute("ATTACH DATABASE ? AS new", [str(tmp_path / "new.db")])
    for table in ("sources", "pages", "snapshots", "events", "hit_flags", "hits", "figures"):
        columns = ", ".join(column.name for column in old[table].columns)
        old.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM new.{table}")
    old.execute("DETACH DATABASE new")
    old.close()

    db = open_database(path)
    assert db.execute("SELECT event_id, section, score FROM event_triage ORDER BY event_id").fetchall() == expected
    assert [r.url for r in search(db, "轉移就業").pages] and not search(db, "20859人").pages[0].says_it_now


def test_the_datasette_metadata_describes_every_table_and_view(tmp_path):
    metadata = yaml.safe_load((Path(__file__).parent.parent / "deploy/datasette/metadata.yaml").read_text("utf-8"))
    described = metadata["databases"]["docwatch"]["tables"]
    db = open_database(tmp_path / "dw.db")
    shadow = {name for name in db.table_names() if name.startswith("snapshot_search_")}  # FTS5's own, hidden by Datasette
    assert set(described) == set(db.table_names()) - shadow | set(db.view_names())
    assert all(entry.get("description") for entry in described.values())


def test_a_csv_export_never_hands_a_spreadsheet_a_formula(tmp_path):
    db = crawled(tmp_path / "dw.db")
    reviews.set_tags_and_note(db, 1, ["x"], '=HYPERLINK("http://evil.example","点此")', utcnow())
    [event] = build_digest(db, None, utcnow(), event_ids=[1]).events
    header, row = list(csv.reader(events_csv([event]).splitlines()))
    assert row[header.index("note")] == '\'=HYPERLINK("http://evil.example","点此")'
    assert row[header.index("title")] == event.title and row[header.index("citation")] == event.citation


def test_review_work_is_logged_in_the_custody_chain(tmp_path):
    """Marks, tags and notes are part of the record a package hands on: each change is one entry
    of the hash chain (a note by its SHA-256, not its words); a mark that changes nothing adds none."""
    db = crawled(tmp_path / "dw.db")
    first = reviews.queue(db, reviews.EventFilter())[0]["id"]
    before = custody.verify_chain(db).entries
    reviews.set_tags_and_note(db, first, ["quota"], "cite both versions", utcnow())
    assert reviews.set_reviewed(db, [first], True, utcnow()) == 1
    assert reviews.set_reviewed(db, [first], True, utcnow()) == 0
    logged = custody.entries(db)[before:]
    assert [entry["kind"] for entry in logged] == ["tag", "review"]
    assert logged[0]["subject"]["note_sha256"] == hashlib.sha256("cite both versions".encode()).hexdigest()
    assert "cite both versions" not in json.dumps(logged, ensure_ascii=False)
    assert (logged[1]["subject"]["event_ids"], logged[1]["subject"]["reviewed"]) == ([first], True)
    report = custody.verify_chain(db)
    assert (report.entries, report.problems) == (before + 2, [])
