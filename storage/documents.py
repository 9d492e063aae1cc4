"""Writes for documents (attachments): which page links them, what kind of file each snapshot is."""

from __future__ import annotations

import sqlite_utils


def link_to_parent(db: sqlite_utils.Database, document: dict, parent_url: str) -> None:
    """Record the page that links `document` (the latest one, if it moved to another page)."""
    row = db.execute("SELECT id FROM pages WHERE url = ?", [parent_url]).fetchone()
    if row is not None and document["parent_page_id"] != row[0]:
        db["pages"].update(document["id"], {"parent_page_id": row[0]})


def mark_snapshot(db: sqlite_utils.Database, snapshot_id: int, file_type: str, no_text: bool) -> None:
    db["snapshots"].update(snapshot_id, {"file_type": file_type, "no_text": int(no_text)})
