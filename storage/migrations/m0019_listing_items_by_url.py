"""listing_items found by URL: every fetch of an article asks whether its listing dropped it (to report it `hidden` when it still answers)."""

SQL = """
CREATE INDEX listing_items_url ON listing_items(url, delisted_at)
"""
