"""The queries behind `events --since`, `hits --since`, `figures --since`, `digest --since` and
`status` read what they need through indexes, never every row of a big table: on a database of
two years (bench/bigdb.py) a full scan turned each into seconds or minutes. SQLite plans these
queries the same on an empty database as on a big one (docwatch never runs ANALYZE), so the
plan of each statement the functions run is checked here."""

import re
from datetime import datetime, timedelta, timezone

import pytest

from crawler.report.model import build_digest
from storage import open_database, queries, reports
from storage.database import since_bound, utcnow

BIG_TABLES = ("pages", "snapshots", "events", "fetches", "runs", "hits", "hit_flags", "figures", "archive_requests")


@pytest.fixture
def statements(tmp_path):
    """The database, and the list every statement it runs is added to."""
    db = open_database(tmp_path / "docwatch.db")
    ran: list[str] = []
    db.conn.set_trace_callback(ran.append)
    return db, ran


def full_scans(db, statements: list[str]) -> list[str]:
    scans = []
    for statement in statements:
        if not statement.lstrip().upper().startswith("SELECT"):
            continue
        aliases = {alias or table: table for table, alias in re.findall(
            r"(?:FROM|JOIN)\s+(\w+)(?:\s+(?!WHERE|ON|JOIN|LEFT|ORDER|GROUP|LIMIT)(\w+))?", statement, re.I)}
        for *_, detail in db.conn.execute(f"EXPLAIN QUERY PLAN {statement}"):
            scanned = re.match(r"SCAN (\w+)$", detail)
            if scanned and aliases.get(scanned[1], scanned[1]) in BIG_TABLES:
                scans.append(f"{detail} in: {statement}")
    return scans


def test_the_period_queries_and_status_use_indexes(statements):
    db, ran = statements
    since = since_bound(datetime.now(timezone.utc) - timedelta(days=1))
    reports.events(db, since)
    reports.hit_flags(db, since, new_only=True)
    reports.figures(db, since)
    build_digest(db, since, utcnow())
    queries.last_runs(db)
    queries.last_fetch_errors(db)
    db.conn.set_trace_callback(None)

    assert len(ran) >= 6
    assert full_scans(db, ran) == []
