"""Which sources each run covered as a table (run_sources: one row per run and source), so that each source's latest run is one index lookup instead of reading every run's JSON list."""

# `runs.sources` stays (the JSON list, as before); start_run writes both in one transaction.
SQL = """
CREATE TABLE run_sources (
    source_id TEXT NOT NULL,
    run_id INTEGER NOT NULL REFERENCES runs(id),
    PRIMARY KEY (source_id, run_id)
) WITHOUT ROWID;
INSERT OR IGNORE INTO run_sources (source_id, run_id) SELECT j.value, r.id FROM runs r, json_each(r.sources) j
"""
