"""The search index over every snapshot (table `snapshot_search`, migration 21), and the query
behind `docwatch search` and the workbench's search page.

The index holds each snapshot's title and text folded as keyword matching folds them
(crawler/compare/normalise.py: traditional to simplified, full-width to half-width, lower
case), so 轉移就業 finds 转移就业. Callers fold the query the same way.

The index is derived data, brought up to date before it is read (`index_new_snapshots`), not
in the crawl's transaction: a trigram index of a page's text costs more CPU than storing the
page, and a crawl's job is the evidence. Snapshots are never deleted or rewritten, and their
ids only grow, so "indexed" is "id up to the highest rowid in the index".
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from storage.connection import Database
from storage.transactions import transaction

TRIGRAM = 3  # the tokenizer's unit: a shorter query is looked for by scanning the index's text


def fold(text: str | None) -> str:
    """The folded form the index holds; also registered as SQL docwatch_fold()."""
    from crawler.compare.normalise import fold_for_matching  # lazily: only a migration and the store use it

    return fold_for_matching(text) if text else ""


def register_fold(conn: sqlite3.Connection) -> None:
    """Give SQLite the fold, for migration 21, which indexes the snapshots already stored."""
    conn.create_function("docwatch_fold", 1, fold, deterministic=True)


INDEX_BATCH = 500  # snapshots indexed per transaction: other writers wait no longer than that takes


def index_new_snapshots(db: Database) -> int:
    """Add every snapshot stored since the index was last brought up to date; returns how many.
    Each batch is one transaction, so an interrupted catch-up keeps what it did."""
    indexed = 0
    while True:
        with transaction(db):
            rows = db.execute(
                "SELECT id, title, coalesce(nullif(original_text, ''), text) FROM snapshots WHERE id > ? ORDER BY id"
                " LIMIT ?", [_last_indexed(db), INDEX_BATCH]).fetchall()
            db.conn.executemany("INSERT INTO snapshot_search (rowid, title, body) VALUES (?, ?, ?)",
                                [(snapshot_id, fold(title), fold(text)) for snapshot_id, title, text in rows])
        indexed += len(rows)
        if len(rows) < INDEX_BATCH:
            return indexed


def _last_indexed(db: Database) -> int:
    row = db.execute("SELECT rowid FROM snapshot_search ORDER BY rowid DESC LIMIT 1").fetchone()
    return row[0] if row else 0


def matching_pages(
    db: Database, folded_query: str, source_ids: Sequence[str] = (), since: str | None = None,
    limit: int = 50, versions_read: int = 5000,
) -> tuple[list[dict], bool]:
    """Pages with a snapshot whose title or text contains `folded_query`, those that no longer
    say it first, then the most recent: per page the first and last matching snapshot, how many
    match of how many, and the page's state and latest snapshot. Reads the newest
    `versions_read` matching snapshots at most; the flag says whether that was all of them.
    The index first takes in the snapshots stored since it was last read, so "none" is said of
    every snapshot stored: `db` must be writable."""
    index_new_snapshots(db)
    clauses, params = [], []
    if len(folded_query) >= TRIGRAM:
        clauses.append("snapshot_search MATCH ?")
        params.append('"' + folded_query.replace('"', '""') + '"')
    else:
        pattern = "%" + folded_query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        clauses.append("(f.body LIKE ? ESCAPE '\\' OR f.title LIKE ? ESCAPE '\\')")
        params += [pattern, pattern]
    if source_ids:
        clauses.append(f"p.source_id IN ({', '.join('?' * len(source_ids))})")
        params += list(source_ids)
    if since:
        clauses.append("s.fetched_at >= ?")
        params.append(since)
    rows = list(db.query(
        "WITH matched AS MATERIALIZED (SELECT s.id, s.page_id, s.fetched_at FROM snapshot_search f"
        " JOIN snapshots s ON s.id = f.rowid JOIN pages p ON p.id = s.page_id"
        f" WHERE {' AND '.join(clauses)} ORDER BY f.rowid DESC LIMIT ?),"
        # first and last by capture time, not id: backfilled history is stored after what it precedes
        " found AS (SELECT id, page_id, fetched_at,"
        " row_number() OVER (PARTITION BY page_id ORDER BY fetched_at, id) AS from_first,"
        " row_number() OVER (PARTITION BY page_id ORDER BY fetched_at DESC, id DESC) AS from_last FROM matched)"
        " SELECT p.id AS page_id, p.url, p.source_id, p.kind, p.state, p.latest_snapshot_id,"
        " coalesce(p.title, p.url) AS title, count(*) AS matching,"
        " max(CASE WHEN found.from_first = 1 THEN found.id END) AS first_id,"
        " max(CASE WHEN found.from_last = 1 THEN found.id END) AS last_id,"
        " (SELECT count(*) FROM snapshots a WHERE a.page_id = p.id) AS snapshots,"
        " max(found.id = p.latest_snapshot_id) AS says_it_now, (SELECT count(*) FROM matched) AS versions_found"
        " FROM found JOIN pages p ON p.id = found.page_id"
        " GROUP BY p.id ORDER BY says_it_now, max(found.fetched_at) DESC, p.id LIMIT ?",
        [*params, versions_read + 1, limit],
    ))
    return rows, not rows or rows[0]["versions_found"] <= versions_read


def snapshot_texts(db: Database, snapshot_ids: Sequence[int]) -> dict[int, dict]:
    """Snapshots' id, fetched_at, title and text in the page's own characters, by id."""
    if not snapshot_ids:
        return {}
    return {row["id"]: row for row in db.query(
        "SELECT id, fetched_at, title, coalesce(nullif(original_text, ''), text, '') AS original_text FROM snapshots"
        f" WHERE id IN ({', '.join('?' * len(snapshot_ids))})", list(snapshot_ids))}
