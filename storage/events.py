"""Writes of change detection: events, the keyword-hit ledger and its flags, figures, listings.

Called inside the transaction that stores the snapshot, so a page's snapshot, its event and
its flags are written together or not at all.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, Collection, Iterable

import sqlite_utils

from storage.database import insert_row


def insert_event(
    db: sqlite_utils.Database, type: str, page: dict, run_id: int | None, detected_at: str, *,
    snapshot_id: int | None = None, previous_snapshot_id: int | None = None, http_status: int | None = None,
    similarity: float | None = None, silent_edit: bool = False, detail: dict[str, Any] | None = None,
) -> int:
    return insert_row(
        db, "events",
        {
            "type": type, "source_id": page["source_id"], "page_id": page["id"], "url": page["url"],
            "run_id": run_id, "detected_at": detected_at, "snapshot_id": snapshot_id,
            "previous_snapshot_id": previous_snapshot_id, "http_status": http_status, "similarity": similarity,
            "silent_edit": int(silent_edit), "detail": json.dumps(detail or {}, ensure_ascii=False),
        },
    )


def update_hit_ledger(
    db: sqlite_utils.Database, page: dict, snapshot_id: int, event_id: int, seen_at: str,
    hits: Iterable, new_hits: Iterable, scrubbed_hits: Iterable,
) -> None:
    """Per page and term: first/last seen, in how many snapshots, how often now; plus one flag
    row per new or scrubbed hit (the only hits a digest shows)."""
    counts = Counter((hit.set, hit.term) for hit in hits)
    db.conn.executemany(
        "INSERT INTO hits (page_id, set_name, term, first_seen, last_seen, occurrences) VALUES (?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (page_id, set_name, term) DO UPDATE SET last_seen = excluded.last_seen,"
        " snapshots_seen = snapshots_seen + 1, occurrences = excluded.occurrences, present = 1",
        [(page["id"], set_name, term, seen_at, seen_at, occurrences) for (set_name, term), occurrences in counts.items()],
    )
    db.conn.executemany(
        "INSERT INTO hit_flags (event_id, page_id, snapshot_id, kind, set_name, term, matched, context, sentence,"
        " detected_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [(event_id, page["id"], snapshot_id, kind, hit.set, hit.term, hit.matched, hit.context, hit.sentence, seen_at)
         for kind, flagged in (("new", new_hits), ("scrubbed", scrubbed_hits)) for hit in flagged],
    )
    for hit in scrubbed_hits:
        db.execute(
            "UPDATE hits SET present = 0, occurrences = 0 WHERE page_id = ? AND set_name = ? AND term = ?",
            [page["id"], hit.set, hit.term],
        )


def hits_seen_again(db: sqlite_utils.Database, page: dict, seen_at: str) -> None:
    """The page was fetched unchanged: every hit still on it was seen at `seen_at`."""
    db.execute("UPDATE hits SET last_seen = ? WHERE page_id = ? AND present = 1", [seen_at, page["id"]])


def update_figures(
    db: sqlite_utils.Database, page: dict, event_id: int, seen_at: str, figures: Iterable, removed: Iterable,
) -> None:
    """One row per figure the page states (`figure_key`: unit and value), whatever terms are near it."""
    db.conn.executemany(
        "INSERT INTO figures (page_id, figure_key, value, unit, text, term, terms, sentence, rate, first_seen,"
        " last_seen, first_event_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (page_id, figure_key) DO UPDATE SET last_seen = excluded.last_seen, present = 1,"
        " text = excluded.text, term = excluded.term, terms = excluded.terms, sentence = excluded.sentence,"
        " rate = excluded.rate",
        [(page["id"], figure_key(figure), figure.value, figure.unit, figure.text, figure.term,
          json.dumps(figure.terms, ensure_ascii=False), figure.sentence, figure.rate, seen_at, seen_at, event_id)
         for figure in figures],
    )
    for figure in removed:
        db.execute("UPDATE figures SET present = 0 WHERE page_id = ? AND figure_key = ?", [page["id"], figure_key(figure)])


def figure_key(figure) -> str:
    unit, value = figure.key
    return f"{unit}|{value}"


def update_listing(db: sqlite_utils.Database, source_id: str, urls: list[str], seen_at: str,
                   shown: Collection[str] = ()) -> list[str]:
    """Record which articles a listing links now, in order; return the ones it stopped linking.

    An article counts as delisted only if an article listed *after* it last time is still
    listed: articles that merely aged off the last page are not news. Nor is one the list
    pages still show (`shown`) beyond the source's `max_items`.
    """
    previous = {
        row["url"]: row["position"]
        for row in db.query(
            "SELECT url, position FROM listing_items WHERE source_id = ? AND delisted_at IS NULL", [source_id]
        )
    }
    listed_now = set(urls)
    for position, url in enumerate(urls):
        db.execute(
            "INSERT INTO listing_items (source_id, url, first_listed, last_listed, position) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (source_id, url) DO UPDATE SET last_listed = excluded.last_listed,"
            " position = excluded.position, delisted_at = NULL",
            [source_id, url, seen_at, seen_at, position],
        )
    still_listed_positions = [pos for url, pos in previous.items() if url in listed_now]
    delisted = [
        url for url, pos in previous.items()
        if url not in listed_now and url not in shown and any(other > pos for other in still_listed_positions)
    ]
    for url in delisted:
        db.execute(
            "UPDATE listing_items SET delisted_at = ? WHERE source_id = ? AND url = ?", [seen_at, source_id, url]
        )
    return delisted
