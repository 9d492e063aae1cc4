"""The database handle every storage function takes: an SQLite connection with the few
conveniences docwatch uses (statements, rows as dicts, nested all-or-nothing blocks).

It stands in for sqlite-utils' Database, of which docwatch used only these: importing sqlite-utils
(its table machinery, dateutil, pluggy) was ≈ 50 CPU ms, a quarter of every command's start-up.
Anything else of sqlite-utils' API (tests build rows with `db["table"].insert(...)`) is handed to
a sqlite-utils Database on the same connection, imported on first use.
"""

from __future__ import annotations

import contextlib
import itertools
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

_savepoints = itertools.count(1)


class Database:
    """`conn`, the connection, and what storage functions call on it."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._sqlite_utils_db = None  # made when something asks for more of sqlite-utils than this has
        conn.execute("PRAGMA recursive_triggers = on")  # as sqlite-utils set it: triggers behave as they did

    def execute(self, sql: str, parameters: Sequence | dict[str, Any] | None = None) -> sqlite3.Cursor:
        return self.conn.execute(sql) if parameters is None else self.conn.execute(sql, parameters)

    def query(self, sql: str, parameters: Sequence | dict[str, Any] | None = None) -> Iterator[dict]:
        """The rows of a statement as dicts; a name that comes twice is kept as name, name_2, …
        A statement that returns no rows is a mistake here (ValueError), found once it has run:
        writes go through execute()."""
        cursor = self.execute(sql, parameters)
        if cursor.description is None:
            raise ValueError("query() is for statements that return rows (this one has run): use execute()")
        keys = unique_names([column[0] for column in cursor.description])
        return (dict(zip(keys, row)) for row in cursor)

    def close(self) -> None:
        self.conn.close()

    @contextlib.contextmanager
    def atomic(self) -> Iterator[Database]:
        """All or nothing, as a savepoint: inside an open transaction only this block is undone
        on an error; outside one, the savepoint is the transaction (storage.transactions opens
        the outer ones, taking the write lock first)."""
        savepoint = f"docwatch_{next(_savepoints)}"
        self.conn.execute(f"SAVEPOINT {savepoint}")
        try:
            yield self
        except BaseException:
            if self.conn.in_transaction:  # an error (a RAISE(ROLLBACK) trigger) may have ended it already
                self.conn.execute(f"ROLLBACK TO SAVEPOINT {savepoint}")
                self.conn.execute(f"RELEASE SAVEPOINT {savepoint}")
            raise
        self.conn.execute(f"RELEASE SAVEPOINT {savepoint}")

    def _sqlite_utils(self):
        if self._sqlite_utils_db is None:
            import sqlite_utils

            self._sqlite_utils_db = sqlite_utils.Database(self.conn, recursive_triggers=False, execute_plugins=False)
        return self._sqlite_utils_db

    def __getitem__(self, table: str):
        return self._sqlite_utils()[table]

    def __getattr__(self, name: str):
        if name.startswith("__") or name == "_sqlite_utils_db":
            raise AttributeError(name)
        return getattr(self._sqlite_utils(), name)


def unique_names(names: list[str]) -> list[str]:
    """Column names made unique as sqlite-utils makes them: a repeated one gets _2, _3, … (a
    suffix no other column has)."""
    taken = set(names)
    if len(taken) == len(names):
        return names
    seen: set[str] = set()
    unique = []
    for name in names:
        if name in seen:
            suffix, candidate = 2, name
            while candidate in seen or candidate in taken:
                candidate, suffix = f"{name}_{suffix}", suffix + 1
            name = candidate
        seen.add(name)
        unique.append(name)
    return unique
