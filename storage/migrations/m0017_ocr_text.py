"""Where a document snapshot's text came from (`text_origin`: text, or ocr for scans and images), OCR's confidence, the SHA-256 of each page image read, and the scanned pages left unread."""

SQL = """
ALTER TABLE snapshots ADD COLUMN text_origin TEXT;
ALTER TABLE snapshots ADD COLUMN ocr_confidence REAL;
ALTER TABLE snapshots ADD COLUMN ocr_page_hashes TEXT;
ALTER TABLE snapshots ADD COLUMN ocr_skipped_pages INTEGER NOT NULL DEFAULT 0
"""
