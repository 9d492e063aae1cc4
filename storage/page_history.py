"""A page's history for the workbench: the page, its snapshots with their events, the documents
it links, and one snapshot's stored copy (body, WARC record)."""

from __future__ import annotations

from storage.connection import Database
from storage.queries import ORIGINAL_TEXT


def page(db: Database, url: str) -> dict | None:
    rows = list(db.query(
        "SELECT p.id, p.source_id, p.url, p.kind, coalesce(p.title, p.url) AS title, p.published, p.state,"
        " p.first_seen, p.last_fetched, p.last_status, p.latest_snapshot_id, parent.url AS parent_url"
        " FROM pages p LEFT JOIN pages parent ON parent.id = p.parent_page_id WHERE p.url = ?", [url]))
    return rows[0] if rows else None


def snapshots(db: Database, page_id: int) -> list[dict]:
    """The page's snapshots, newest first, each with the events that name it."""
    found = list(db.query(
        "SELECT id, fetched_at, http_status, title, published, encoding, text_sha256, body_sha256, body_size,"
        " wayback_url, wayback_timestamp, warc_file, file_type, text_origin FROM snapshots"
        " WHERE page_id = ? ORDER BY id DESC", [page_id]))
    by_id = {row["id"]: {**row, "events": []} for row in found}
    for event in events(db, page_id):
        if event["snapshot_id"] in by_id:
            by_id[event["snapshot_id"]]["events"].append(event)
    return list(by_id.values())


def events(db: Database, page_id: int) -> list[dict]:
    """Every event of the page, newest first."""
    return list(db.query(
        "SELECT id, type, detected_at, snapshot_id, reviewed_at FROM events WHERE page_id = ? ORDER BY id DESC",
        [page_id]))


def documents(db: Database, page_id: int) -> list[dict]:
    """The attachments the page links (or linked), with their latest snapshot's file type."""
    return list(db.query(
        "SELECT d.url, coalesce(d.title, d.url) AS title, d.state, s.file_type, s.body_size, s.text_origin"
        " FROM pages d LEFT JOIN snapshots s ON s.id = d.latest_snapshot_id WHERE d.parent_page_id = ? ORDER BY d.url",
        [page_id]))


def snapshot(db: Database, snapshot_id: int) -> dict | None:
    """One snapshot with its page's URL, its text to read and where its WARC record is."""
    rows = list(db.query(
        f"SELECT s.id, s.page_id, p.url, s.fetched_at, s.title, s.published, s.encoding, s.content_type,"
        f" s.body_sha256, s.warc_file, s.warc_offset, s.warc_length, s.text_origin, {ORIGINAL_TEXT}"
        " FROM snapshots s JOIN pages p ON p.id = s.page_id WHERE s.id = ?", [snapshot_id]))
    return rows[0] if rows else None


def event_versions(db: Database, event_id: int) -> dict:
    """The snapshot an event names and the one before it (either may be None)."""
    row = db.execute("SELECT snapshot_id, previous_snapshot_id FROM events WHERE id = ?", [event_id]).fetchone()
    return {"snapshot_id": row[0], "previous_snapshot_id": row[1]} if row else {"snapshot_id": None, "previous_snapshot_id": None}
