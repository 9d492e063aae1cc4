"""Schema changes, in order. A migration runs once, inside one transaction, and is recorded
in `schema_migrations`.

Each migration is a module `mNNNN_<what>.py` in this package with a docstring (its
description) and `SQL` (statements separated by `;`; a trigger's body keeps its own). Never
edit one that has shipped: add a new module with the next number.
"""

from __future__ import annotations

import contextlib
import importlib
import pkgutil
import sqlite3

from storage.connection import Database


def _load() -> list[tuple[int, str, str]]:
    found = []
    for module in pkgutil.iter_modules(__path__):
        if module.name.startswith("m") and module.name[1:5].isdigit():
            migration = importlib.import_module(f"{__name__}.{module.name}")
            found.append((int(module.name[1:5]), migration.__doc__.strip(), migration.SQL))
    return sorted(found)


MIGRATIONS = _load()
SCHEMA_VERSION = MIGRATIONS[-1][0]


def statements(sql: str) -> list[str]:
    """The statements of a migration's SQL, split at each `;` that ends one (not at those
    inside a CREATE TRIGGER's BEGIN … END)."""
    found, pending = [], ""
    for piece in sql.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n\t;"):
                found.append(pending)
            pending = ""
    if pending.strip(" \n\t;"):
        found.append(pending)
    return found


def migrate(db: Database) -> None:
    """Apply every migration the database has not seen, each in its own transaction; then fold
    the write-ahead log they filled into the database and truncate it. Until the last connection
    closed, a new database was 4 KB and its log 700 KB (an upgrade's log: every page an index
    built), and the space it held was not there for the crawl's reserve on a nearly full disk."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        "version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    applied_versions = {row[0] for row in db.execute("SELECT version FROM schema_migrations")}
    migrated = False
    for version, description, sql in MIGRATIONS:
        if version in applied_versions:
            continue  # the common case: no write lock taken just to open the file
        db.conn.execute("BEGIN IMMEDIATE")
        try:
            applied = db.execute(  # another process may have migrated while we waited
                "SELECT 1 FROM schema_migrations WHERE version = ?", [version]
            ).fetchone()
            if not applied:
                for statement in statements(sql):
                    db.conn.execute(statement)
                db.conn.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, datetime('now'))",
                    [version, description],
                )
        except BaseException:
            db.conn.execute("ROLLBACK")
            raise
        db.conn.execute("COMMIT")
        migrated = True
    if migrated:  # without waiting: with another connection reading, the log is folded when it ends
        timeout = db.execute("PRAGMA busy_timeout").fetchone()[0]
        db.execute("PRAGMA busy_timeout = 0")
        with contextlib.suppress(sqlite3.OperationalError):
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        db.execute(f"PRAGMA busy_timeout = {int(timeout)}")
