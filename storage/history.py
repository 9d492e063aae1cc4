"""Reads and writes of history: captures docwatch did not fetch itself (Wayback Machine
captures, WARC files from other tools), placed among a page's snapshots by their capture time.

`history_imports` records every capture a backfill or an import has read, whatever it was, so
that an interrupted run resumes where it stopped and a second run imports nothing twice.
"""

from __future__ import annotations

from storage.connection import Database
from storage.database import insert_row, utcnow
from storage.queries import ORIGINAL_TEXT

_SNAPSHOT_COLUMNS = (f"s.id, s.fetched_at, {ORIGINAL_TEXT}, s.text, s.text_sha256, s.published, s.title, s.text_origin,"
                     " s.ocr_page_hashes, s.origin, s.origin_ref, s.wayback_url")


def already_imported(db: Database, origin: str, url: str, capture_key: str) -> bool:
    return db.execute("SELECT 1 FROM history_imports WHERE origin = ? AND url = ? AND capture_key = ?",
                      [origin, url, capture_key]).fetchone() is not None


def record_import(db: Database, origin: str, url: str, capture_key: str, captured_at: str, outcome: str,
                  snapshot_id: int | None = None, note: str | None = None) -> None:
    insert_row(db, "history_imports", {
        "origin": origin, "url": url, "capture_key": capture_key, "captured_at": captured_at, "imported_at": utcnow(),
        "outcome": outcome, "snapshot_id": snapshot_id, "note": note,
    })


def imports_of(db: Database, url: str) -> list[dict]:
    """What backfill and import read of `url`, oldest capture first."""
    return list(db.query("SELECT origin, capture_key, captured_at, imported_at, outcome, snapshot_id, note"
                         " FROM history_imports WHERE url = ? ORDER BY captured_at, id", [url]))


def neighbours(db: Database, page_id: int, at: str) -> tuple[dict | None, dict | None]:
    """The page's snapshots just before (or at) and just after the time `at`."""
    before = list(db.query(f"SELECT {_SNAPSHOT_COLUMNS} FROM snapshots s WHERE s.page_id = ? AND s.fetched_at <= ?"
                           " ORDER BY s.fetched_at DESC, s.id DESC LIMIT 1", [page_id, at]))
    after = list(db.query(f"SELECT {_SNAPSHOT_COLUMNS} FROM snapshots s WHERE s.page_id = ? AND s.fetched_at > ?"
                          " ORDER BY s.fetched_at, s.id LIMIT 1", [page_id, at]))
    return (before[0] if before else None), (after[0] if after else None)


def removal_reported_after(db: Database, page_id: int, since: str, until: str | None) -> bool:
    """Whether a `removed` event of the page lies between `since` and `until` (None: no end)."""
    row = db.execute("SELECT 1 FROM events WHERE page_id = ? AND type = 'removed' AND detected_at > ?"
                     " AND (? IS NULL OR detected_at < ?)", [page_id, since, until, until]).fetchone()
    return row is not None


def drop_history_events_into(db: Database, snapshot_id: int) -> None:
    """Forget the history event (`new_page` or `changed`) that led to `snapshot_id`, with its
    flags: an older capture now comes before it, and the event is computed again from that one.
    An event a reviewer tagged or wrote a note on is kept (their work is never dropped): the
    page then shows it beside the recomputed one."""
    stale = [row[0] for row in db.execute(
        "SELECT id FROM events WHERE snapshot_id = ? AND type IN ('new_page', 'changed')"
        " AND json_extract(detail, '$.historical')"
        " AND id NOT IN (SELECT event_id FROM event_tags) AND id NOT IN (SELECT event_id FROM event_notes)",
        [snapshot_id])]
    for event_id in stale:
        db.execute("DELETE FROM event_triage WHERE event_id = ?", [event_id])
        db.execute("DELETE FROM hit_flags WHERE event_id = ?", [event_id])
        db.execute("UPDATE figures SET first_event_id = NULL WHERE first_event_id = ?", [event_id])
        db.execute("DELETE FROM events WHERE id = ?", [event_id])


def article_urls(db: Database, source_id: str) -> list[str]:
    """The articles a listing source has linked, as far as docwatch knows, oldest first."""
    return [row[0] for row in db.execute(
        "SELECT url FROM pages WHERE source_id = ? AND kind = 'article' ORDER BY first_seen, id", [source_id])]
