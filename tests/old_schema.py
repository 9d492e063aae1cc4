"""A database as an earlier version of docwatch left it: the migrations before one, applied."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlite_utils

from storage.migrations import MIGRATIONS


def database_before(path: Path, version: int) -> sqlite_utils.Database:
    """A new SQLite file at `path` with every migration numbered below `version` (open: the
    caller adds the rows that version would have written, then closes it)."""
    db = sqlite_utils.Database(sqlite3.connect(path, isolation_level=None))
    db.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL,"
               " applied_at TEXT NOT NULL)")
    for number, description, sql in MIGRATIONS:
        if number < version:
            for statement in filter(str.strip, sql.split(";")):
                db.execute(statement)
            db.execute("INSERT INTO schema_migrations VALUES (?, ?, 'then')", [number, description])
    return db
