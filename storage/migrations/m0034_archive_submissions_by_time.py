"""Archive requests by when they were submitted: the archive worker counts the last minute's submissions before each capture it asks for (the per-minute budget), and read every request the database ever held to count them."""

# One request per new version of a page: hundreds of thousands in two years, all read for each
# capture (2,000 old requests: 6,000 SQLite steps to count the last minute's two; now under 100).
# Partial: a request enters it once it is submitted.
SQL = """
CREATE INDEX archive_requests_submitted ON archive_requests(submitted_at) WHERE submitted_at IS NOT NULL
"""
