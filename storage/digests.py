"""What digests read and write: the events since a moment with their snapshot, hit flags and
figures; the record of digests made (for `--since last`). Review marks are storage/reviews.py's."""

from __future__ import annotations

import json
from collections.abc import Sequence

from storage.connection import Database
from storage.transactions import transaction
from storage.reports import id_order

# A digest reads events in chunks of ids: well under SQLite's bound-parameter limit.
EVENT_ID_CHUNK = 500


def last_event_id(db: Database) -> int:
    """The newest event's id (0 when there is none): what a digest made now covers."""
    return db.execute("SELECT coalesce(max(id), 0) FROM events").fetchone()[0]


def digest_events(
    db: Database, through_event_id: int, after_event_id: int | None, since: str | None,
    unreviewed: bool, source_ids: Sequence[str] | None, event_ids: Sequence[int] | None = None,
) -> list[dict]:
    """Events up to `through_event_id`, oldest first: after `after_event_id` when given, else
    detected at or after `since` (None: all; history: imported since then); only unreviewed ones
    when asked; only the sources in `source_ids` unless it is None; only the events `event_ids`
    when given. Each with its snapshot (the page's latest one for an event
    that has none) and, for a document, the page that links it."""
    clauses, params = ["e.id <= ?"], [through_event_id]
    if after_event_id is not None:
        clauses.append("e.id > ?")
        params.append(after_event_id)
    elif since:  # crawl events by when they were detected, history by when it was imported
        clauses = ["+e.id <= ?",  # narrowed by events_detected and events_imported: see reports.id_order
                   # the + keeps SQLite from reading every crawl event (imported_at NULL) through events_imported
                   "(e.detected_at >= ? AND +json_extract(e.detail, '$.imported_at') IS NULL"
                   " OR json_extract(e.detail, '$.imported_at') >= ?)"]
        params += [since, since]
    if event_ids is not None:
        clauses.append("e.id IN (SELECT value FROM json_each(?))")  # any number of ids
        params.append(json.dumps(list(event_ids)))
    if unreviewed:
        clauses.append("e.reviewed_at IS NULL")
    if source_ids is not None:
        clauses.append(f"e.source_id IN ({', '.join('?' * len(source_ids))})" if source_ids else "0")
        params += list(source_ids)
    return list(db.query(
        "SELECT e.id, e.type, e.source_id, e.url, e.detected_at, e.silent_edit, e.detail, e.reviewed_at,"
        " coalesce(s.title, p.title) AS title, s.published, s.body_sha256, s.warc_file, s.warc_offset, s.warc_length,"
        " s.wayback_url, s.wayback_timestamp, s.fetched_at, s.body_size, s.file_type, s.no_text,"
        " s.text_origin, s.ocr_confidence, s.ocr_skipped_pages, s.origin, s.origin_ref,"
        " parent.url AS parent_url, coalesce(parent.title, parent.url) AS parent_title"
        " FROM events e JOIN pages p ON p.id = e.page_id"
        " LEFT JOIN snapshots s ON s.id = coalesce(e.snapshot_id, p.latest_snapshot_id)"
        " LEFT JOIN pages parent ON parent.id = p.parent_page_id"
        f" WHERE {' AND '.join(clauses)} ORDER BY {id_order('e', None if after_event_id is not None else since)}",
        params,
    ))


def hit_flags_by_event(db: Database, event_ids: list[int]) -> dict[int, list[dict]]:
    """The new and scrubbed keyword hits each event flagged, in the order they were written."""
    return _by_event(db, "SELECT event_id, kind, set_name, term, matched, context FROM hit_flags", "event_id", event_ids)


def figures_by_event(db: Database, event_ids: list[int]) -> dict[int, list[dict]]:
    """The figures each event saw first."""
    return _by_event(db, "SELECT first_event_id AS event_id, value, unit, text, term, sentence, rate FROM figures",
                     "first_event_id", event_ids)


def _by_event(db: Database, select: str, event_column: str, event_ids: list[int]) -> dict[int, list[dict]]:
    """Rows of ``select`` for the given events, grouped by event id, in insertion order."""
    grouped: dict[int, list[dict]] = {}
    for start in range(0, len(event_ids), EVENT_ID_CHUNK):
        chunk = event_ids[start : start + EVENT_ID_CHUNK]
        for row in db.query(f"{select} WHERE {event_column} IN ({', '.join('?' * len(chunk))}) ORDER BY id", chunk):
            grouped.setdefault(row["event_id"], []).append(row)
    return grouped


def listing_copies(db: Database, snapshot_ids: Sequence[int]) -> list[dict]:
    """The evidence of these listing snapshots: hash, WARC record, Wayback capture, and the state
    of the snapshot's latest archive request (`request_state`, None when none was made)."""
    return list(db.query(
        "SELECT s.id, s.fetched_at, s.body_sha256, s.warc_file, s.warc_offset, s.warc_length, s.wayback_url,"
        " s.wayback_timestamp, (SELECT state FROM archive_requests r WHERE r.snapshot_id = s.id ORDER BY r.id DESC"
        f" LIMIT 1) AS request_state FROM snapshots s WHERE s.id IN ({', '.join('?' * len(snapshot_ids))})",
        list(snapshot_ids),
    ))


def record_digest(
    db: Database, generated_at: str, since: str | None, digest_format: str, destination: str,
    event_count: int, through_event_id: int,
) -> None:
    """Note a digest that was delivered, so the next `--since last` to the same place starts here."""
    with transaction(db):
        db.execute(
            "INSERT INTO digests (generated_at, since, format, destination, event_count, through_event_id)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [generated_at, since, digest_format, destination, event_count, through_event_id],
        )


def previous_digest(db: Database, destination: str) -> tuple[str, int] | None:
    """(generated_at, through_event_id) of the last digest to ``destination``; None when there was none."""
    return db.execute(
        "SELECT generated_at, through_event_id FROM digests WHERE destination = ? ORDER BY id DESC LIMIT 1",
        [destination],
    ).fetchone()
