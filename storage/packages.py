"""What an evidence package holds: the snapshots and events of a selection (events, URLs,
sources, a period), with the documents their pages link."""

from __future__ import annotations

from dataclasses import dataclass

from storage import events
from storage.connection import Database


@dataclass(frozen=True)
class Selection:
    event_ids: tuple[int, ...] = ()
    urls: tuple[str, ...] = ()
    source_ids: tuple[str, ...] = ()
    since: str | None = None  # ISO UTC bounds on when a snapshot was fetched
    until: str | None = None

    def as_json(self) -> dict:
        return {"events": list(self.event_ids), "urls": list(self.urls), "sources": list(self.source_ids),
                "since": self.since, "until": self.until}


SNAPSHOT_COLUMNS = (
    "s.id, p.url, p.source_id, p.kind, s.final_url, s.title, s.fetched_at, s.http_status, s.body_sha256,"
    " s.text_sha256, s.warc_file, s.warc_offset, s.warc_length, s.wayback_url, s.wayback_timestamp,"
    " s.origin, s.origin_ref"
)


def unknown_parts(db: Database, selection: Selection) -> list[str]:
    """The events and URLs of a selection that the database does not have."""
    missing = [f"event {event_id}" for event_id in events.unknown_events(db, selection.event_ids)]
    return missing + [f"URL {url}" for url in selection.urls
                      if not db.execute("SELECT 1 FROM pages WHERE url = ?", [url]).fetchone()]


def selected_snapshots(db: Database, selection: Selection) -> list[dict]:
    """The snapshots of a selection, oldest first: those of the events (the version each
    describes and the one before), of the URLs and sources (within since/until), then those of
    the documents their pages link (attachments)."""
    period, period_params = "", []
    if selection.since:
        period += " AND s.fetched_at >= ?"
        period_params.append(selection.since)
    if selection.until:
        period += " AND s.fetched_at < ?"
        period_params.append(selection.until)
    picks, params = [], []
    if selection.event_ids:
        marks = ", ".join("?" * len(selection.event_ids))
        picks.append(f"s.id IN (SELECT snapshot_id FROM events WHERE id IN ({marks})"
                     f" UNION SELECT previous_snapshot_id FROM events WHERE id IN ({marks}))")
        params += list(selection.event_ids) * 2
    if selection.urls:
        picks.append(f"(p.url IN ({', '.join('?' * len(selection.urls))}){period})")
        params += list(selection.urls) + period_params
    if selection.source_ids:
        picks.append(f"(p.source_id IN ({', '.join('?' * len(selection.source_ids))}){period})")
        params += list(selection.source_ids) + period_params
    if not picks:
        picks.append(f"(1{period})")
        params += period_params
    chosen = f"SELECT s.id FROM snapshots s JOIN pages p ON p.id = s.page_id WHERE {' OR '.join(picks)}"
    attachments = ("SELECT s.id FROM snapshots s JOIN pages p ON p.id = s.page_id WHERE p.parent_page_id IN"
                   f" (SELECT s.page_id FROM snapshots s WHERE s.id IN ({chosen})){period}")
    return list(db.query(
        f"SELECT {SNAPSHOT_COLUMNS} FROM snapshots s JOIN pages p ON p.id = s.page_id"
        f" WHERE s.id IN ({chosen}) OR s.id IN ({attachments}) ORDER BY s.fetched_at, s.id",
        params + params + period_params,
    ))


def events_of(db: Database, selection: Selection, snapshot_ids: list[int]) -> list[int]:
    """The events a package describes: those named, and those of its snapshots."""
    marks = ", ".join("?" * len(snapshot_ids)) or "NULL"
    named = ", ".join("?" * len(selection.event_ids)) or "NULL"
    rows = db.execute(f"SELECT id FROM events WHERE snapshot_id IN ({marks}) OR id IN ({named}) ORDER BY id",
                      [*snapshot_ids, *selection.event_ids])
    return [row[0] for row in rows]
