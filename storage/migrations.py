"""Schema changes, in order. A migration runs once, inside one transaction, and is recorded.

Never edit a migration that has shipped: add a new one.
"""

from __future__ import annotations

import sqlite_utils

MIGRATIONS: list[tuple[int, str, str]] = [
    (
        1,
        "sources, pages, snapshots, fetches, runs",
        """
        CREATE TABLE sources (
            id TEXT PRIMARY KEY,
            url TEXT NOT NULL,
            type TEXT NOT NULL,
            name TEXT,
            tags TEXT NOT NULL DEFAULT '[]',
            added_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            trigger TEXT NOT NULL,
            pid INTEGER NOT NULL,
            status TEXT NOT NULL,
            sources TEXT NOT NULL DEFAULT '[]',
            pages_fetched INTEGER NOT NULL DEFAULT 0,
            pages_new INTEGER NOT NULL DEFAULT 0,
            pages_changed INTEGER NOT NULL DEFAULT 0,
            pages_unchanged INTEGER NOT NULL DEFAULT 0,
            pages_failed INTEGER NOT NULL DEFAULT 0,
            error TEXT
        );
        CREATE TABLE pages (
            id INTEGER PRIMARY KEY,
            source_id TEXT NOT NULL REFERENCES sources(id),
            url TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            first_seen TEXT NOT NULL,
            last_fetched TEXT,
            last_status INTEGER,
            last_outcome TEXT,
            latest_snapshot_id INTEGER,
            title TEXT,
            published TEXT
        );
        CREATE INDEX pages_source ON pages(source_id);
        CREATE TABLE snapshots (
            id INTEGER PRIMARY KEY,
            page_id INTEGER NOT NULL REFERENCES pages(id),
            run_id INTEGER REFERENCES runs(id),
            fetched_at TEXT NOT NULL,
            http_status INTEGER NOT NULL,
            final_url TEXT NOT NULL,
            content_type TEXT,
            encoding TEXT NOT NULL,
            title TEXT NOT NULL,
            published TEXT,
            text TEXT NOT NULL,
            text_sha256 TEXT NOT NULL,
            body_sha256 TEXT NOT NULL,
            body_size INTEGER NOT NULL,
            body_zlib BLOB NOT NULL,
            links TEXT NOT NULL DEFAULT '[]',
            attachments TEXT NOT NULL DEFAULT '[]'
        );
        CREATE INDEX snapshots_page ON snapshots(page_id, id);
        CREATE TABLE fetches (
            id INTEGER PRIMARY KEY,
            run_id INTEGER REFERENCES runs(id),
            source_id TEXT NOT NULL,
            page_id INTEGER REFERENCES pages(id),
            url TEXT NOT NULL,
            kind TEXT NOT NULL,
            fetched_at TEXT NOT NULL,
            http_status INTEGER,
            elapsed_ms INTEGER,
            size INTEGER,
            outcome TEXT NOT NULL,
            error TEXT,
            snapshot_id INTEGER REFERENCES snapshots(id)
        );
        CREATE INDEX fetches_page ON fetches(page_id, id);
        CREATE INDEX fetches_run ON fetches(run_id);
        """,
    ),
]

SCHEMA_VERSION = MIGRATIONS[-1][0]


def migrate(db: sqlite_utils.Database) -> None:
    """Apply every migration the database has not seen, each in its own transaction."""
    db.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        "version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    for version, description, sql in MIGRATIONS:
        db.conn.execute("BEGIN IMMEDIATE")
        try:
            applied = db.execute(
                "SELECT 1 FROM schema_migrations WHERE version = ?", [version]
            ).fetchone()
            if not applied:
                for statement in filter(str.strip, sql.split(";")):
                    db.conn.execute(statement)
                db.conn.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, datetime('now'))",
                    [version, description],
                )
        except BaseException:
            db.conn.execute("ROLLBACK")
            raise
        db.conn.execute("COMMIT")
