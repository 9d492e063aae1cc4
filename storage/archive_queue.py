"""Every read and write of the archive queue (`archive_requests`) and of snapshot evidence.

A request is taken with :func:`claim`, which leases it to one worker. Every later write by
that worker names itself (``worker_id``), so a worker whose lease was taken over cannot
overwrite the new holder's progress. A lease ends when it expires, or at once when its holder
was a process on this machine that no longer exists (killed with -9, crashed).

Times are ISO 8601 UTC strings with milliseconds, so they sort as text.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta, timezone

from storage import bodies, custody
from storage.connection import Database
from storage.database import utcnow
from storage.transactions import transaction

REASONS = ("new_page", "changed", "new_hits", "attachment", "manual", "listing_changed")
STATES = ("queued", "in_progress", "done", "needs_credentials", "failed")
NEW_CAPTURE, EXISTING_CAPTURE = "new", "existing"
MAX_URL_CHARS = 2048
WAYBACK_TIME = "%Y%m%d%H%M%S"  # Wayback timestamps: UTC, to the second


@dataclass(frozen=True)
class ArchiveRequest:
    id: int
    url: str
    reason: str
    snapshot_id: int | None
    state: str
    attempts: int
    next_attempt_at: str
    leased_by: str | None
    job_id: str | None
    submitted_at: str | None
    wayback_url: str | None
    wayback_timestamp: str | None
    capture_kind: str | None
    last_error: str | None
    created_at: str
    updated_at: str
    resumed: bool = False  # claimed from a worker that died or overran its lease


@dataclass(frozen=True)
class PageEvidence:
    """The last confirmed Wayback capture of a page and the newest local WARC record of it."""

    url: str
    wayback_url: str | None
    wayback_timestamp: str | None
    snapshot_id: int | None  # the snapshot whose WARC record is given below
    warc_file: str | None
    warc_offset: int | None
    warc_length: int | None
    body_sha256: str | None


@dataclass(frozen=True)
class WaybackCopy:
    """A Wayback Machine capture of a URL: its playback address and 14-digit UTC timestamp."""

    wayback_url: str
    wayback_timestamp: str


@dataclass(frozen=True)
class Version:
    """The version of a page a snapshot holds, as a Wayback capture is judged against it.

    A capture shows this version when it was taken at or after the snapshot was fetched (and
    before the page's next version was), or when the CDX index's payload digest is the SHA-1
    of this very body. A capture taken before the fetch without that proof may show an
    earlier version: citing it would send the reader to text the page no longer had.
    """

    snapshot_id: int
    fetched_at: datetime  # UTC, to the second (Wayback timestamps have no fractions)
    body_sha1: str | None  # base32, as the CDX index writes payload digests
    superseded_at: datetime | None = None  # when the page's next version was fetched

    def shows(self, capture_timestamp: str, digest: str | None = None) -> bool:
        if digest is not None and digest == self.body_sha1:
            return True
        return capture_timestamp >= self.fetched_at.strftime(WAYBACK_TIME) and (
            self.superseded_at is None or capture_timestamp < self.superseded_at.strftime(WAYBACK_TIME))


_REQUEST_COLUMNS = ", ".join(f.name for f in fields(ArchiveRequest) if f.name != "resumed")


def wayback_time(iso_time: str) -> str:
    """A stored ISO time as a Wayback timestamp (UTC, to the second), so the two compare."""
    return datetime.fromisoformat(iso_time).astimezone(timezone.utc).strftime(WAYBACK_TIME)


def payload_digest(body: bytes) -> str:
    """The CDX index's digest of a payload: base32 SHA-1."""
    return base64.b32encode(hashlib.sha1(body).digest()).decode()


def version(db: Database, snapshot_id: int) -> Version:
    row = db.execute(
        "SELECT s.fetched_at, s.body_zlib, s.body_codec, s.body_base_id, (SELECT min(n.fetched_at)"
        " FROM snapshots n WHERE n.page_id = s.page_id AND n.id > s.id) FROM snapshots s WHERE s.id = ?",
        [snapshot_id]).fetchone()
    if row is None:
        raise KeyError(f"no snapshot with id {snapshot_id}")
    fetched_at, blob, codec, base_id, next_fetched_at = row
    body_sha1 = payload_digest(bodies.unpack(db, blob, codec, base_id)) if blob and codec else None
    return Version(snapshot_id, _utc_second(fetched_at), body_sha1,
                   _utc_second(next_fetched_at) if next_fetched_at else None)


def _utc_second(iso_time: str) -> datetime:
    return datetime.fromisoformat(iso_time).astimezone(timezone.utc).replace(microsecond=0)


def earlier_capture(db: Database, url: str, fetched_at: str) -> WaybackCopy | None:
    """The newest capture of ``url`` we know of (on a snapshot, or found by a request) taken
    before ``fetched_at``: it shows an earlier version than the one fetched then."""
    before = wayback_time(fetched_at)
    row = db.execute(  # the newest of each kind by one index lookup (snapshots_page_capture, archive_requests_url)
        "SELECT wayback_url, wayback_timestamp FROM ("
        " SELECT * FROM (SELECT s.wayback_url, s.wayback_timestamp FROM snapshots s"
        "  WHERE s.page_id = (SELECT id FROM pages WHERE url = ?) AND s.wayback_url IS NOT NULL"
        "  AND s.wayback_timestamp < ? ORDER BY s.wayback_timestamp DESC LIMIT 1)"
        " UNION ALL SELECT * FROM (SELECT wayback_url, wayback_timestamp FROM archive_requests"
        "  WHERE url = ? AND wayback_url IS NOT NULL AND wayback_timestamp < ? ORDER BY wayback_timestamp DESC LIMIT 1))"
        " ORDER BY wayback_timestamp DESC LIMIT 1",
        [url, before, url, before],
    ).fetchone()
    return WaybackCopy(*row) if row else None


def local_worker_id() -> str:
    """``host:pid``: lets a restarted worker see that a lease's holder is gone."""
    return f"{socket.gethostname()}:{os.getpid()}"


def enqueue(db: Database, url: str, reason: str, snapshot_id: int | None = None) -> int:
    """Queue ``url`` for archiving and return the request id.

    A URL with an open request is not queued twice: the open request is returned and pointed
    at the newer ``snapshot_id`` (the capture will show the page as it is by then; a worker
    already at it judges its capture against that newer version); a manual request makes a
    waiting one due now. Works inside a caller's transaction (e.g. together with the snapshot
    insert).
    """
    if reason not in REASONS:
        raise ValueError(f"archive reason must be one of {', '.join(REASONS)}, got {reason!r}")
    if not url.startswith(("http://", "https://")) or len(url) > MAX_URL_CHARS:
        raise ValueError(f"not an http(s) URL of at most {MAX_URL_CHARS} characters: {url[:200]!r}")
    now = utcnow()
    with transaction(db):
        db.execute(
            "INSERT INTO archive_requests (url, reason, snapshot_id, next_attempt_at, created_at,"
            " updated_at) VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (url) WHERE state IN ('queued', 'in_progress') DO UPDATE SET"
            " snapshot_id = coalesce(excluded.snapshot_id, snapshot_id), updated_at = excluded.updated_at,"
            " next_attempt_at = CASE WHEN excluded.reason = 'manual' AND state = 'queued'"
            " THEN excluded.next_attempt_at ELSE next_attempt_at END",
            [url, reason, snapshot_id, now, now, now],
        )
        row = db.execute(
            "SELECT id FROM archive_requests WHERE url = ? AND state IN ('queued', 'in_progress')", [url]
        ).fetchone()
    return row[0]


def claim(
    db: Database, worker_id: str, lease_seconds: float, only: int | None = None
) -> ArchiveRequest | None:
    """Lease the next due request to ``worker_id`` (or request ``only``, due or not)."""
    now = datetime.now(timezone.utc)
    with transaction(db):
        abandoned = _abandoned_leases(db, utcnow(now))
        due = "state = 'queued'" + ("" if only is not None else " AND next_attempt_at <= ?")
        params: list = [] if only is not None else [utcnow(now)]
        taken_over = "leased_until < ?"
        params.append(utcnow(now))
        if abandoned:
            taken_over += f" OR leased_by IN ({', '.join('?' * len(abandoned))})"
            params += abandoned
        where = f"({due} OR (state = 'in_progress' AND ({taken_over})))"
        if only is not None:
            where += " AND id = ?"
            params.append(only)
        row = db.execute(
            f"SELECT {_REQUEST_COLUMNS} FROM archive_requests WHERE {where}"
            " ORDER BY next_attempt_at, id LIMIT 1",
            params,
        ).fetchone()
        if row is None:
            return None
        request = ArchiveRequest(*row)
        db.execute(
            "UPDATE archive_requests SET state = 'in_progress', leased_by = ?, leased_until = ?,"
            " updated_at = ? WHERE id = ?",
            [worker_id, utcnow(now + timedelta(seconds=lease_seconds)), utcnow(now), request.id],
        )
    return replace(request, state="in_progress", leased_by=worker_id, resumed=request.state == "in_progress")


def mark_submitting(db: Database, request_id: int, worker_id: str) -> bool:
    """Record that a submission is about to be sent: if the worker dies before it learns the
    job id, the next one looks for the capture before submitting again."""
    return _update_leased(db, request_id, worker_id, "submitted_at = ?, job_id = NULL", [utcnow()])


def record_job(db: Database, request_id: int, worker_id: str, job_id: str) -> bool:
    """Keep the SPN2 job id the moment it is known, so a restart polls it instead of resubmitting."""
    return _update_leased(db, request_id, worker_id, "job_id = ?", [job_id])


def complete(
    db: Database, request_id: int, wayback_url: str, wayback_timestamp: str, capture_kind: str
) -> bool:
    """Record a confirmed capture: the request is done and its snapshot carries the capture,
    in one transaction. False when the request was already done (nothing is recorded twice)."""
    if capture_kind not in (NEW_CAPTURE, EXISTING_CAPTURE):
        raise ValueError(f"capture_kind must be {NEW_CAPTURE!r} or {EXISTING_CAPTURE!r}, got {capture_kind!r}")
    with transaction(db):
        row = db.execute("SELECT state, snapshot_id, url FROM archive_requests WHERE id = ?", [request_id]).fetchone()
        if row is None:
            raise KeyError(f"no archive request with id {request_id}")
        if row[0] == "done":
            return False
        db.execute(
            "UPDATE archive_requests SET state = 'done', wayback_url = ?, wayback_timestamp = ?,"
            " capture_kind = ?, last_error = NULL, leased_by = NULL, leased_until = NULL, updated_at = ?"
            " WHERE id = ?",
            [wayback_url, wayback_timestamp, capture_kind, utcnow(), request_id],
        )
        if row[1] is not None:
            db.execute(
                "UPDATE snapshots SET wayback_url = ?, wayback_timestamp = ? WHERE id = ?",
                [wayback_url, wayback_timestamp, row[1]],
            )
        custody.append(db, "wayback_capture", {"url": row[2], "wayback_url": wayback_url,
                                               "wayback_timestamp": wayback_timestamp, "capture_kind": capture_kind},
                       row[1])
    return True


def note_earlier_capture(db: Database, request_id: int, worker_id: str,
                         capture: WaybackCopy) -> bool:
    """Keep the capture the Wayback Machine offered that shows an earlier version than the
    request's snapshot: digests name it as such. The request stays unfinished."""
    return _update_leased(db, request_id, worker_id, "wayback_url = ?, wayback_timestamp = ?",
                          [capture.wayback_url, capture.wayback_timestamp])


def retry_later(
    db: Database, request_id: int, worker_id: str, error: str, delay_seconds: float,
    keep_job: bool = False,
) -> bool:
    """Count a failed attempt and put the request back in the queue after ``delay_seconds``.
    ``keep_job``: the submitted job may still finish, so the next attempt polls it first."""
    due = utcnow(datetime.now(timezone.utc) + timedelta(seconds=delay_seconds))
    clear_job = "" if keep_job else ", job_id = NULL"
    return _update_leased(
        db, request_id, worker_id,
        f"state = 'queued', attempts = attempts + 1, last_error = ?, next_attempt_at = ?{clear_job}",
        [error, due], release=True,
    )


def release(db: Database, request_id: int, worker_id: str) -> bool:
    """Hand an unfinished request back without counting an attempt (the worker is stopping)."""
    return _update_leased(db, request_id, worker_id, "state = 'queued', next_attempt_at = ?",
                          [utcnow()], release=True)


def give_up(db: Database, request_id: int, worker_id: str, error: str) -> bool:
    """The request failed for good (refused, or out of attempts); the reason is kept."""
    return _update_leased(db, request_id, worker_id,
                          "state = 'failed', attempts = attempts + 1, last_error = ?, job_id = NULL",
                          [error], release=True)


def needs_credentials(db: Database, request_id: int, worker_id: str, error: str) -> bool:
    """Nothing can be submitted without (working) archive.org keys and no recent capture exists."""
    return _update_leased(db, request_id, worker_id, "state = 'needs_credentials', last_error = ?",
                          [error], release=True)


def retry_failed(db: Database) -> tuple[int, int]:
    """Queue failed and needs_credentials requests again with fresh attempts.

    Returns (requeued, skipped); a request is skipped when its URL already has an open one.
    """
    now = utcnow()
    with transaction(db):
        candidates = db.execute(
            "SELECT id, url FROM archive_requests WHERE state IN ('failed', 'needs_credentials') ORDER BY id DESC"
        ).fetchall()
        requeued = 0
        for request_id, url in candidates:
            if db.execute("SELECT 1 FROM archive_requests WHERE url = ? AND state IN ('queued', 'in_progress')",
                          [url]).fetchone():
                continue
            db.execute(
                "UPDATE archive_requests SET state = 'queued', attempts = 0, next_attempt_at = ?,"
                " job_id = NULL, updated_at = ? WHERE id = ?",
                [now, now, request_id],
            )
            requeued += 1
    return requeued, len(candidates) - requeued


def request(db: Database, request_id: int) -> ArchiveRequest:
    row = db.execute(f"SELECT {_REQUEST_COLUMNS} FROM archive_requests WHERE id = ?", [request_id]).fetchone()
    if row is None:
        raise KeyError(f"no archive request with id {request_id}")
    return ArchiveRequest(*row)


def recently_archived(db: Database, url: str, within: timedelta) -> ArchiveRequest | None:
    """The newest done request of ``url`` whose capture is younger than ``within``."""
    cutoff = (datetime.now(timezone.utc) - within).strftime(WAYBACK_TIME)
    row = db.execute(
        f"SELECT {_REQUEST_COLUMNS} FROM archive_requests WHERE url = ? AND state = 'done'"
        " AND wayback_timestamp >= ? ORDER BY wayback_timestamp DESC LIMIT 1",
        [url, cutoff],
    ).fetchone()
    return ArchiveRequest(*row) if row else None


def submissions_since(db: Database, since: datetime) -> int:
    """Submissions sent since ``since`` by any worker: the per-minute budget is shared. Counted
    through archive_requests_submitted, not by reading every request: asked before each capture."""
    return db.execute("SELECT count(*) FROM archive_requests WHERE submitted_at >= ?",
                      [utcnow(since)]).fetchone()[0]


def next_due_at(db: Database, only: int | None = None) -> datetime | None:
    """When the next queued request (or request ``only``) becomes due."""
    where, params = ("AND id = ?", [only]) if only is not None else ("", [])
    row = db.execute(f"SELECT min(next_attempt_at) FROM archive_requests WHERE state = 'queued' {where}",
                     params).fetchone()
    return datetime.fromisoformat(row[0]) if row[0] else None


def counts_by_state(db: Database) -> dict[str, int]:
    """Every state with its number of requests (0 included), plus how many queued are due now."""
    counts = dict.fromkeys(STATES, 0)
    unfinished = [state for state in STATES if state != "done"]
    counts.update(db.execute(  # by index seeks (archive_requests_due): unfinished requests are few
        f"SELECT state, count(*) FROM archive_requests WHERE state IN ({', '.join('?' * len(unfinished))}) GROUP BY state",
        unfinished).fetchall())
    # Done ones are nearly all of them: the rest of count(*), which SQLite counts from the index's
    # pages without reading its entries (a GROUP BY read every entry: 200,000 in two years).
    counts["done"] = db.execute("SELECT count(*) FROM archive_requests").fetchone()[0] - sum(counts[s] for s in unfinished)
    counts["due"] = db.execute(
        "SELECT count(*) FROM archive_requests WHERE state = 'queued' AND next_attempt_at <= ?", [utcnow()]
    ).fetchone()[0]
    return counts


def last_errors(db: Database, limit: int = 10) -> list[ArchiveRequest]:
    """Unfinished requests with an error, most recently updated first."""
    return [
        ArchiveRequest(*row)
        for row in db.execute(
            f"SELECT {_REQUEST_COLUMNS} FROM archive_requests WHERE state != 'done' AND last_error IS NOT NULL"
            " ORDER BY updated_at DESC, id DESC LIMIT ?",
            [limit],
        )
    ]


def latest_request_state(db: Database, url: str) -> str | None:
    """The state of the latest archive request for `url`; None when none was made."""
    return latest_request_states(db, [url]).get(url)


def latest_request_states(db: Database, urls: Sequence[str]) -> dict[str, str]:
    """The state of the latest archive request of each of `urls` that has one: one statement for
    a digest's thousands of events, each an index lookup (archive_requests_url)."""
    return {url: state for url, state in db.execute(
        "SELECT j.value, (SELECT state FROM archive_requests WHERE url = j.value ORDER BY id DESC LIMIT 1)"
        " FROM json_each(?) j", [json.dumps(list(urls))]) if state is not None}


def snapshot_evidence(db: Database, url: str) -> list[dict]:
    """A page's stored copies, oldest first: hashes, WARC record and Wayback capture, with
    ``archive_status`` ``archived`` (a capture of this version), ``earlier_version`` (only
    ``earlier_capture``, taken before this version was fetched) or ``not_archived``."""
    copies = list(
        db.query(
            "SELECT s.id, s.fetched_at, s.http_status, s.body_sha256, s.body_size, s.warc_file, s.warc_offset,"
            " s.warc_length, s.wayback_url, s.wayback_timestamp FROM snapshots s"
            " JOIN pages p ON p.id = s.page_id WHERE p.url = ? ORDER BY s.id",
            [url],
        )
    )
    for copy in copies:
        earlier = None if copy["wayback_url"] else earlier_capture(db, url, copy["fetched_at"])
        copy["archive_status"] = "archived" if copy["wayback_url"] else (
            "earlier_version" if earlier else "not_archived")
        copy["earlier_capture"] = earlier.__dict__ if earlier else None
    return copies


def last_capture_for_page(db: Database, url: str) -> PageEvidence | None:
    """The last good copies of a page, for the event that reports it removed.

    The Wayback capture is the newest confirmed one, whether recorded on a snapshot or on a
    request (e.g. a manual one); the WARC record is the newest snapshot that has one.
    """
    wayback = last_wayback_capture(db, url)
    warc = db.execute(
        "SELECT s.id, s.warc_file, s.warc_offset, s.warc_length, s.body_sha256 FROM snapshots s"
        " JOIN pages p ON p.id = s.page_id WHERE p.url = ? AND s.warc_file IS NOT NULL"
        " ORDER BY s.id DESC LIMIT 1",
        [url],
    ).fetchone()
    if wayback is None and warc is None:
        return None
    return PageEvidence(url, *(wayback or (None, None)), *(warc or (None,) * 5))


def last_wayback_capture(db: Database, url: str) -> tuple[str, str] | None:
    """(Wayback URL, timestamp) of the newest confirmed capture of `url`, on a snapshot or a request."""
    return db.execute(
        "SELECT wayback_url, wayback_timestamp FROM ("
        " SELECT s.wayback_url, s.wayback_timestamp FROM snapshots s JOIN pages p ON p.id = s.page_id"
        " WHERE p.url = ? AND s.wayback_url IS NOT NULL"
        " UNION ALL SELECT wayback_url, wayback_timestamp FROM archive_requests"
        " WHERE url = ? AND state = 'done') ORDER BY wayback_timestamp DESC LIMIT 1",
        [url, url],
    ).fetchone()


def _update_leased(
    db: Database, request_id: int, worker_id: str, assignments: str, params: list,
    release: bool = False,
) -> bool:
    """Apply ``assignments`` if ``worker_id`` still holds the request; False if it lost it."""
    if release:
        assignments += ", leased_by = NULL, leased_until = NULL"
    with transaction(db):
        cursor = db.execute(
            f"UPDATE archive_requests SET {assignments}, updated_at = ?"
            " WHERE id = ? AND state = 'in_progress' AND leased_by = ?",
            [*params, utcnow(), request_id, worker_id],
        )
    return cursor.rowcount == 1


def _abandoned_leases(db: Database, now: str) -> list[str]:
    """Unexpired leases held by processes of this machine that have died."""
    host = socket.gethostname()
    holders = [row[0] for row in db.execute(
        "SELECT DISTINCT leased_by FROM archive_requests WHERE state = 'in_progress' AND leased_until >= ?",
        [now],
    )]
    return [holder for holder in holders
            if holder.rpartition(":")[0] == host and not _process_exists(holder.rpartition(":")[2])]


def _process_exists(pid: str) -> bool:
    if not pid.isdigit():
        return True  # not ours to judge: wait for the lease to expire
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
