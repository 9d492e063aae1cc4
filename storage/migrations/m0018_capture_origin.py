"""Where each snapshot came from (`origin`: crawl, wayback, warc-import; `origin_ref`: the Wayback URL of the capture or the WARC file and record it was read from), and `history_imports`: every capture backfill or import has read, so a second run imports nothing twice."""

# A capture docwatch did not fetch itself is a snapshot dated by its capture time; events it
# implies carry detail.historical. history_imports.capture_key is the Wayback timestamp (origin
# wayback) or the WARC-Record-ID (warc-import); outcome is what the capture was: new, changed,
# unchanged (the version of a neighbour in time), gone, or skipped (says nothing: 403, 5xx, …).
SQL = """
ALTER TABLE snapshots ADD COLUMN origin TEXT NOT NULL DEFAULT 'crawl';
ALTER TABLE snapshots ADD COLUMN origin_ref TEXT;
CREATE INDEX snapshots_page_time ON snapshots(page_id, fetched_at);
CREATE TABLE history_imports (
    id INTEGER PRIMARY KEY,
    origin TEXT NOT NULL,
    url TEXT NOT NULL,
    capture_key TEXT NOT NULL,
    captured_at TEXT NOT NULL,
    imported_at TEXT NOT NULL,
    outcome TEXT NOT NULL,
    snapshot_id INTEGER REFERENCES snapshots(id),
    note TEXT,
    UNIQUE (origin, url, capture_key)
)
"""
