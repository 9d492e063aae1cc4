"""Documents (attachments): the page that links them, their file type, and whether they had text."""

# A document is a `pages` row of kind `document` whose `parent_page_id` is the page or article
# that linked it. Its snapshots say which reader extracted the text (`file_type`: pdf, doc,
# docx, xls, xlsx) and flag a file with no text at all (a scan) as `no_text`.
SQL = """
        ALTER TABLE pages ADD COLUMN parent_page_id INTEGER REFERENCES pages(id);
        CREATE INDEX pages_parent ON pages(parent_page_id);
        ALTER TABLE snapshots ADD COLUMN file_type TEXT;
        ALTER TABLE snapshots ADD COLUMN no_text INTEGER NOT NULL DEFAULT 0
        """
