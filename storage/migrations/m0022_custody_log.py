"""Custody log: an append-only, hash-chained record of every snapshot, WARC record, Wayback confirmation and export."""

# Each entry carries the SHA-256 of the entry before it (`prev_sha256`; 64 zeros for the
# first), and its own `entry_sha256` over its fields (see storage/custody.py), so removing,
# reordering or editing an entry breaks the chain that `docwatch custody verify` walks.
# Databases made before this migration start their chain empty: their earlier snapshots have
# no entries (the log records what happened from then on, not a reconstruction).
SQL = """
CREATE TABLE custody_log (
    id INTEGER PRIMARY KEY,
    recorded_at TEXT NOT NULL,
    kind TEXT NOT NULL,
    snapshot_id INTEGER REFERENCES snapshots(id),
    subject TEXT NOT NULL,
    prev_sha256 TEXT NOT NULL,
    entry_sha256 TEXT NOT NULL UNIQUE
);
CREATE INDEX custody_log_snapshot ON custody_log(snapshot_id)
"""
