"""Opening the database the same way everywhere: WAL, a busy timeout, migrations applied."""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
from datetime import datetime, timezone
from pathlib import Path

from storage.connection import Database
from storage.migrations import migrate
from storage.search import register_fold

# The daemon, a one-off crawl and the CLI share one file; a writer waits this long for another.
BUSY_TIMEOUT_MS = 30_000


class DatabaseUnusable(Exception):
    """The path cannot serve as docwatch's database; the message says why and what to do."""


def open_database(path: str | Path, create: bool = True) -> Database:
    """Open the database at `path`, in WAL mode, migrated to the current schema. A missing file
    is created, unless `create` is false (commands that only read): then it is DatabaseUnusable,
    as is a file that is not a database or that docwatch may not write."""
    path = Path(path)
    if not create and not path.exists():
        raise DatabaseUnusable(f"no database at {path} yet: run `docwatch crawl` first (or give --db)")
    if not _writable(path):
        raise DatabaseUnusable(
            f"the database {path} is read-only: docwatch writes to it and to its folder (the -wal and -shm "
            "files) even to read it; make both writable, or copy the file to a writable folder"
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        register_fold(conn)
        db = Database(conn)
        migrate(db)
    except sqlite3.DatabaseError as error:
        if "not a database" in str(error):
            raise DatabaseUnusable(f"{path} is not a docwatch database (SQLite: {error}): check --db") from None
        raise DatabaseUnusable(f"cannot use the database {path}: {error}") from None
    except OSError as error:
        raise DatabaseUnusable(f"cannot create the database {path}: {error.strerror}: check --db") from None
    except ValueError as error:  # a NUL in the path
        raise DatabaseUnusable(f"cannot use {path!r} as a database path: {error}: check --db") from None
    return db


def open_read_only(path: str | Path) -> Database:
    """A connection that cannot write (the workbench's reads), to a database that
    `open_database` has created and migrated."""
    conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000,
                           check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return Database(conn)


def _writable(path: Path) -> bool:
    """Whether the file (if it exists) and the nearest existing folder above it may be written."""
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return (not path.exists() or os.access(path, os.W_OK)) and os.access(folder, os.W_OK)


SQLITE_FULL = 13  # "database or disk is full"
SPACE_RESERVE_BYTES = 512 * 1024


def out_of_space(error: BaseException) -> bool:
    """Is `error` the file system refusing to take more (a full disk or a quota), from a file
    write or from SQLite? Such a crawl cannot keep anything more: it has to stop."""
    if isinstance(error, OSError):
        return error.errno in (errno.ENOSPC, errno.EDQUOT)
    if isinstance(error, sqlite3.Error):
        return getattr(error, "sqlite_errorcode", None) == SQLITE_FULL or "database or disk is full" in str(error)
    return False


def insert_row(db: Database, table: str, row: dict) -> int:
    """INSERT one row and return its rowid: how every module in storage/ inserts a plain row
    (not sqlite-utils' Table.insert, which reads the schema on every call: see storage/__init__)."""
    columns = ", ".join(row)
    marks = ", ".join("?" * len(row))
    return db.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", list(row.values())).lastrowid


def update_row(db: Database, table: str, row_id: int, changes: dict) -> None:
    """UPDATE the columns in `changes` of the row with this `id` (see insert_row: no schema lookups)."""
    if changes:
        assignments = ", ".join(f"{column} = ?" for column in changes)
        db.execute(f"UPDATE {table} SET {assignments} WHERE id = ?", [*changes.values(), row_id])


def utcnow(moment: datetime | None = None) -> str:
    """How every time is stored (now, or `moment`): ISO 8601 UTC to the millisecond,
    "2026-12-01T11:48:28.123+00:00", so that two things a moment apart keep their order.

    Rows written by earlier versions hold whole seconds, "...:28+00:00". As text these sort
    in time order among millisecond times: "+" sorts before ".", so a whole second reads as
    its ".000". Only the two spellings of one instant differ; see `since_bound`."""
    return (moment or datetime.now(timezone.utc)).astimezone(timezone.utc).isoformat(timespec="milliseconds")


def since_bound(moment: datetime) -> str:
    """A lower bound for `column >= ?` on stored times: a bound on a whole second is spelled
    as a whole second, which both old ("...:28+00:00") and new ("...:28.000+00:00") rows
    of that second compare at or above."""
    return utcnow(moment).replace(".000+", "+")


def describe_write_error(error: BaseException) -> str:
    """A full disk, as a user reads it: the file system's message and the file, or SQLite's."""
    if isinstance(error, OSError) and error.errno is not None:
        where = f" ({error.filename})" if error.filename else ""
        return f"{os.strerror(error.errno)}{where}"
    return f"{error} (SQLite)"


def space_reserve(db_path: str | Path) -> Path:
    return Path(f"{db_path}-reserve")


def keep_space_reserve(db_path: str | Path) -> None:
    """Hold SPACE_RESERVE_BYTES in a file next to the database, to be given up when the disk is
    full (`release_space_reserve`): a crawl can then still record how it ended. On a disk that
    is full already, whatever fits."""
    path = space_reserve(db_path)
    try:
        if path.exists() and path.stat().st_size >= SPACE_RESERVE_BYTES:
            return
        with open(path, "wb") as reserve:
            reserve.write(bytes(SPACE_RESERVE_BYTES))
            reserve.flush()
            os.fsync(reserve.fileno())
    except OSError as error:
        if not out_of_space(error):
            raise


def release_space_reserve(db: Database, db_path: str | Path) -> None:
    """The disk is full: give up the reserve, and fold the write-ahead log into the database,
    which frees the room the log took (the log only restarts after a complete checkpoint)."""
    space_reserve(db_path).unlink(missing_ok=True)
    with contextlib.suppress(sqlite3.Error):
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
