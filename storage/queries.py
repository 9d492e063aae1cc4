"""Sources, runs, pages, snapshots and fetches: what a crawl reads and writes for each page it fetches."""

from __future__ import annotations

import heapq
import json
import os
from dataclasses import dataclass, field
from typing import Any, Iterable

from storage import bodies, custody
from storage.connection import Database
from storage.database import insert_row, update_row, utcnow
from storage.transactions import transaction

# Outcomes of one fetch, as stored in fetches.outcome and counted in runs. SKIPPED: not sent
# (robots.txt, off-site, already requested in the run); fetches.error says why.
NEW, CHANGED, UNCHANGED, FAILED, GONE, SKIPPED = "new", "changed", "unchanged", "failed", "gone", "skipped"
PAGE_OUTCOMES = (NEW, CHANGED, UNCHANGED, FAILED, GONE, SKIPPED)
# What a person reads of a snapshot (`s`): the page's own characters; a snapshot stored before
# docwatch kept them (migration 10) has only its normalised text, which stands in.
ORIGINAL_TEXT = "coalesce(s.original_text, s.text) AS original_text"


@dataclass(frozen=True)
class PageCapture:
    """A fetched and extracted page, ready to be compared with its last snapshot and stored."""

    source_id: str
    url: str
    kind: str  # "page" (watched directly), "article" (found on a listing), "document" or "listing" (a list page)
    fetched_at: str
    http_status: int
    final_url: str
    content_type: str | None
    encoding: str
    title: str
    published: str | None
    text: str  # normalised (NFKC): hashed into text_sha256, which decides "changed"
    original_text: str  # the page's own characters: what hits, figures and diffs quote
    text_sha256: str
    body: bytes
    body_sha256: str
    elapsed_ms: int | None = None
    links: list[dict[str, str]] = field(default_factory=list)
    attachments: list[dict[str, str]] = field(default_factory=list)
    extract_fingerprint: str | None = None  # the extraction settings the text was read with
    undecodable_bytes: int = 0  # bytes of the body that did not decode in `encoding`
    origin: str = "crawl"  # or "wayback", "warc-import": a capture docwatch did not fetch itself
    origin_ref: str | None = None  # the capture's Wayback URL, or WARC file and record id
    # Worked out where the page was extracted (a worker process), else while storing it:
    findings: Any = None  # crawler.compare.versions.Findings of `original_text`
    body_keyframe: bytes | None = None  # bodies.keyframe(body)


def sync_sources(db: Database, sources: Iterable[Any]) -> None:
    """Mirror the watchlist's sources into the `sources` table (rows are kept when a source
    leaves the watchlist: its pages and snapshots still refer to it)."""
    now = utcnow()
    with transaction(db):
        for source in sources:
            db.execute(
                "INSERT INTO sources (id, url, type, name, tags, added_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET url = excluded.url, type = excluded.type, name = excluded.name,"
                " tags = excluded.tags, updated_at = excluded.updated_at",
                [source.id, source.url, source.type, source.name, json.dumps(list(source.tags), ensure_ascii=False),
                 now, now],
            )


def start_run(db: Database, trigger: str, source_ids: list[str]) -> int:
    with transaction(db):
        run_id = insert_row(db, "runs", {
            "started_at": utcnow(), "trigger": trigger, "pid": os.getpid(), "status": "running",
            "sources": json.dumps(source_ids),
        })
        db.conn.executemany("INSERT OR IGNORE INTO run_sources (source_id, run_id) VALUES (?, ?)",
                            [(source_id, run_id) for source_id in source_ids])
        return run_id


def finish_run(db: Database, run_id: int, status: str, error: str | None = None) -> dict:
    """Close a run, counting its outcomes from the fetches it recorded (the single source of truth),
    and how many of the URLs it set out to fetch (`runs.requests`) left no fetch row."""
    counts = dict(
        db.execute(
            "SELECT outcome, count(*) FROM fetches WHERE run_id = ? AND kind != 'listing' GROUP BY outcome",
            [run_id],
        ).fetchall()
    )
    row = {
        "finished_at": utcnow(),
        "status": status,
        "error": error,
        **{f"pages_{outcome}": counts.get(outcome, 0) for outcome in PAGE_OUTCOMES},
    }
    row["pages_fetched"] = sum(row[f"pages_{outcome}"] for outcome in PAGE_OUTCOMES if outcome != SKIPPED)
    [(requests, rows)] = db.execute(
        "SELECT requests, (SELECT count(*) FROM fetches WHERE run_id = runs.id) FROM runs WHERE id = ?", [run_id]
    ).fetchall()
    row["requests_unaccounted"] = None if requests is None else requests - rows
    with transaction(db):
        update_row(db, "runs", run_id, row)
    return run(db, run_id)


def run(db: Database, run_id: int) -> dict:
    return next(db.query("SELECT * FROM runs WHERE id = ?", [run_id]))


def add_run_requests(db: Database, run_id: int, count: int) -> None:
    """Add `count` URLs a spider set out to fetch to the run's total (both spiders of a run add theirs)."""
    with transaction(db):
        db.execute("UPDATE runs SET requests = coalesce(requests, 0) + ? WHERE id = ?", [count, run_id])


def interrupt_dead_runs(db: Database) -> int:
    """Mark runs left 'running' by a process that no longer exists (killed, crashed) as interrupted.
    (Found through runs_running, not by reading every run ever recorded: each crawl asks.)"""
    stale = [
        run_id
        for run_id, pid in db.execute("SELECT id, pid FROM runs WHERE status = 'running'").fetchall()
        if not _pid_alive(pid)
    ]
    with transaction(db):
        for run_id in stale:
            update_row(db, "runs", run_id, {"status": "interrupted", "finished_at": utcnow()})
    return len(stale)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def page_at(db: Database, url: str) -> dict | None:
    """The page row for `url`, if docwatch has seen it."""
    rows = list(db.query("SELECT * FROM pages WHERE url = ?", [url]))
    return rows[0] if rows else None


def page_for(db: Database, source_id: str, url: str, kind: str, seen_at: str) -> dict:
    """The page row for `url`, created on first sight."""
    page = page_at(db, url)
    if page is not None:
        return page
    page_id = insert_row(db, "pages", {"source_id": source_id, "url": url, "kind": kind, "first_seen": seen_at})
    return next(db.query("SELECT * FROM pages WHERE id = ?", [page_id]))


def latest_snapshot(db: Database, page: dict) -> dict | None:
    if page["latest_snapshot_id"] is None:
        return None
    return next(
        db.query(
            f"SELECT s.id, s.fetched_at, {ORIGINAL_TEXT}, s.text, s.text_sha256, s.published, s.title,"
            " s.text_origin, s.ocr_page_hashes FROM snapshots s"
            " WHERE s.id = ?",
            [page["latest_snapshot_id"]],
        )
    )


def last_listing_snapshot_linking(db: Database, source_id: str, url: str) -> tuple[int, str] | None:
    """The newest snapshot of one of the source's list pages that links `url`: (its id, that list page's URL).
    The snapshots of all its list pages are read together, newest first (each page's through
    snapshots_page), up to the first that links it: reading each list page's own back to one that
    links it read the whole history of every list page that never showed the article."""
    list_pages = db.execute("SELECT id, url FROM pages WHERE source_id = ? AND kind = 'listing'", [source_id]).fetchall()
    cursors = [db.execute(
        "SELECT n.id, ?, EXISTS (SELECT 1 FROM json_each(n.links) link WHERE json_extract(link.value, '$.url') = ?)"
        " FROM snapshots n WHERE n.page_id = ? ORDER BY n.id DESC", [list_url, url, page_id])
        for page_id, list_url in list_pages]
    try:
        for snapshot_id, list_url, links_it in heapq.merge(*cursors, key=lambda row: -row[0]):
            if links_it:
                return snapshot_id, list_url
        return None
    finally:
        for cursor in cursors:
            cursor.close()


def needs_snapshot(db: Database, url: str, text_sha256: str) -> bool:
    """Whether this text would be a new snapshot of `url` (so its WARC record is worth writing)."""
    row = db.execute(
        "SELECT s.text_sha256 FROM pages p JOIN snapshots s ON s.id = p.latest_snapshot_id WHERE p.url = ?", [url]
    ).fetchone()
    return row is None or row[0] != text_sha256


def insert_snapshot(
    db: Database, page_id: int, run_id: int | None, capture: PageCapture, warc: Any = None
) -> int:
    """Store a snapshot with what goes with every one, whichever path it came by (a crawl, a
    list page, backfill, import): its custody entries. (The search index catches up when it is
    read: storage/search.py.)"""
    snapshot_id = insert_row(
        db, "snapshots",
        {
            "page_id": page_id,
            "run_id": run_id,
            "fetched_at": capture.fetched_at,
            "http_status": capture.http_status,
            "final_url": capture.final_url,
            "content_type": capture.content_type,
            "encoding": capture.encoding,
            "undecodable_bytes": capture.undecodable_bytes,
            "title": capture.title,
            "published": capture.published,
            "text": capture.text,
            "original_text": capture.original_text,
            "text_sha256": capture.text_sha256,
            "body_sha256": capture.body_sha256,
            "body_size": len(capture.body),
            **bodies.pack(db, page_id, capture.body, capture.body_keyframe),
            "links": json.dumps(capture.links, ensure_ascii=False),
            "attachments": json.dumps(capture.attachments, ensure_ascii=False),
            "warc_file": warc.path if warc else None,
            "warc_offset": warc.offset if warc else None,
            "warc_length": warc.length if warc else None,
            "origin": capture.origin,
            "origin_ref": capture.origin_ref,
        },
    )
    subject = {"url": capture.url, "final_url": capture.final_url, "fetched_at": capture.fetched_at,
               "http_status": capture.http_status, "body_sha256": capture.body_sha256, "text_sha256": capture.text_sha256}
    if capture.origin == "crawl":
        custody.append(db, "snapshot", subject, snapshot_id)
    else:  # a capture docwatch did not fetch: where it came from is part of its custody
        custody.append(db, "import", {**subject, "origin": capture.origin, "origin_ref": capture.origin_ref}, snapshot_id)
    if warc:
        custody.append(db, "warc_record", {"warc_file": warc.path, "offset": warc.offset, "length": warc.length,
                                           "body_sha256": warc.sha256}, snapshot_id)
    return snapshot_id


def insert_fetch(
    db: Database, run_id: int | None, page: dict | None, source_id: str, url: str, kind: str,
    fetched_at: str, outcome: str, http_status: int | None = None, elapsed_ms: int | None = None,
    size: int | None = None, error: str | None = None, snapshot_id: int | None = None, final_url: str | None = None,
) -> None:
    """One fetch of `url`; `final_url` is where its redirects led (the URL itself when there were none)."""
    insert_row(
        db, "fetches",
        {
            "run_id": run_id, "source_id": source_id, "page_id": page["id"] if page else None, "url": url,
            "kind": kind, "fetched_at": fetched_at, "http_status": http_status, "elapsed_ms": elapsed_ms,
            "size": size, "outcome": outcome, "error": error, "snapshot_id": snapshot_id, "final_url": final_url,
        },
    )


def update_page(db: Database, page: dict, **changes: Any) -> None:
    update_row(db, "pages", page["id"], changes)


def page_snapshots(db: Database, url: str) -> list[dict]:
    """A page's snapshots, oldest first, without the raw body."""
    return list(
        db.query(
            "SELECT s.id, s.fetched_at, s.http_status, s.title, s.published, s.encoding, s.undecodable_bytes, s.text_sha256,"
            " s.body_sha256, s.body_size, s.text FROM snapshots s JOIN pages p ON p.id = s.page_id"
            " WHERE p.url = ? ORDER BY s.id",
            [url],
        )
    )


def snapshot_body(db: Database, snapshot_id: int) -> bytes:
    """A snapshot's raw body, byte for byte as fetched."""
    row = db.execute(
        "SELECT body_zlib, body_codec, body_base_id FROM snapshots WHERE id = ?", [snapshot_id]
    ).fetchone()
    if row is None:
        raise KeyError(f"no snapshot with id {snapshot_id}")
    return bodies.unpack(db, *row)


def run_unstored(db: Database, run_id: int) -> list[dict]:
    """The run's fetches that stored nothing (failed, gone, skipped), with the reason in `error`."""
    return list(
        db.query(
            "SELECT url, final_url, http_status, outcome, error FROM fetches WHERE run_id = ? AND outcome IN (?, ?, ?)"
            " ORDER BY id",
            [run_id, FAILED, GONE, SKIPPED],
        )
    )


def list_pages(db: Database, source_id: str | None = None) -> list[dict]:
    where, params = ("WHERE p.source_id = ?", [source_id]) if source_id else ("", [])
    return list(
        db.query(
            "SELECT p.source_id, p.url, p.kind, p.title, p.published, p.first_seen, p.last_fetched, p.last_status,"
            " p.last_outcome, p.state, (SELECT count(*) FROM snapshots s WHERE s.page_id = p.id) AS snapshots"
            f" FROM pages p {where} ORDER BY p.source_id, p.first_seen, p.url",
            params,
        )
    )


def snapshot(db: Database, snapshot_id: int) -> dict:
    """What `docwatch show` prints of a snapshot: its page, dates, title and text to read."""
    rows = list(
        db.query(
            f"SELECT s.id, p.url, s.fetched_at, s.published, s.title, {ORIGINAL_TEXT}"
            " FROM snapshots s JOIN pages p ON p.id = s.page_id WHERE s.id = ?",
            [snapshot_id],
        )
    )
    if not rows:
        raise KeyError(f"no snapshot with id {snapshot_id}")
    return rows[0]


# ---------------------------------------------------------------------------------------------
# Run history, per source (a run may cover several sources: `run_sources` has one row each)


def last_run_starts(db: Database) -> dict[str, tuple[int, str]]:
    """Each source's latest run: (its id, when it started). One index lookup per known source,
    however many runs the database holds."""
    return {
        source_id: (run_id, started_at)
        for source_id, run_id, started_at in db.execute(
            "SELECT s.id, r.id, r.started_at FROM sources s"
            " JOIN runs r ON r.id = (SELECT max(run_id) FROM run_sources WHERE source_id = s.id)"
        )
    }


def last_runs(db: Database) -> dict[str, dict]:
    """Each source's latest run, with that source's own page counts (from `fetches`) and the
    keyword hits it flagged as new (from `hit_flags`)."""
    result = {}
    for source_id, (run_id, _) in last_run_starts(db).items():
        latest_run = run(db, run_id)
        counts = dict(
            db.execute(
                "SELECT outcome, count(*) FROM fetches WHERE run_id = ? AND source_id = ? AND kind != 'listing'"
                " GROUP BY outcome",
                [run_id, source_id],
            ).fetchall()
        )
        [(new_hits,)] = db.execute(
            "SELECT count(*) FROM hit_flags h JOIN events e ON e.id = h.event_id WHERE e.run_id = ? AND e.source_id = ?",
            [run_id, source_id],
        ).fetchall()
        result[source_id] = {
            "run_id": run_id, "trigger": latest_run["trigger"], "started_at": latest_run["started_at"],
            "finished_at": latest_run["finished_at"], "status": latest_run["status"], "error": latest_run["error"],
            "pages": sum(counts.values()), **{f"pages_{outcome}": counts.get(outcome, 0) for outcome in PAGE_OUTCOMES},
            "new_hits": new_hits,
        }
    return result


def last_fetch_errors(db: Database) -> dict[str, dict]:
    """Each source's most recent failed fetch: when, which URL, what went wrong."""
    rows = db.query(
        "SELECT f.source_id, f.fetched_at, f.url, f.http_status, f.error FROM sources s"
        " JOIN fetches f ON f.id = (SELECT max(id) FROM fetches WHERE source_id = s.id AND outcome = 'failed')"
    )
    return {row.pop("source_id"): row for row in rows}
