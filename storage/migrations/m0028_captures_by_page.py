"""Each page's Wayback captures by time, and each URL's latest archive request, in indexes of their own: the capture taken before a version was fetched (digests, `docwatch evidence`), a removed page's last capture and the state of a page's archiving are found by one index lookup, not by reading every snapshot or request of the page."""

# Measured with bench/bigdb.py (200,000 snapshots; the busiest page has thousands of versions):
# a digest's `earlier_capture` read each snapshot row of the page through snapshots_page to
# find its wayback columns, which sit after the text and body: about 20 ms per event, 2.5 s of
# a day's digest. This index holds what those lookups read (partial: only captured snapshots).
# The latest request's state was found by sorting every request for the URL (one per version).
SQL = """
CREATE INDEX snapshots_page_capture ON snapshots(page_id, wayback_timestamp, wayback_url) WHERE wayback_url IS NOT NULL;
CREATE INDEX archive_requests_latest ON archive_requests(url, id, state)
"""
