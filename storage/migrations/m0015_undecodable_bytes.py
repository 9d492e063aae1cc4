"""How many bytes of a snapshot's body did not decode in its encoding (each shown as U+FFFD), so a page with broken bytes says so."""

SQL = """
ALTER TABLE snapshots ADD COLUMN undecodable_bytes INTEGER NOT NULL DEFAULT 0
"""
