"""Raw bodies of later versions stored as zstd deltas against the page's last full (zlib) body."""

SQL = """
ALTER TABLE snapshots ADD COLUMN body_codec TEXT NOT NULL DEFAULT 'zlib';
ALTER TABLE snapshots ADD COLUMN body_base_id INTEGER REFERENCES snapshots(id)
"""
