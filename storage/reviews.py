"""The triage queue and review work on events: which events to read next (migration 20's
`event_triage`: section, then score), and what reviewers record on them (reviewed or not, tags,
a note). Every review mark, tag and note is written here (the workbench, `docwatch review`),
each with its custody entry (storage/custody.py) in the same transaction."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

from storage import custody, reports
from storage.connection import Database
from storage.transactions import transaction
from storage.events import EVENT_TYPES

SECTION_KEYS = ("removed", "evidence", "new_pages", "other", "history")  # event_triage.section 0..4, as the digest's
MAX_TAG_CHARS = 40
MAX_TAGS = 20  # per event
MAX_NOTE_CHARS = 10_000


@dataclass(frozen=True)
class EventFilter:
    """Which events a list shows; every field narrows it (AND). `reviewed` None: both."""

    sources: tuple[str, ...] = ()
    source_tag: str | None = None  # a watchlist tag of the source
    tag: str | None = None  # a reviewer's tag on the event
    types: tuple[str, ...] = ()
    keyword_set: str | None = None  # events that flagged a hit of this set
    term: str | None = None  # events that flagged this term
    since: str | None = None  # detected at or after (ISO UTC)
    until: str | None = None  # detected before
    reviewed: bool | None = False

    def where(self) -> tuple[str, list]:
        clauses, params = [], []
        if self.sources:
            clauses.append(f"e.source_id IN ({', '.join('?' * len(self.sources))})")
            params += list(self.sources)
        if self.source_tag:
            clauses.append("e.source_id IN (SELECT s.id FROM sources s, json_each(s.tags) j WHERE j.value = ?)")
            params.append(self.source_tag)
        if self.tag:
            clauses.append("e.id IN (SELECT event_id FROM event_tags WHERE tag = ?)")
            params.append(self.tag)
        if self.types:
            clauses.append(f"e.type IN ({', '.join('?' * len(self.types))})")
            params += list(self.types)
        if self.keyword_set:
            clauses.append("EXISTS (SELECT 1 FROM hit_flags f WHERE f.event_id = e.id AND f.set_name = ?)")
            params.append(self.keyword_set)
        if self.term:
            clauses.append("EXISTS (SELECT 1 FROM hit_flags f WHERE f.event_id = e.id AND f.term = ? COLLATE NOCASE)")
            params.append(self.term)
        if self.since:
            clauses.append("e.detected_at >= ?")
            params.append(self.since)
        if self.until:
            clauses.append("e.detected_at < ?")
            params.append(self.until)
        if self.reviewed is not None:
            clauses.append("e.reviewed_at IS NOT NULL" if self.reviewed else "e.reviewed_at IS NULL")
        return (f"WHERE {' AND '.join(clauses)}" if clauses else ""), params


# CROSS JOIN keeps event_triage the outer loop: its index is read in queue order and stops at the
# page's last row, where a join led by a filter's index would sort every matching event first.
_QUEUE_FROM = "FROM event_triage t CROSS JOIN events e ON e.id = t.event_id"
_QUEUE_ORDER = "ORDER BY t.section, t.score DESC, t.event_id DESC"
_REVERSE_ORDER = "ORDER BY t.section DESC, t.score, t.event_id"


def queue(db: Database, chosen: EventFilter, offset: int = 0, limit: int = 50) -> list[dict]:
    """One page of the triage queue: most important first (section, score), then newest. The
    page's ids come first from the queue's index alone (a deep page skips its offset there),
    then their rows."""
    where, params = chosen.where()
    ids = [row[0] for row in db.execute(f"SELECT t.event_id {_QUEUE_FROM} {where} {_QUEUE_ORDER} LIMIT ? OFFSET ?",
                                        [*params, limit, offset])]
    rows = {row["id"]: row for row in db.query(
        "SELECT e.id, e.type, e.source_id, e.url, coalesce(s.title, p.title, e.url) AS title, e.detected_at,"
        " e.silent_edit, e.reviewed_at, t.section, t.score,"
        " (SELECT group_concat(tag, ' ') FROM event_tags g WHERE g.event_id = e.id) AS tags,"
        " (SELECT note FROM event_notes n WHERE n.event_id = e.id) AS note"
        " FROM events e JOIN event_triage t ON t.event_id = e.id JOIN pages p ON p.id = e.page_id"
        " LEFT JOIN snapshots s ON s.id = e.snapshot_id WHERE e.id IN (SELECT value FROM json_each(?))",
        [json.dumps(ids)],
    )}
    for row in rows.values():
        row["section"] = SECTION_KEYS[row["section"]]
        row["tags"] = (row["tags"] or "").split()
    return [rows[event_id] for event_id in ids]


def count(db: Database, chosen: EventFilter) -> int:
    """How many events the filter shows (every event has its event_triage row: no join needed)."""
    where, params = chosen.where()
    return db.execute(f"SELECT count(*) FROM events e {where}", params).fetchone()[0]


def event_ids(db: Database, chosen: EventFilter) -> list[int]:
    """Every event the filter shows, in queue order (for exports and bulk review)."""
    where, params = chosen.where()
    return [row[0] for row in db.execute(f"SELECT e.id {_QUEUE_FROM} {where} {_QUEUE_ORDER}", params)]


def neighbours(db: Database, chosen: EventFilter, event_id: int) -> tuple[int | None, int | None]:
    """The events before and after `event_id`'s place in the queue the filter shows (None at an
    end); found by seeking from its place in the index, whether or not it is still in the list."""
    place = db.execute("SELECT section, score FROM event_triage WHERE event_id = ?", [event_id]).fetchone()
    if place is None:
        return None, None
    section, score = place
    where, params = chosen.where()
    narrowed = where.replace("WHERE", "AND", 1)

    def first(condition: str, bounds: list, order: str) -> int | None:
        row = db.execute(f"SELECT t.event_id {_QUEUE_FROM} WHERE {condition} {narrowed} {order} LIMIT 1",
                         [*bounds, *params]).fetchone()
        return row[0] if row else None

    following = (first("t.section = ? AND t.score = ? AND t.event_id < ?", [section, score, event_id], _QUEUE_ORDER)
                 or first("t.section = ? AND t.score < ?", [section, score], _QUEUE_ORDER)
                 or first("t.section > ?", [section], _QUEUE_ORDER))
    previous = (first("t.section = ? AND t.score = ? AND t.event_id > ?", [section, score, event_id], _REVERSE_ORDER)
                or first("t.section = ? AND t.score > ?", [section, score], _REVERSE_ORDER)
                or first("t.section < ?", [section], _REVERSE_ORDER))
    return previous, following


def set_reviewed(db: Database, event_ids: Sequence[int], reviewed: bool, at: str) -> int:
    """Mark events reviewed (keeping an earlier mark's time) or not; returns how many changed."""
    changed: list[int] = []
    with transaction(db):
        for start in range(0, len(event_ids), 500):
            chunk = list(event_ids[start:start + 500])
            marks = ", ".join("?" * len(chunk))
            if reviewed:
                rows = db.execute(f"UPDATE events SET reviewed_at = ? WHERE reviewed_at IS NULL AND id IN ({marks})"
                                  " RETURNING id", [at, *chunk])
            else:
                rows = db.execute(f"UPDATE events SET reviewed_at = NULL WHERE reviewed_at IS NOT NULL AND id IN ({marks})"
                                  " RETURNING id", chunk)
            changed += [event_id for (event_id,) in rows.fetchall()]
        if changed:
            custody.append(db, "review", {"event_ids": sorted(changed), "reviewed": reviewed, "at": at})
    return len(changed)


def unreviewed_since(db: Database, since: str | None) -> list[int]:
    """Every event nobody has reviewed, detected at or after `since` (None: all)."""
    return [event_id for (event_id,) in db.execute(
        "SELECT id FROM events WHERE reviewed_at IS NULL AND (? IS NULL OR detected_at >= ?) ORDER BY id",
        [since, since])]


def set_tags_and_note(db: Database, event_id: int, tags: Sequence[str], note: str, at: str) -> None:
    """Replace an event's tags and note (an empty note removes it). Raises KeyError for an
    unknown event."""
    with transaction(db):
        if db.execute("SELECT 1 FROM events WHERE id = ?", [event_id]).fetchone() is None:
            raise KeyError(f"no event {event_id}")
        db.execute("DELETE FROM event_tags WHERE event_id = ? AND tag NOT IN (SELECT value FROM json_each(?))",
                   [event_id, json.dumps(list(tags), ensure_ascii=False)])
        db.conn.executemany("INSERT OR IGNORE INTO event_tags (event_id, tag, tagged_at) VALUES (?, ?, ?)",
                            [(event_id, tag, at) for tag in tags])
        if note:
            db.execute("INSERT INTO event_notes (event_id, note, updated_at) VALUES (?, ?, ?) ON CONFLICT (event_id)"
                       " DO UPDATE SET note = excluded.note, updated_at = excluded.updated_at", [event_id, note, at])
        else:
            db.execute("DELETE FROM event_notes WHERE event_id = ?", [event_id])
        custody.append(db, "tag", {"event_id": event_id, "tags": list(tags), "at": at,
                                   "note_sha256": hashlib.sha256(note.encode("utf-8")).hexdigest() if note else None})


def review_work(db: Database, event_ids: Sequence[int]) -> dict[int, dict]:
    """Tags and note of the given events that have any: {event_id: {"tags": [...], "note": str|None}}."""
    found: dict[int, dict] = {}
    for start in range(0, len(event_ids), 500):
        chunk = list(event_ids[start:start + 500])
        marks = ", ".join("?" * len(chunk))
        for event_id, tag in db.execute(f"SELECT event_id, tag FROM event_tags WHERE event_id IN ({marks}) ORDER BY tag", chunk):
            found.setdefault(event_id, {"tags": [], "note": None})["tags"].append(tag)
        for event_id, note in db.execute(f"SELECT event_id, note FROM event_notes WHERE event_id IN ({marks})", chunk):
            found.setdefault(event_id, {"tags": [], "note": None})["note"] = note
    return found


def choices(db: Database) -> dict[str, list[str]]:
    """What the queue's filters can choose from: sources, source tags, review tags, event
    types, keyword sets."""
    return {
        "sources": reports.known_source_ids(db),
        "source_tags": sorted(reports.tags_in_use(db)),
        "tags": [row[0] for row in db.execute("SELECT DISTINCT tag FROM event_tags ORDER BY tag")],
        "types": list(EVENT_TYPES),
        "keyword_sets": [row[0] for row in db.execute("SELECT DISTINCT set_name FROM hits ORDER BY set_name")],
    }
