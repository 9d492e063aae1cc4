"""Migrations 24 and 25 on a database as the previous version left it: each source's latest
run (what `docwatch status` and the daemon's schedule read) and its latest failed fetch are
the same after the upgrade, and a run started afterwards becomes its source's latest."""


from storage import open_database, queries
from tests.conftest import database_before


def previous_version_db(path):
    old = database_before(path, 24).conn
    for source in ("rst", "tjj"):
        old.execute("INSERT INTO sources (id, url, type, added_at, updated_at) VALUES (?, ?, 'listing', 'then', 'then')",
                    [source, f"http://{source}.example/"])
    for run_id, started, sources in ((1, "2026-11-01T00:00:00+00:00", '["rst", "tjj"]'),
                                     (2, "2026-11-02T00:00:00+00:00", '["rst"]')):
        old.execute("INSERT INTO runs (id, started_at, trigger, pid, status, sources) VALUES (?, ?, 'daemon', 1, 'done', ?)",
                    [run_id, started, sources])
    for run_id, source, url, outcome in ((1, "tjj", "http://tjj.example/a", "failed"),
                                         (1, "tjj", "http://tjj.example/b", "failed"),
                                         (2, "rst", "http://rst.example/a", "new"),
                                         (1, "rst", "http://rst.example/c", "failed")):
        old.execute("INSERT INTO fetches (run_id, source_id, url, kind, fetched_at, outcome, error)"
                    " VALUES (?, ?, ?, 'article', 'then', ?, 'HTTP 500')", [run_id, source, url, outcome])
    old.commit()
    old.close()


def test_each_sources_latest_run_and_failed_fetch_survive_the_upgrade(tmp_path):
    previous_version_db(tmp_path / "old.db")
    db = open_database(tmp_path / "old.db")

    runs = queries.last_runs(db)
    assert {source: run["run_id"] for source, run in runs.items()} == {"rst": 2, "tjj": 1}
    assert (runs["rst"]["pages_new"], runs["tjj"]["pages_failed"]) == (1, 2)
    assert {source: row["url"] for source, row in queries.last_fetch_errors(db).items()} == {
        "rst": "http://rst.example/c", "tjj": "http://tjj.example/b"}

    run_id = queries.start_run(db, "cli", ["tjj"])
    assert queries.last_run_starts(db)["tjj"][0] == run_id
    assert queries.last_run_starts(db)["rst"] == (2, "2026-11-02T00:00:00+00:00")
