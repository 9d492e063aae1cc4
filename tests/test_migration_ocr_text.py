"""Migration 17 on a database as the previous version left it: a scanned attachment kept
without text, flagged no_text. After the upgrade it is still "no text", and its next file,
read by OCR, is a change with the OCR text as what was added."""

import hashlib
import zlib

from crawler.compare.keywords import KeywordMatcher, KeywordSet
from crawler.pipeline.store import Attachment, store_capture
from storage import open_database, queries, reports
from tests.conftest import database_before

ARTICLE = "http://rst.example/xjrst/c112676/201801/5b1f3c2a9e8d4f6a8c7b1e2d3f4a5b6c.shtml"
SCAN = "http://rst.example/xjrst/c112676/201801/W020180109553142613775.jpg"
OCR_TEXT = "农村富余劳动力累计转移就业275万人次,完成年度目标的106%。"  # report text (天山网 2018-01-09)


def previous_version_db(path):
    db = database_before(path, 17)
    db["sources"].insert({"id": "rst", "url": ARTICLE, "type": "page", "added_at": "2026-11-20", "updated_at": "2026-11-20"})
    db["pages"].insert({"id": 1, "source_id": "rst", "url": ARTICLE, "kind": "page", "first_seen": "2026-11-20", "state": "live"})
    db["pages"].insert({"id": 2, "source_id": "rst", "url": SCAN, "kind": "document", "first_seen": "2026-11-20",
                        "latest_snapshot_id": 1, "state": "live", "title": "附件1", "parent_page_id": 1})
    db["snapshots"].insert({"id": 1, "page_id": 2, "fetched_at": "2026-11-20", "http_status": 200, "final_url": SCAN,
                            "encoding": "binary", "title": "附件1", "text": "", "original_text": "",
                            "text_sha256": "1" * 64, "body_sha256": "1" * 64, "body_size": 3,
                            "body_zlib": zlib.compress(b"\xff\xd8\xff"), "file_type": "pdf", "no_text": 1})
    db.close()


def test_a_scan_kept_without_text_stays_so_and_its_next_file_read_by_ocr_is_a_change(tmp_path):
    previous_version_db(tmp_path / "old.db")
    db = open_database(tmp_path / "old.db")

    assert db.execute("SELECT no_text, text_origin, ocr_confidence, ocr_page_hashes, ocr_skipped_pages FROM snapshots"
                      ).fetchall() == [(1, None, None, None, 0)]
    body = b"\xff\xd8\xff a new scan"
    sha256 = hashlib.sha256(body).hexdigest()
    capture = queries.PageCapture(
        source_id="rst", url=SCAN, kind="document", fetched_at="2026-11-21", http_status=200, final_url=SCAN,
        content_type="image/jpeg", encoding="binary", title="附件1", published=None, text=OCR_TEXT,
        original_text=OCR_TEXT, text_sha256=sha256, body=body, body_sha256=sha256,
    )
    matcher = KeywordMatcher({"labor_transfer": KeywordSet(terms=["转移就业"])})
    attachment = Attachment(ARTICLE, "jpeg", "ocr", 0.9, (sha256,))

    assert store_capture(db, None, capture, matcher, attachment=attachment) == queries.CHANGED
    [event] = reports.events(db, types=["changed"])
    assert event["detail"]["diff"]["added"] == [OCR_TEXT]
    assert db.execute("SELECT file_type, no_text, text_origin FROM snapshots ORDER BY id").fetchall() == [
        ("pdf", 1, None), ("jpeg", 0, "ocr")]
