"""Writes for documents (attachments): which page links them, what kind of file each snapshot is."""

from __future__ import annotations

import json

from storage.connection import Database
from storage.database import update_row
from storage.queries import page_for


def link_to_parent(db: Database, document: dict, parent_url: str, seen_at: str) -> None:
    """Record the page that links `document` (the latest one, if it moved to another page).

    Pages are extracted in worker processes, so a small file can be stored before the page that
    links it: the parent's row is then created here, and filled in when the page is stored."""
    if not parent_url:
        return
    watched = db.execute("SELECT 1 FROM sources WHERE id = ? AND url = ?", [document["source_id"], parent_url]).fetchone()
    parent = page_for(db, document["source_id"], parent_url, "page" if watched else "article", seen_at)
    if document["parent_page_id"] != parent["id"]:
        update_row(db, "pages", document["id"], {"parent_page_id": parent["id"]})


def document_linked_from(db: Database, url: str, parent: dict) -> dict | None:
    """The document at `url` if `parent` is the page that links it."""
    rows = list(db.query("SELECT * FROM pages WHERE url = ? AND kind = 'document' AND parent_page_id = ?",
                         [url, parent["id"]]))
    return rows[0] if rows else None


def mark_snapshot(db: Database, snapshot_id: int, file_type: str, no_text: bool, text_origin: str = "text",
                  ocr_confidence: float | None = None, ocr_page_hashes: tuple[str, ...] = (), ocr_skipped_pages: int = 0) -> None:
    """A document snapshot's file type, and where its text came from (the file, or OCR)."""
    update_row(db, "snapshots", snapshot_id, {
        "file_type": file_type, "no_text": int(no_text), "text_origin": text_origin, "ocr_confidence": ocr_confidence,
        "ocr_page_hashes": json.dumps(ocr_page_hashes) if text_origin == "ocr" else None,
        "ocr_skipped_pages": ocr_skipped_pages,
    })
