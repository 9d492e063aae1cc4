"""What each page links as attachments now, so that an unchanged page's documents are fetched again and a dropped one is noticed."""

SQL = """
ALTER TABLE pages ADD COLUMN attachments TEXT NOT NULL DEFAULT '[]'
"""
