"""Where each fetch's redirects led (fetches.final_url), requests not sent (outcome skipped, runs.pages_skipped), and each run's count of URLs it set out to fetch (runs.requests) against the fetch rows it wrote (runs.requests_unaccounted)."""

SQL = """
ALTER TABLE fetches ADD COLUMN final_url TEXT;
ALTER TABLE runs ADD COLUMN pages_skipped INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN requests INTEGER;
ALTER TABLE runs ADD COLUMN requests_unaccounted INTEGER
"""
