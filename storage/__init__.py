"""The SQLite evidence store: schema, migrations and every query the rest of docwatch uses.

No SQL lives outside this package (tests/test_architecture.py checks). One module per table group:
`queries` (sources, runs, pages, snapshots, fetches), `bodies` (how a snapshot's raw body is
kept), `attachments` (documents and the pages that link them), `events` (events, the hit ledger
and its flags, figures, listing items), `archive_queue` (archive requests and snapshot evidence),
`locks` (source locks, the daemon's record), `reports` (the read-only `hits`/`figures`/`events`/
`diff` queries), `digests` (what a digest reads, the digests made, review marks), `search` (the
full-text index, brought up to date before it is read); `database` opens the file,
`connection` is the handle every function takes, `transactions` is the one way to write rows
together, and `migrations` builds the schema.

One way to write rows: parameterised SQL through `db.execute`, with `database.insert_row` and
`update_row` for a plain one-row insert or update by id, and SQL written out where a write has a
condition or an ON CONFLICT. The handle (`connection.Database`) is the SQLite connection with
rows as dicts (`db.query`) and savepoints; sqlite-utils, which it replaced, is imported only by
whoever asks for more (tests inspecting a database): importing it was ≈ 50 ms of every
command's start-up, and its `Table.insert` reads the table's schema on every call, which made a
one-row insert three times slower (318 µs against 103 µs per `fetches` row, measured on this
project's schema) on the crawl's hot path.
"""

from storage.database import DatabaseUnusable, open_database, out_of_space, since_bound, utcnow
from storage.transactions import transaction
from storage.migrations import SCHEMA_VERSION

__all__ = ["DatabaseUnusable", "open_database", "out_of_space", "since_bound", "transaction", "utcnow", "SCHEMA_VERSION"]
