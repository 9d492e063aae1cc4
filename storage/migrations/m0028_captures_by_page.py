"""Each page's Wayback captures by time, in an index of their own: the capture taken before a version was fetched (digests, `docwatch evidence`) and a removed page's last capture are found by one index lookup, not by reading every snapshot of the page."""

# Measured with bench/bigdb.py (200,000 snapshots; the busiest page has thousands of versions):
# a digest's `earlier_capture` read each snapshot row of the page through snapshots_page to
# find its wayback columns, which sit after the text and body: about 20 ms per event, 2.5 s of
# a day's digest. This index holds what those lookups read (partial: only captured snapshots).
SQL = """
CREATE INDEX snapshots_page_capture ON snapshots(page_id, wayback_timestamp, wayback_url) WHERE wayback_url IS NOT NULL
"""
