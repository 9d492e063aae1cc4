"""Sources, pages, snapshots, fetches and runs."""

SQL = """
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
        """
