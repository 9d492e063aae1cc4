"""The queries behind `docwatch hits/figures/events/diff`, on a database filled row by row, and
the commands' handling of bad input (exit 2, a message that says what to do)."""

import json
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest


from crawler.cli.changes import parse_since
from crawler.demo import write_watchlist
from storage import open_database, reports
from tests.conftest import FILES, run_docwatch

REPORT = FILES / "text" / "xinjiang_tibet_labor_transfer_excerpts.md"
ARTICLE_URL = "http://127.0.0.1:9/xjrst/c112676/201801/5b1f3c2a9e8d4f6a8c7b1e2d3f4a5b6c.shtml"
OTHER_URL = "http://127.0.0.1:9/xjrst/c112676/202005/a1b2c3d4e5f60718293a4b5c6d7e8f90.shtml"
QUOTA_SENTENCE = "2017年全区整建制转移内地企业就业20859人,完成年度目标任务的104%。"
DAY1, DAY2, DAY3 = "2026-11-20T10:00:00+00:00", "2026-11-21T10:00:00+00:00", "2026-11-22T10:00:00+00:00"


def report_paragraphs() -> list[str]:
    """The 2018 Xinjiang report on labour transfer, one paragraph per line, as a snapshot holds it."""
    text = REPORT.read_text("utf-8")
    start = text.index("  新疆日报讯")
    return [line.strip() for line in text[start:].split("\n## ")[0].splitlines() if line.strip()]


@pytest.fixture
def filled_db(tmp_path) -> Path:
    """Two sources; the article has three snapshots (a quota revised, then a coercion term added)."""
    path = tmp_path / "dw.db"
    db = open_database(path)
    for source_id, url in (("rst-news", ARTICLE_URL), ("tibet-news", OTHER_URL)):
        db["sources"].insert({"id": source_id, "url": url, "type": "page", "added_at": DAY1, "updated_at": DAY1})
    article = db["pages"].insert({"source_id": "rst-news", "url": ARTICLE_URL, "kind": "page", "first_seen": DAY1}).last_pk
    other = db["pages"].insert({"source_id": "tibet-news", "url": OTHER_URL, "kind": "page", "first_seen": DAY1}).last_pk
    paragraphs = report_paragraphs()
    revised = [p.replace("20859人", "21859人") for p in paragraphs]
    versions = {
        (article, DAY1): paragraphs,
        (other, DAY1): ["全区农牧民转移就业19.7万人,完成年度目标的32.9%。"],
        (article, DAY2): revised,
        (article, DAY3): revised + ["要激发内生动力。"],
    }
    snapshot_ids = {}
    for (page_id, day), lines in versions.items():
        snapshot_ids[page_id, day] = db["snapshots"].insert(
            {"page_id": page_id, "fetched_at": day, "http_status": 200, "final_url": "", "encoding": "utf-8",
             "title": "", "text": "\n".join(lines), "text_sha256": "", "body_sha256": "", "body_size": 0, "body_zlib": b""}
        ).last_pk

    def event(page_id, url, source_id, type_, day, **extra):
        return db["events"].insert(
            {"type": type_, "source_id": source_id, "page_id": page_id, "url": url, "detected_at": day,
             "snapshot_id": snapshot_ids.get((page_id, day)), **extra}
        ).last_pk

    first = event(article, ARTICLE_URL, "rst-news", "new_page", DAY1)
    event(other, OTHER_URL, "tibet-news", "new_page", DAY1)
    revision = event(article, ARTICLE_URL, "rst-news", "changed", DAY2, similarity=0.99, silent_edit=1,
                     detail=json.dumps({"added": [], "removed": [], "changed": [{"old": QUOTA_SENTENCE, "new": "", "ops": []}]}))
    event(other, OTHER_URL, "tibet-news", "fetch_error", DAY2, http_status=503, detail=json.dumps({"reason": "HTTP 503"}))
    addition = event(article, ARTICLE_URL, "rst-news", "changed", DAY3, similarity=0.98, detail=json.dumps({"added": ["要激发内生动力。"]}))

    def flag(event_id, day, kind, set_name, term, matched, sentence):
        db["hit_flags"].insert(
            {"event_id": event_id, "page_id": article, "snapshot_id": snapshot_ids[article, day], "kind": kind,
             "set_name": set_name, "term": term, "matched": matched, "context": sentence, "sentence": sentence, "detected_at": day}
        )

    flag(first, DAY1, "new", "labor_transfer", "整建制转移", "整建制转移", QUOTA_SENTENCE)
    flag(first, DAY1, "new", "sanctions", "UFLPA", "uflpa", "UFLPA entity list")
    flag(addition, DAY3, "new", "coercion", "激发内生动力", "激发内生动力", "要激发内生动力。")
    flag(addition, DAY3, "scrubbed", "labor_transfer", "卫星工厂", "卫星工厂", paragraphs[1])
    for key, value, day, event_id, present in (("20859", 20859, DAY1, first, 0), ("21859", 21859, DAY2, revision, 1)):
        db["figures"].insert(
            {"page_id": article, "figure_key": key, "value": value, "unit": "人", "text": f"{value}人", "term": "转移内地", "terms": "[\"转移内地\"]",
             "sentence": QUOTA_SENTENCE, "rate": 104, "first_seen": day, "last_seen": DAY3, "first_event_id": event_id, "present": present}
        )
    db.close()
    return path


def test_events_filter_by_time_type_and_source(filled_db):
    db = open_database(filled_db)
    assert [(e["type"], e["detected_at"]) for e in reports.events(db, since=DAY2)] == [
        ("changed", DAY2), ("fetch_error", DAY2), ("changed", DAY3)
    ]
    errors = reports.events(db, types=["fetch_error"])
    assert [(e["url"], e["http_status"], e["detail"]) for e in errors] == [(OTHER_URL, 503, {"reason": "HTTP 503"})]
    article_changes = reports.events(db, types=["changed"], source_ids=["rst-news"])
    assert [e["silent_edit"] for e in article_changes] == [True, False]
    assert article_changes[0]["detail"]["changed"][0]["old"] == QUOTA_SENTENCE
    assert reports.events(db, source_ids=["tibet-news", "rst-news"]) == reports.events(db)


def test_hit_flags_new_only_term_and_since(filled_db):
    db = open_database(filled_db)
    assert [(f["kind"], f["term"]) for f in reports.hit_flags(db, since=DAY3)] == [("new", "激发内生动力"), ("scrubbed", "卫星工厂")]
    assert [f["term"] for f in reports.hit_flags(db, since=DAY3, new_only=True)] == ["激发内生动力"]
    assert [f["detected_at"] for f in reports.hit_flags(db, term=" uflpa ")] == [DAY1]
    assert reports.hit_flags(db, source_ids=["tibet-news"]) == []


def test_figures_new_means_appeared_after_the_first_capture(filled_db):
    db = open_database(filled_db)
    rows = reports.figures(db)
    assert [(f["value"], f["new"], f["present"]) for f in rows] == [(20859, False, False), (21859, True, True)]
    assert [f["value"] for f in reports.figures(db, since=DAY2)] == [21859]
    assert reports.figures(db, source_ids=["tibet-news"]) == []


def snapshot_ids(db, url: str) -> list[int]:
    return [row[0] for row in db.execute("SELECT s.id FROM snapshots s JOIN pages p ON p.id = s.page_id WHERE p.url = ? ORDER BY s.id", [url])]


def test_diff_snapshots_default_to_the_last_two(filled_db):
    db = open_database(filled_db)
    first, revised, added = snapshot_ids(db, ARTICLE_URL)
    pairs = {
        (None, None): (revised, added),
        (None, revised): (first, revised),
        (first, None): (first, added),
        (added, first): (added, first),
    }
    for (from_id, to_id), expected in pairs.items():
        old, new = reports.snapshots_to_compare(db, ARTICLE_URL, from_id, to_id)
        assert (old["id"], new["id"]) == expected
    old, new = reports.snapshots_to_compare(db, ARTICLE_URL, None, revised)
    assert "20859人" in old["original_text"] and "21859人" in new["original_text"]


def test_diff_snapshot_errors_say_what_is_wrong(filled_db):
    db = open_database(filled_db)
    first, _, added = snapshot_ids(db, ARTICLE_URL)
    (other,) = snapshot_ids(db, OTHER_URL)
    cases = {
        ("http://127.0.0.1:9/nope.shtml", None, None): "no page with URL http://127.0.0.1:9/nope.shtml",
        (OTHER_URL, None, None): "has 1 snapshot(s), nothing to compare",
        (ARTICLE_URL, other, None): f"--from {other} is a snapshot of another page ({OTHER_URL})",
        (ARTICLE_URL, None, 999): "--to 999: no snapshot with that id",
        (ARTICLE_URL, added, None): f"--from {added} is the latest snapshot of {ARTICLE_URL}, there is no newer one",
        (ARTICLE_URL, None, first): f"--to {first} is the first snapshot of {ARTICLE_URL}, there is no older one",
    }
    for (url, from_id, to_id), message in cases.items():
        with pytest.raises(reports.NotFound, match=message.replace("(", r"\(").replace(")", r"\)")):
            reports.snapshots_to_compare(db, url, from_id, to_id)


NOW = datetime(2026, 11, 22, 10, 0, tzinfo=timezone.utc)


@pytest.fixture
def shanghai_time(monkeypatch):
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_since_accepts_durations_and_iso_dates(shanghai_time):
    assert parse_since("24h", NOW) == "2026-11-21T10:00:00+00:00"
    assert parse_since("7d", NOW) == "2026-11-15T10:00:00+00:00"
    assert parse_since(" 30M ", NOW) == "2026-11-22T09:30:00+00:00"
    assert parse_since("2w", NOW) == "2026-11-08T10:00:00+00:00"
    assert parse_since("1d 12h", NOW) == "2026-11-20T22:00:00+00:00"  # the watchlist's `interval:` grammar
    # a date or time without an offset is the reader's local time (here UTC+8)
    assert parse_since("2026-11-20") == "2026-11-19T16:00:00+00:00"
    assert parse_since("2026-11-20T08:30") == "2026-11-20T00:30:00+00:00"
    assert parse_since("2026-11-20T08:30:00+00:00") == "2026-11-20T08:30:00+00:00"


def test_since_finds_the_same_events_in_old_whole_second_rows_and_new_millisecond_rows(filled_db):
    """Rows written by earlier versions hold whole seconds ("...10:00:00+00:00", as in filled_db);
    later rows hold milliseconds. `--since` compares them as the times they are."""
    db = open_database(filled_db)
    [(page_id,)] = db.execute("SELECT id FROM pages WHERE url = ?", [OTHER_URL]).fetchall()
    for detected_at in ("2026-11-21T09:59:59.999+00:00", "2026-11-21T10:00:00.000+00:00", "2026-11-21T10:00:00.250+00:00",
                        "2026-11-21T10:00:01.001+00:00"):
        db["events"].insert({"type": "changed", "source_id": "tibet-news", "page_id": page_id, "url": OTHER_URL,
                             "detected_at": detected_at})

    def since(value: str) -> list[str]:
        return sorted((e["detected_at"] for e in reports.events(db, since=parse_since(value))), key=datetime.fromisoformat)

    whole_second = ["2026-11-21T10:00:00+00:00", "2026-11-21T10:00:00+00:00", "2026-11-21T10:00:00.000+00:00",
                    "2026-11-21T10:00:00.250+00:00", "2026-11-21T10:00:01.001+00:00", DAY3]
    assert since("2026-11-21T10:00:00+00:00") == whole_second  # both spellings of 10:00:00, not 09:59:59.999
    assert since("2026-11-21T10:00:00.000+00:00") == whole_second
    assert since("2026-11-21T10:00:00.100+00:00") == ["2026-11-21T10:00:00.250+00:00", "2026-11-21T10:00:01.001+00:00", DAY3]
    assert since("2026-11-21T10:00:00.250+00:00")[0] == "2026-11-21T10:00:00.250+00:00"
    assert since("2026-11-21T10:00:00.251+00:00")[0] == "2026-11-21T10:00:01.001+00:00"


def test_since_rejects_anything_else():
    for bad in ("yesterday", "24", "7 days", "2026-13-01", ""):
        with pytest.raises(ValueError, match="neither a duration"):
            parse_since(bad, NOW)


def docwatch(db: Path, *args: str):
    """The real command on `db`; these commands read the database only, so no site is served."""
    watchlist = write_watchlist(db.parent, "http://127.0.0.1:9")
    return run_docwatch(*args, db=db, watchlist=watchlist)


@pytest.mark.e2e
def test_hits_on_a_pipe_are_plain_text_with_the_context(filled_db):
    result = docwatch(filled_db, "hits", "--since", "2026-11-22T00:00:00+00:00", "--source", "rst-news")
    assert result.returncode == 0, result.stderr
    assert "\x1b[" not in result.stdout
    assert "NEW" in result.stdout and "激发内生动力 (coercion)" in result.stdout and "…要激发内生动力。…" in result.stdout
    assert "SCRUBBED" in result.stdout and "2 hit(s) by page and term, 2 flagged occurrence(s)" in result.stdout
    every = docwatch(filled_db, "hits", "--occurrences", "--since", "2026-11-22T00:00:00+00:00", "--source", "rst-news")
    assert "coercion: 激发内生动力" in every.stdout and "2 flagged occurrence(s)." in every.stdout


@pytest.mark.e2e
def test_commands_reject_bad_input_with_exit_2(filled_db, tmp_path):
    cases = {
        ("hits", "--since", "last week"): "'last week' is neither a duration (30s, 15m, 6h, 1d, 2w or 1h30m) nor an ISO date",
        ("figures", "--source", "nope"): "unknown source nope; sources in",
        ("events", "--type", "deleted"): "'deleted' is not one of",
        ("diff", OTHER_URL): "has 1 snapshot(s), nothing to compare",
        ("diff", ARTICLE_URL, "--from", "999"): "--from 999: no snapshot with that id",
    }
    for args, message in cases.items():
        result = docwatch(filled_db, *args)
        assert result.returncode == 2, (args, result.stdout)
        assert message in result.stderr, (args, result.stderr)
    missing = docwatch(tmp_path / "never-crawled.db", "events")
    assert missing.returncode == 2 and "run `docwatch crawl` first" in missing.stderr
