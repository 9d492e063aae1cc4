"""Writes of change detection: events, the keyword-hit ledger and its flags, figures, listings.

Called inside the transaction that stores the snapshot, so a page's snapshot, its event and
its flags are written together or not at all.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, Collection, Iterable, Sequence

from storage.connection import Database
from storage.database import insert_row

EVENT_TYPES = ("new_page", "new_document", "changed", "removed", "restored", "fetch_error", "delisted", "hidden", "moved")


def insert_event(
    db: Database, type: str, page: dict, run_id: int | None, detected_at: str, *,
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
    db: Database, page: dict, snapshot_id: int, event_id: int, seen_at: str,
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
    flag_hits(db, page, snapshot_id, event_id, seen_at, new_hits, scrubbed_hits)
    for hit in scrubbed_hits:
        db.execute(
            "UPDATE hits SET present = 0, occurrences = 0 WHERE page_id = ? AND set_name = ? AND term = ?",
            [page["id"], hit.set, hit.term],
        )


def flag_hits(db: Database, page: dict, snapshot_id: int, event_id: int, seen_at: str,
              new_hits: Iterable, scrubbed_hits: Iterable) -> None:
    """One flag row per new or scrubbed hit (the only hits a digest shows)."""
    flags = [(event_id, page["id"], snapshot_id, kind, hit.set, hit.term, hit.matched, hit.context, hit.sentence,
              seen_at) for kind, flagged in (("new", new_hits), ("scrubbed", scrubbed_hits)) for hit in flagged]
    if not flags:  # the event's rank stands
        return
    db.conn.executemany(
        "INSERT INTO hit_flags (event_id, page_id, snapshot_id, kind, set_name, term, matched, context, sentence,"
        " detected_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", flags)
    rank_event(db, event_id)


def rank_event(db: Database, event_id: int) -> None:
    """Place the event in the triage order (`event_triage`, read by the workbench's queue) from
    its type, flags and figures as they are now. The writes here that change those call it once
    at their end, when they wrote something; a trigger ranks each event as it is inserted
    (migration 30)."""
    db.execute("INSERT OR REPLACE INTO event_triage (event_id, section, score)"
               " SELECT event_id, section, score FROM event_ranking WHERE event_id = ?", [event_id])


def update_hit_ledger_from_history(
    db: Database, page: dict, snapshot_id: int, event_id: int, seen_at: str,
    hits: Iterable, new_hits: Iterable, scrubbed_hits: Iterable, latest: bool,
) -> None:
    """The ledger learns from a capture placed in the page's past: a term's first and last
    sighting widen to its capture time; whether the page states it now (`present`, how often)
    changes only when the capture is the newest version known (`latest`)."""
    counts = Counter((hit.set, hit.term) for hit in hits)
    db.conn.executemany(
        "INSERT INTO hits (page_id, set_name, term, first_seen, last_seen, occurrences, present)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (page_id, set_name, term) DO UPDATE SET first_seen = min(first_seen, excluded.first_seen),"
        " last_seen = max(last_seen, excluded.last_seen), snapshots_seen = snapshots_seen + 1,"
        " occurrences = CASE WHEN ? THEN excluded.occurrences ELSE occurrences END,"
        " present = CASE WHEN ? THEN 1 ELSE present END",
        [(page["id"], set_name, term, seen_at, seen_at, occurrences if latest else 0, int(latest), latest, latest)
         for (set_name, term), occurrences in counts.items()],
    )
    flag_hits(db, page, snapshot_id, event_id, seen_at, new_hits, scrubbed_hits)
    if latest:
        for hit in scrubbed_hits:
            db.execute("UPDATE hits SET present = 0, occurrences = 0 WHERE page_id = ? AND set_name = ? AND term = ?",
                       [page["id"], hit.set, hit.term])


def update_figures_from_history(
    db: Database, page: dict, event_id: int, seen_at: str, figures: Sequence, removed: Iterable,
    latest: bool,
) -> None:
    """As update_hit_ledger_from_history, for figures: a figure first stated earlier than known
    takes this capture's time and event as its first appearance."""
    db.conn.executemany(
        "INSERT INTO figures (page_id, figure_key, value, unit, text, term, terms, sentence, rate, first_seen,"
        " last_seen, first_event_id, present) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (page_id, figure_key) DO UPDATE SET"
        " first_event_id = CASE WHEN excluded.first_seen < first_seen OR first_event_id IS NULL"
        " THEN excluded.first_event_id"
        " ELSE first_event_id END, first_seen = min(first_seen, excluded.first_seen),"
        " last_seen = max(last_seen, excluded.last_seen), present = CASE WHEN ? THEN 1 ELSE present END",
        [(page["id"], figure_key(figure), figure.value, figure.unit, figure.text, figure.term,
          json.dumps(figure.terms, ensure_ascii=False), figure.sentence, figure.rate, seen_at, seen_at, event_id,
          int(latest), latest)
         for figure in figures],
    )
    if latest:
        for figure in removed:
            db.execute("UPDATE figures SET present = 0 WHERE page_id = ? AND figure_key = ?",
                       [page["id"], figure_key(figure)])
    if figures:  # a figure first stated here counts towards the event's rank (no longer stated: its detail)
        rank_event(db, event_id)


def hits_seen_again(db: Database, page: dict, seen_at: str) -> None:
    """The page was fetched unchanged: every hit still on it was seen at `seen_at`."""
    db.execute("UPDATE hits SET last_seen = ? WHERE page_id = ? AND present = 1", [seen_at, page["id"]])


def update_figures(
    db: Database, page: dict, event_id: int, seen_at: str, figures: Sequence, removed: Iterable,
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
    if figures:  # a figure first stated here counts towards the event's rank (no longer stated: its detail)
        rank_event(db, event_id)


def figure_key(figure) -> str:
    unit, value = figure.key
    return f"{unit}|{value}"


def update_listing(db: Database, source_id: str, urls: list[str], seen_at: str,
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


def delisted_to_recheck(db: Database, source_id: str, since: str) -> list[str]:
    """Articles the listing dropped at or after `since` that are not confirmed removed: the
    crawl fetches them directly, to tell a deleted article from one only hidden from its column."""
    return [row[0] for row in db.execute(
        "SELECT l.url FROM listing_items l LEFT JOIN pages p ON p.url = l.url WHERE l.source_id = ?"
        " AND l.delisted_at >= ? AND coalesce(p.state, '') != 'removed' ORDER BY l.delisted_at, l.url",
        [source_id, since])]


def unconfirmed_delisting(db: Database, page: dict) -> dict | None:
    """When and by which listing the page was dropped, if it was and no `hidden` event said
    since then that it is still online."""
    rows = list(db.query(
        "SELECT l.source_id, l.delisted_at FROM listing_items l WHERE l.url = ? AND l.delisted_at IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM events e WHERE e.page_id = ? AND e.type = 'hidden'"
        " AND e.detected_at >= l.delisted_at) ORDER BY l.delisted_at DESC LIMIT 1",
        [page["url"], page["id"]]))
    return rows[0] if rows else None


def gone_pages_of(db: Database, source_id: str, kind: str, since: str, body_sha256: str | None = None,
                  urls: Collection[str] | None = None) -> list[dict]:
    """The latest version of each page of the source that went since `since`: removed or
    missing, failing, or delisted (or those of `urls`, whatever their state); for a document,
    only those of the same bytes (`body_sha256`). What a new page may have moved from."""
    clauses, params = ["p.source_id = ?", "p.kind = ?"], [source_id, kind]
    if urls is not None:
        clauses.append(f"p.url IN ({', '.join('?' * len(urls))})")
        params += list(urls)
    else:  # each kind of gone by an index (pages_gone, events_type_detected), not every page of the source
        clauses.append("p.id IN (SELECT id FROM pages WHERE source_id = ? AND kind = ?"
                       " AND (state IN ('removed', 'missing') OR error_count > 0) AND coalesce(last_fetched, first_seen) >= ?"
                       " UNION SELECT page_id FROM events WHERE type = 'delisted' AND detected_at >= ?)"
                       " AND coalesce(p.last_fetched, p.first_seen) >= ?")
        params += [source_id, kind, since, since, since]
    if body_sha256 is not None:
        clauses.append("s.body_sha256 = ?")
        params.append(body_sha256)
    return list(db.query(
        "SELECT p.id AS page_id, p.url, s.id, coalesce(s.original_text, s.text) AS original_text, s.published,"
        " s.text_sha256 FROM pages p JOIN snapshots s ON s.id = p.latest_snapshot_id"
        f" WHERE {' AND '.join(clauses)} ORDER BY p.id", params))


def new_pages_of_run(db: Database, source_id: str, run_id: int | None) -> list[dict]:
    """The `new_page` events a run wrote for a source's articles, with their snapshot's text."""
    return list(db.query(
        "SELECT e.id AS event_id, e.page_id, e.url, e.detected_at, s.id AS snapshot_id,"
        " coalesce(s.original_text, s.text) AS original_text, s.published FROM events e"
        " JOIN snapshots s ON s.id = e.snapshot_id WHERE e.source_id = ? AND e.run_id IS ? AND e.type = 'new_page'",
        [source_id, run_id]))


def recast_as_moved(db: Database, event_id: int, moved_from_snapshot: int, detail: dict) -> None:
    """A `new_page` event turns out to be a page that moved: it becomes a `moved` event against
    the old page's last version, and loses the flags it raised as a new page (the caller flags
    what differs)."""
    db.execute("DELETE FROM hit_flags WHERE event_id = ?", [event_id])
    db.execute("UPDATE events SET type = 'moved', previous_snapshot_id = ?, detail = ? WHERE id = ?",
               [moved_from_snapshot, json.dumps(detail, ensure_ascii=False), event_id])
    rank_event(db, event_id)


def figures_not_new(db: Database, event_id: int, figures: Iterable) -> None:
    """Figures an event first recorded that the page stated before it moved: not news of it."""
    for figure in figures:
        db.execute("UPDATE figures SET first_event_id = NULL WHERE first_event_id = ? AND figure_key = ?",
                   [event_id, figure_key(figure)])
    rank_event(db, event_id)


def unknown_events(db: Database, event_ids: Sequence[int]) -> list[int]:
    """The ids among `event_ids` that name no event, in order."""
    known = {event_id for (event_id,) in db.execute(
        "SELECT id FROM events WHERE id IN (SELECT value FROM json_each(?))", [json.dumps(list(event_ids))])}
    return sorted(set(event_ids) - known)
