"""Full-text search over every snapshot's title and text: an FTS5 trigram index of the text folded as keyword matching folds it (simplified characters, half-width forms, lower case), filled for the snapshots already stored."""

# The fold is Python's (crawler/compare/normalise.py), given to SQLite as docwatch_fold() by
# storage/search.py on every connection docwatch opens; snapshots stored later are indexed by
# the next search (storage/search.py: index_new_snapshots; until 2026-12-01, by the store path
# in the transaction that wrote them). The trigram tokenizer finds any substring of three
# characters or more, which is what Chinese text without word breaks needs.
SQL = """
CREATE VIRTUAL TABLE snapshot_search USING fts5(title, body, tokenize = 'trigram');
INSERT INTO snapshot_search (rowid, title, body)
    SELECT id, docwatch_fold(coalesce(title, '')), docwatch_fold(coalesce(nullif(original_text, ''), text, ''))
    FROM snapshots
"""
