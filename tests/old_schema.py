"""A database as an earlier version of docwatch left it, for the tests of a migration."""

import sqlite3

from storage.migrations import MIGRATIONS


def schema_before(connection: sqlite3.Connection, version: int) -> None:
    """Apply the migrations before `version` and record them, as that earlier version did."""
    connection.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, description TEXT NOT NULL,"
                       " applied_at TEXT NOT NULL)")
    for number, description, sql in MIGRATIONS:
        if number < version:
            connection.executescript(sql)
            connection.execute("INSERT INTO schema_migrations VALUES (?, ?, 'then')", [number, description])
