"""List pages are evidence too: archive requests may have the reason `listing_changed`."""

# A list page is a `pages` row of kind `listing` with snapshots like any page (kind is free
# text: no schema change). Only the CHECK on archive_requests.reason must admit the new reason,
# and SQLite changes a CHECK only by rebuilding the table: copied whole, then renamed, its
# indexes made again. Nothing refers to archive_requests, so foreign keys are not affected.
SQL = """
CREATE TABLE archive_requests_m0011 (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL,
    reason TEXT NOT NULL
        CHECK (reason IN ('new_page', 'changed', 'new_hits', 'attachment', 'manual', 'listing_changed')),
    snapshot_id INTEGER REFERENCES snapshots(id),
    state TEXT NOT NULL DEFAULT 'queued'
        CHECK (state IN ('queued', 'in_progress', 'done', 'needs_credentials', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    leased_until TEXT,
    leased_by TEXT,
    job_id TEXT,
    submitted_at TEXT,
    wayback_url TEXT,
    wayback_timestamp TEXT,
    capture_kind TEXT CHECK (capture_kind IN ('new', 'existing')),
    last_error TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
INSERT INTO archive_requests_m0011 (id, url, reason, snapshot_id, state, attempts, next_attempt_at, leased_until,
    leased_by, job_id, submitted_at, wayback_url, wayback_timestamp, capture_kind, last_error, created_at, updated_at)
    SELECT id, url, reason, snapshot_id, state, attempts, next_attempt_at, leased_until, leased_by, job_id,
    submitted_at, wayback_url, wayback_timestamp, capture_kind, last_error, created_at, updated_at
    FROM archive_requests;
DROP TABLE archive_requests;
ALTER TABLE archive_requests_m0011 RENAME TO archive_requests;
CREATE UNIQUE INDEX archive_requests_one_open_per_url ON archive_requests(url)
    WHERE state IN ('queued', 'in_progress');
CREATE INDEX archive_requests_due ON archive_requests(state, next_attempt_at);
CREATE INDEX archive_requests_url ON archive_requests(url, wayback_timestamp)
"""
