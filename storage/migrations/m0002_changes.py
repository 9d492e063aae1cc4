"""Change detection: events, the keyword-hit ledger and its flags, figures, listing membership, page state."""

SQL = """
ALTER TABLE pages ADD COLUMN state TEXT NOT NULL DEFAULT 'live';
ALTER TABLE pages ADD COLUMN gone_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE pages ADD COLUMN error_count INTEGER NOT NULL DEFAULT 0;
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    type TEXT NOT NULL,
    source_id TEXT NOT NULL,
    page_id INTEGER NOT NULL REFERENCES pages(id),
    url TEXT NOT NULL,
    run_id INTEGER REFERENCES runs(id),
    detected_at TEXT NOT NULL,
    snapshot_id INTEGER REFERENCES snapshots(id),
    previous_snapshot_id INTEGER REFERENCES snapshots(id),
    http_status INTEGER,
    similarity REAL,
    silent_edit INTEGER NOT NULL DEFAULT 0,
    detail TEXT NOT NULL DEFAULT '{}',
    reviewed_at TEXT
);
CREATE INDEX events_detected ON events(detected_at);
CREATE INDEX events_page ON events(page_id, id);
CREATE TABLE hits (
    id INTEGER PRIMARY KEY,
    page_id INTEGER NOT NULL REFERENCES pages(id),
    set_name TEXT NOT NULL,
    term TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    snapshots_seen INTEGER NOT NULL DEFAULT 1,
    occurrences INTEGER NOT NULL,
    present INTEGER NOT NULL DEFAULT 1,
    UNIQUE (page_id, set_name, term)
);
CREATE TABLE hit_flags (
    id INTEGER PRIMARY KEY,
    event_id INTEGER NOT NULL REFERENCES events(id),
    page_id INTEGER NOT NULL REFERENCES pages(id),
    snapshot_id INTEGER NOT NULL REFERENCES snapshots(id),
    kind TEXT NOT NULL,
    set_name TEXT NOT NULL,
    term TEXT NOT NULL,
    matched TEXT NOT NULL,
    context TEXT NOT NULL,
    sentence TEXT NOT NULL,
    detected_at TEXT NOT NULL
);
CREATE INDEX hit_flags_detected ON hit_flags(detected_at);
CREATE TABLE figures (
    id INTEGER PRIMARY KEY,
    page_id INTEGER NOT NULL REFERENCES pages(id),
    figure_key TEXT NOT NULL,
    value REAL NOT NULL,
    unit TEXT NOT NULL,
    text TEXT NOT NULL,
    term TEXT NOT NULL,
    sentence TEXT NOT NULL,
    rate REAL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    first_event_id INTEGER REFERENCES events(id),
    present INTEGER NOT NULL DEFAULT 1,
    UNIQUE (page_id, figure_key)
);
CREATE TABLE listing_items (
    source_id TEXT NOT NULL,
    url TEXT NOT NULL,
    first_listed TEXT NOT NULL,
    last_listed TEXT NOT NULL,
    delisted_at TEXT,
    position INTEGER NOT NULL,
    PRIMARY KEY (source_id, url)
);
ALTER TABLE runs ADD COLUMN pages_gone INTEGER NOT NULL DEFAULT 0
"""
