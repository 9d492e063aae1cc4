"""Read-only queries behind `docwatch hits`, `figures`, `events` and `diff`.

Filters are optional and combine with AND: ``since`` is an ISO UTC timestamp compared with the
stored ones (same format, so string order is time order), ``source_ids`` empty means every
source. Rows come back oldest first, as plain dicts ready for JSON.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from storage.connection import Database
from storage.queries import ORIGINAL_TEXT


class NotFound(LookupError):
    """What the user asked for is not in the database; the message says what to try instead."""


def known_source_ids(db: Database) -> list[str]:
    return [row[0] for row in db.execute("SELECT id FROM sources ORDER BY id")]


def sources(db: Database) -> list[dict]:
    """Every source docwatch has watched (id, url, name, tags as a JSON list), by id."""
    return list(db.query("SELECT id, url, name, tags FROM sources ORDER BY id"))


def tags_in_use(db: Database) -> set[str]:
    """Every tag some source has."""
    return {tag for (tags_json,) in db.execute("SELECT tags FROM sources") for tag in json.loads(tags_json or "[]")}


def _filters(since_column: str, since: str | None, source_column: str, source_ids: Sequence[str]) -> tuple[list[str], list]:
    clauses, params = [], []
    if since:
        clauses.append(f"{since_column} >= ?")
        params.append(since)
    if source_ids:
        clauses.append(f"{source_column} IN ({', '.join('?' * len(source_ids))})")
        params += list(source_ids)
    return clauses, params


# Whether an event (`e`) is history found by backfill or import: evidence of an earlier time, not news.
HISTORICAL = "coalesce(json_extract(e.detail, '$.historical'), 0)"


def _historical(clauses: list[str], params: list, historical: bool | None) -> None:
    """Only history (True), only what docwatch saw itself (False), or both (None)."""
    if historical is not None:
        clauses.append(f"{HISTORICAL} = ?")
        params.append(int(historical))


def _where(clauses: list[str]) -> str:
    return f"WHERE {' AND '.join(clauses)}" if clauses else ""


def events(
    db: Database, since: str | None = None, types: Sequence[str] = (), source_ids: Sequence[str] = (),
    historical: bool | None = None,
) -> list[dict]:
    """Change events with their page's title; ``detail`` (diff or reason) decoded from JSON."""
    clauses, params = _filters("e.detected_at", since, "e.source_id", source_ids)
    _historical(clauses, params, historical)
    if types:
        clauses.append(f"e.type IN ({', '.join('?' * len(types))})")
        params += list(types)
    rows = db.query(
        "SELECT e.id, e.type, e.source_id, e.url, p.title, e.detected_at, e.run_id, e.http_status,"
        " e.snapshot_id, e.previous_snapshot_id, e.similarity, e.silent_edit, e.detail"
        f" FROM events e JOIN pages p ON p.id = e.page_id {_where(clauses)} ORDER BY {id_order('e', since)}",
        params,
    )
    return [{**row, "silent_edit": bool(row["silent_edit"]), "detail": json.loads(row["detail"])} for row in rows]


def id_order(alias: str, since: str | None) -> str:
    """ORDER BY for rows in id order (events, hit flags). With a `since`, `+alias.id`: without
    the unary plus SQLite reads every row in id order to spare itself a sort, rather than the
    few since then through the time index (5 s against 10 ms on a million events)."""
    return f"+{alias}.id" if since else f"{alias}.id"


def hit_flags(
    db: Database,
    since: str | None = None,
    source_ids: Sequence[str] = (),
    term: str | None = None,
    new_only: bool = False,
    historical: bool | None = None,
) -> list[dict]:
    """Flagged keyword hits (``new`` and ``scrubbed``); ``term`` is a watchlist term (or regex
    pattern) as the output shows it, English case-insensitively."""
    clauses, params = _filters("f.detected_at", since, "p.source_id", source_ids)
    if term:
        clauses.append("f.term = ? COLLATE NOCASE")
        params.append(term.strip())
    if new_only:
        clauses.append("f.kind = 'new'")
    _historical(clauses, params, historical)
    return list(
        db.query(
            "SELECT f.id, f.kind, f.set_name, f.term, f.matched, f.context, f.sentence, f.detected_at,"
            f" p.source_id, p.url, p.title, f.event_id, f.snapshot_id, {HISTORICAL} AS historical"
            " FROM hit_flags f JOIN pages p ON p.id = f.page_id JOIN events e ON e.id = f.event_id"
            f" {_where(clauses)} ORDER BY {id_order('f', since)}",
            params,
        )
    )


def figures(db: Database, since: str | None = None, source_ids: Sequence[str] = (),
            historical: bool | None = None) -> list[dict]:
    """Figures first seen since ``since``, one per figure a page states, with every term near it
    (``terms``, nearest first). ``new`` is true for a figure that appeared in a later version of
    a page (a changed quota), false for one the page stated when first captured. ``present`` is
    false once the page no longer states it. ``read_by_ocr`` is true for a figure read from a
    scan: to be checked against the image."""
    clauses, params = _filters("g.first_seen", since, "p.source_id", source_ids)
    _historical(clauses, params, historical)
    rows = db.query(
        "SELECT g.id, g.value, g.unit, g.terms, g.rate, g.text, g.sentence, g.first_seen, g.last_seen,"
        f" {HISTORICAL} AS historical,"
        " (e.type IS NOT NULL AND e.type NOT IN ('new_page', 'new_document')) AS new, g.present, p.source_id, p.url, p.title,"
        " g.first_event_id, coalesce(s.text_origin = 'ocr', 0) AS read_by_ocr"
        " FROM figures g JOIN pages p ON p.id = g.page_id LEFT JOIN events e ON e.id = g.first_event_id"
        " LEFT JOIN snapshots s ON s.id = e.snapshot_id"
        f" {_where(clauses)} ORDER BY g.first_seen, g.id",
        params,
    )
    return [{**row, "terms": json.loads(row["terms"]), "new": bool(row["new"]), "present": bool(row["present"]),
             "historical": bool(row["historical"]),
             "read_by_ocr": bool(row["read_by_ocr"])} for row in rows]


def snapshots_to_compare(
    db: Database, url: str, from_id: int | None = None, to_id: int | None = None
) -> tuple[dict, dict]:
    """The two snapshots `docwatch diff` compares: by default the page's last two; ``to_id``
    alone compares it with the snapshot before it, ``from_id`` alone with the latest."""
    page = db.execute("SELECT id FROM pages WHERE url = ?", [url]).fetchone()
    if page is None:
        raise NotFound(f"no page with URL {url} in the database. `docwatch pages` lists the known URLs.")
    # The ids first, the two texts after: a page edited a thousand times reads two texts, not all.
    ids = [row[0] for row in db.execute("SELECT id FROM snapshots WHERE page_id = ? ORDER BY id", [page[0]])]
    for option, snapshot_id in (("--from", from_id), ("--to", to_id)):
        if snapshot_id is not None and snapshot_id not in ids:
            raise NotFound(_not_this_pages_snapshot(db, option, snapshot_id, url))
    listing = f"`docwatch snapshots {url}` lists them."
    if len(ids) < 2:
        raise NotFound(
            f"{url} has {len(ids)} snapshot(s), nothing to compare: a snapshot is stored only when"
            f" the text changes. {listing}"
        )
    if to_id is None:
        to_id = ids[-1]
        if from_id == to_id:
            raise NotFound(f"--from {from_id} is the latest snapshot of {url}, there is no newer one. {listing}")
    if from_id is None:
        if to_id == ids[0]:
            raise NotFound(f"--to {to_id} is the first snapshot of {url}, there is no older one. {listing}")
        from_id = ids[ids.index(to_id) - 1]
    by_id = {
        snapshot["id"]: snapshot
        for snapshot in db.query(
            f"SELECT s.id, s.page_id, s.fetched_at, s.title, s.published, {ORIGINAL_TEXT} FROM snapshots s"
            " WHERE s.id IN (?, ?)",
            [from_id, to_id],
        )
    }
    return by_id[from_id], by_id[to_id]


def _not_this_pages_snapshot(db: Database, option: str, snapshot_id: int, url: str) -> str:
    owner = db.execute(
        "SELECT p.url FROM snapshots s JOIN pages p ON p.id = s.page_id WHERE s.id = ?", [snapshot_id]
    ).fetchone()
    hint = f"`docwatch snapshots {url}` lists this page's snapshots."
    if owner is None:
        return f"{option} {snapshot_id}: no snapshot with that id. {hint}"
    return f"{option} {snapshot_id} is a snapshot of another page ({owner[0]}), not of {url}. {hint}"
