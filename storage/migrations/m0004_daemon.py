"""Source locks and the daemon registry: who is crawling what, and which daemon is running."""

# A lock row exists while a process crawls the source. `pid` + `host` say who holds it; a
# holder that died (pid gone on this host) or stopped refreshing `heartbeat` loses it to the
# next process that asks. `daemons` keeps one row per daemon start; `stopped_at` is set when it
# exits (or when a later daemon finds it dead).
SQL = """
        CREATE TABLE source_locks (
            source_id TEXT PRIMARY KEY,
            pid INTEGER NOT NULL,
            host TEXT NOT NULL,
            holder TEXT NOT NULL,
            run_id INTEGER REFERENCES runs(id),
            acquired_at TEXT NOT NULL,
            heartbeat TEXT NOT NULL
        );
        CREATE TABLE daemons (
            id INTEGER PRIMARY KEY,
            pid INTEGER NOT NULL,
            host TEXT NOT NULL,
            started_at TEXT NOT NULL,
            heartbeat TEXT NOT NULL,
            watchlist TEXT NOT NULL,
            stopped_at TEXT
        );
        CREATE INDEX daemons_running ON daemons(stopped_at)
        """
