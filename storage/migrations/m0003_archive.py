"""Archive queue (Wayback Machine requests) and the evidence columns of snapshots."""

# A request is worked under a lease (leased_by, leased_until): a worker that dies loses it
# when the lease expires, and the request is taken up again; the job id of a submission is
# committed before polling, so a restarted worker polls that job instead of submitting again.
# The partial unique index keeps one open (queued or in_progress) request per URL.
SQL = """
        CREATE TABLE archive_requests (
            id INTEGER PRIMARY KEY,
            url TEXT NOT NULL,
            reason TEXT NOT NULL
                CHECK (reason IN ('new_page', 'changed', 'new_hits', 'attachment', 'manual')),
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
        CREATE UNIQUE INDEX archive_requests_one_open_per_url ON archive_requests(url)
            WHERE state IN ('queued', 'in_progress');
        CREATE INDEX archive_requests_due ON archive_requests(state, next_attempt_at);
        CREATE INDEX archive_requests_url ON archive_requests(url, wayback_timestamp);
        ALTER TABLE snapshots ADD COLUMN warc_file TEXT;
        ALTER TABLE snapshots ADD COLUMN warc_offset INTEGER;
        ALTER TABLE snapshots ADD COLUMN warc_length INTEGER;
        ALTER TABLE snapshots ADD COLUMN wayback_url TEXT;
        ALTER TABLE snapshots ADD COLUMN wayback_timestamp TEXT
        """
