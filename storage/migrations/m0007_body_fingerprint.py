"""Fast unchanged re-crawls: the last body's SHA-256 and the extraction settings it was read with."""

SQL = """
ALTER TABLE pages ADD COLUMN last_body_sha256 TEXT;
ALTER TABLE pages ADD COLUMN extract_fingerprint TEXT
"""
