"""Digests made: when, covering what, in which format, sent where (for `--since last`)."""

# `since` is the start of the period the digest covered (NULL: everything); `destination`
# names where it went (`stdout`, `file:<path>`, `dir:<path>`, `email:<recipients>`), so that
# `--since last` continues from the previous digest to the same place, with the events after
# `through_event_id` (the newest event when it was made: exact, where times are not).
SQL = """
        CREATE TABLE digests (
            id INTEGER PRIMARY KEY,
            generated_at TEXT NOT NULL,
            since TEXT,
            format TEXT NOT NULL,
            destination TEXT NOT NULL,
            event_count INTEGER NOT NULL,
            through_event_id INTEGER NOT NULL
        );
        CREATE INDEX digests_destination ON digests(destination, generated_at)
        """
