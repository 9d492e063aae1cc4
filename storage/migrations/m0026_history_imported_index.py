"""An index of when history events were imported (`detail.imported_at`), so that a digest since a moment finds the history imported since then by an index lookup, as it finds today's events through `events_detected`."""

SQL = """
CREATE INDEX events_imported ON events (json_extract(detail, '$.imported_at'))
"""
