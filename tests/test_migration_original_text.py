"""Migration 10 on a database as the previous version left it (schema through migration 9, rows
as that version wrote them): its figures kept one row per term, its snapshots only normalised text."""

import hashlib
import json
import zlib

import pytest

from crawler.compare.keywords import KeywordMatcher, KeywordSet
from crawler.compare.normalise import normalise_text
from crawler.pipeline.store import store_capture
from storage import open_database, queries, reports
from tests.conftest import FILES, database_before

URL = "http://rst.example/xjrst/c112676/201801/5b1f3c2a9e8d4f6a8c7b1e2d3f4a5b6c.shtml"
DAY1, DAY2, DAY3 = "2026-11-20T08:00:00+00:00", "2026-11-21T08:00:00+00:00", "2026-11-22T08:00:00+00:00"
EXCERPTS = (FILES / "text" / "xinjiang_tibet_labor_transfer_excerpts.md").read_text("utf-8").splitlines()
HEADLINE = "【2017·亮点】农村富余劳动力转移就业275万人次"
# The report's first and quota sentences with the punctuation the page really uses (，（：).
FIRST = next(line.strip() for line in EXCERPTS if line.strip().startswith("新疆日报讯"))
QUOTA = next(line.strip() for line in EXCERPTS if line.strip().startswith("我区有序扩大转移内地就业规模"))
FULL_WIDTH = str.maketrans({",": "，", "(": "（", ")": "）", ":": "："})
PAGE = f"{HEADLINE}\n{FIRST.translate(FULL_WIDTH)}\n{QUOTA.translate(FULL_WIDTH)}"
MATCHER = KeywordMatcher({"labor_transfer": KeywordSet(terms=["转移就业", "转移内地"])})


@pytest.fixture
def previous_version_db(tmp_path):
    """Schema through migration 9, and what that version stored for the page: normalised text,
    one figures row per (term, unit, value)."""
    path = tmp_path / "old.db"
    db = database_before(path, 10)
    text = normalise_text(PAGE)
    db["sources"].insert({"id": "rst", "url": URL, "type": "page", "added_at": DAY1, "updated_at": DAY1})
    db["pages"].insert({"id": 1, "source_id": "rst", "url": URL, "kind": "page", "first_seen": DAY1,
                        "latest_snapshot_id": 1, "state": "live", "title": HEADLINE})
    db["snapshots"].insert({"id": 1, "page_id": 1, "fetched_at": DAY1, "http_status": 200, "final_url": URL,
                            "encoding": "utf-8", "title": HEADLINE, "text": text,
                            "text_sha256": hashlib.sha256(text.encode()).hexdigest(), "body_sha256": "0" * 64,
                            "body_size": 13, "body_zlib": zlib.compress(b"<html></html>")})
    db["events"].insert({"id": 1, "type": "new_page", "source_id": "rst", "page_id": 1, "url": URL,
                         "detected_at": DAY1, "snapshot_id": 1})
    headline, first = HEADLINE, normalise_text(FIRST)
    for key, figure_text, term, sentence, rate, first_seen, present in (
        ("劳动力转移就业|人次|2750000", "275万人次", "劳动力转移就业", headline, None, DAY1, 1),
        ("转移就业|人次|2750000", "275万人次", "转移就业", first, 106, DAY2, 0),
        ("转移内地|人|20859", "20859人", "转移内地", normalise_text(QUOTA), 104, DAY1, 1),
    ):
        value = int(key.rsplit("|", 1)[1])
        db["figures"].insert({"page_id": 1, "figure_key": key, "value": value, "unit": key.split("|")[1],
                              "text": figure_text, "term": term, "sentence": sentence, "rate": rate,
                              "first_seen": first_seen, "last_seen": DAY2, "first_event_id": 1, "present": present})
    db.close()
    return path


def capture(text: str) -> queries.PageCapture:
    normalised = normalise_text(text)
    return queries.PageCapture(
        source_id="rst", url=URL, kind="page", fetched_at=DAY3, http_status=200, final_url=URL,
        content_type="text/html", encoding="utf-8", title=HEADLINE, published="2018-01-09", text=normalised,
        original_text=text, text_sha256=hashlib.sha256(normalised.encode()).hexdigest(), body=b"<html></html>",
        body_sha256=hashlib.sha256(b"<html></html>").hexdigest(),
    )


def test_figures_kept_per_term_become_one_row_per_figure_with_every_term(previous_version_db):
    db = open_database(previous_version_db)

    rows = {row["figure_key"]: row for row in db.query("SELECT * FROM figures")}
    assert set(rows) == {"人次|2750000", "人|20859"}
    quota = rows["人次|2750000"]
    assert json.loads(quota["terms"]) == ["转移就业", "劳动力转移就业"]  # the kept row's (it gives the rate) first
    assert (quota["term"], quota["rate"], quota["first_seen"], quota["last_seen"], quota["present"]) == (
        "转移就业", 106, DAY1, DAY2, 1)
    assert json.loads(rows["人|20859"]["terms"]) == ["转移内地"]
    assert [(f["value"], f["terms"]) for f in reports.figures(db)] == [
        (2750000, ["转移就业", "劳动力转移就业"]), (20859, ["转移内地"])
    ]


def test_old_snapshots_are_read_in_their_normalised_text(previous_version_db):
    db = open_database(previous_version_db)

    assert queries.snapshot(db, 1)["original_text"] == normalise_text(PAGE)
    assert db.execute("SELECT original_text FROM snapshots").fetchall() == [(None,)]


def test_after_the_upgrade_a_width_only_difference_is_unchanged_and_an_edit_is_quoted_as_the_page_writes_it(
    previous_version_db,
):
    db = open_database(previous_version_db)

    assert store_capture(db, None, capture(PAGE), MATCHER) == queries.UNCHANGED

    edited = PAGE.replace("20859人", "21859人")
    assert store_capture(db, None, capture(edited), MATCHER) == queries.CHANGED
    [event] = reports.events(db, types=["changed"])
    [change] = event["detail"]["diff"]["changed"]
    edited_sentence = QUOTA[QUOTA.index("2017年全区"):]
    assert change["old"] == normalise_text(edited_sentence)  # all the old snapshot has
    assert change["new"] == edited_sentence.translate(FULL_WIDTH).replace("20859人", "21859人")
    assert event["detail"]["diff"]["added"] == event["detail"]["diff"]["removed"] == []
    # Only the edited sentence's figure is new; 2750000 keeps its one row, now quoted as the page writes it.
    rows = {row["figure_key"]: row for row in db.query("SELECT * FROM figures")}
    assert set(rows) == {"人次|2750000", "人|20859", "人|21859"}
    assert rows["人次|2750000"]["sentence"] == FIRST.translate(FULL_WIDTH)
    assert (rows["人|20859"]["present"], rows["人|21859"]["first_event_id"]) == (0, event["id"])
    assert db.execute("SELECT count(*) FROM hit_flags WHERE kind = 'new'").fetchone() == (0,)
