"""A document republished at a new URL with the same bytes (the same SHA-256) is `moved`, not a
new document: on a real SQLite file, through the crawl's own store functions."""

from __future__ import annotations

import hashlib
from pathlib import Path

from crawler.compare.keywords import KeywordMatcher, KeywordSet
from crawler.extract.documents import read_document
from crawler.pipeline.store import Attachment, store_capture
from storage import open_database, queries, reports

FILES = Path(__file__).parent / "files" / "attachments"
PAGE = "http://rst.example/xjrst/c112676/202308/7215380191c5400397df5d7d0b5fd06b.shtml"
OLD = "http://rst.example/xjrst/c112676/202308/P020230816.pdf"
NEW = "http://rst.example/xjrst/c112676/202308/P020230816_new.pdf"


def capture(url: str, fetched_at: str, body: bytes, text: str, attachments: list[dict] | None = None,
            kind: str = "document") -> queries.PageCapture:
    sha256 = hashlib.sha256(body).hexdigest()
    return queries.PageCapture(
        source_id="rst", url=url, kind=kind, fetched_at=fetched_at, http_status=200, final_url=url,
        content_type="application/pdf", encoding="binary", title=url.rsplit("/", 1)[-1], published=None, text=text,
        original_text=text, text_sha256=sha256 if kind == "document" else hashlib.sha256(text.encode()).hexdigest(),
        body=body, body_sha256=sha256, attachments=attachments or [],
    )


def test_the_same_file_at_a_new_url_is_moved_and_flags_nothing_again(tmp_path):
    db = open_database(tmp_path / "d.db")
    db["sources"].insert({"id": "rst", "url": PAGE, "type": "page", "added_at": "2026-11-20", "updated_at": "2026-11-20"})
    matcher = KeywordMatcher({"labor_transfer": KeywordSet(terms=["统计"])})
    pdf = (FILES / "shenzhen_stats_2021_xingbie.pdf").read_bytes()
    text = read_document(pdf, ()).text
    assert "统计" in text
    page_text = "万载县2022年国民经济和社会发展统计公报"
    store_capture(db, None, capture(PAGE, "2026-11-20T08:00:00.000+00:00", b"<html>1</html>", page_text,
                                    [{"url": OLD, "text": "附件"}], kind="page"), matcher)
    store_capture(db, None, capture(OLD, "2026-11-20T08:00:01.000+00:00", pdf, text), matcher,
                  attachment=Attachment(PAGE, "pdf"))
    # The page now links the same file under another name: the old link is gone (delisted).
    store_capture(db, None, capture(PAGE, "2026-11-21T08:00:00.000+00:00", b"<html>2</html>", page_text + "。",
                                    [{"url": NEW, "text": "附件"}], kind="page"), matcher)
    assert store_capture(db, None, capture(NEW, "2026-11-21T08:00:01.000+00:00", pdf, text), matcher,
                         attachment=Attachment(PAGE, "pdf")) == queries.NEW

    by_url = {}
    for event in reports.events(db):
        by_url.setdefault(event["url"], []).append(event)
    assert [e["type"] for e in by_url[OLD]] == ["new_document", "delisted"]
    [moved] = by_url[NEW]
    assert moved["type"] == "moved" and moved["detail"]["moved_from"] == OLD
    assert moved["previous_snapshot_id"] == by_url[OLD][0]["snapshot_id"]
    assert not [f for f in reports.hit_flags(db) if f["event_id"] == moved["id"]]  # its hits were flagged at OLD
