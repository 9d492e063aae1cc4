"""The SQLite evidence store: schema, migrations and every query the rest of docwatch uses."""

from storage.database import DatabaseUnusable, open_database, out_of_space, since_bound, transaction, utcnow
from storage.migrations import SCHEMA_VERSION

__all__ = ["DatabaseUnusable", "open_database", "out_of_space", "since_bound", "transaction", "utcnow", "SCHEMA_VERSION"]
