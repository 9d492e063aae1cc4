"""A snapshot keeps only a Wayback capture of its own version: captures taken before it was fetched are re-judged as an earlier version's."""

# Earlier versions recorded any recent capture of the URL on a new snapshot, even one taken
# before the page changed. Such a capture stays on its request (what digests name as the
# earlier version's copy); the request becomes `failed` with the reason, so that
# `docwatch archive retry` asks for a capture of this version. Wayback timestamps are UTC to
# the second; fetched_at is ISO 8601 with an offset, which strftime converts to UTC.
SQL = """
UPDATE archive_requests SET state = 'failed', capture_kind = NULL,
    last_error = 'the Wayback Machine''s capture ' || wayback_timestamp
        || ' was taken before this version was fetched: it shows an earlier version'
        || ' (re-judged on upgrade: `docwatch archive retry` asks for a new capture)'
    WHERE state = 'done' AND snapshot_id IS NOT NULL AND wayback_timestamp < (
        SELECT strftime('%Y%m%d%H%M%S', s.fetched_at) FROM snapshots s WHERE s.id = snapshot_id);
UPDATE snapshots SET wayback_url = NULL, wayback_timestamp = NULL
    WHERE wayback_timestamp < strftime('%Y%m%d%H%M%S', fetched_at)
"""
