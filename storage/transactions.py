"""The one way docwatch writes several rows together: all of them or none."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from storage.connection import Database


@contextlib.contextmanager
def transaction(db: Database) -> Iterator[Database]:
    """All-or-nothing write: BEGIN IMMEDIATE takes the write lock up front (waiting on
    busy_timeout) so a read-then-write never fails half-way on a lock upgrade."""
    if db.conn.in_transaction:
        with db.atomic():
            yield db
        return
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
        db.conn.execute("COMMIT")
    except BaseException:
        # A COMMIT that failed (a full disk) leaves the transaction open; other errors may have
        # rolled it back already. Either way nothing of it is kept, and the next one starts clean.
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        raise
