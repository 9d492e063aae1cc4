"""Evidence keeping: local WARC files and Wayback Machine captures of every watched page."""
