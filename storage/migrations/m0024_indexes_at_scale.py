"""Indexes that keep digests, `status` and `figures --since` fast on a database of two years: figures by when first seen (hit flags and figures by their event: migration 20), archive requests by snapshot, events by run and source, fetches by run and source, and each source's failed fetches."""

# Measured with bench/bigdb.py (200,000 snapshots, 1,000,000 events, 2,000,000 fetches):
# without these, a digest scanned hit_flags and figures once per 500 events, and `status`
# scanned hit_flags once per source and all fetches once. The failed-fetch index is partial:
# failures are a few percent of fetches, and only `status` asks for them (each source's
# latest). fetches(run_id, source_id) replaces fetches(run_id), its prefix.
SQL = """
CREATE INDEX figures_first_seen ON figures(first_seen);
CREATE INDEX archive_requests_snapshot ON archive_requests(snapshot_id);
CREATE INDEX events_run ON events(run_id, source_id);
CREATE INDEX fetches_run_source ON fetches(run_id, source_id);
DROP INDEX fetches_run;
CREATE INDEX fetches_failed ON fetches(source_id, id) WHERE outcome = 'failed'
"""
