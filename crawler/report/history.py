"""What the digest commands write: the record of digests made (for `--since last`) and the
review marks on events (for `--unreviewed`)."""

from __future__ import annotations

from collections.abc import Sequence

import sqlite_utils

from storage import transaction


def record_digest(
    db: sqlite_utils.Database, generated_at: str, since: str | None, digest_format: str, destination: str,
    event_count: int, through_event_id: int,
) -> None:
    """Note a digest that was delivered, so the next `--since last` to the same place starts here."""
    with transaction(db):
        db.execute(
            "INSERT INTO digests (generated_at, since, format, destination, event_count, through_event_id)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [generated_at, since, digest_format, destination, event_count, through_event_id],
        )


def previous_digest(db: sqlite_utils.Database, destination: str) -> tuple[str, int] | None:
    """(generated_at, through_event_id) of the last digest to ``destination``; None when there was none."""
    return db.execute(
        "SELECT generated_at, through_event_id FROM digests WHERE destination = ? ORDER BY id DESC LIMIT 1",
        [destination],
    ).fetchone()


def mark_reviewed(db: sqlite_utils.Database, event_ids: Sequence[int], reviewed_at: str) -> tuple[int, list[int]]:
    """Mark events reviewed. Returns (how many were newly marked, ids that do not exist); marks
    nothing when any id is unknown, so a typo never half-applies."""
    with transaction(db):
        known = {row[0] for row in db.execute(
            f"SELECT id FROM events WHERE id IN ({', '.join('?' * len(event_ids))})", list(event_ids))}
        unknown = sorted(set(event_ids) - known)
        if unknown:
            return 0, unknown
        cursor = db.execute(
            f"UPDATE events SET reviewed_at = ? WHERE reviewed_at IS NULL AND id IN ({', '.join('?' * len(event_ids))})",
            [reviewed_at, *event_ids],
        )
        return cursor.rowcount, []


def mark_all_reviewed(db: sqlite_utils.Database, since: str | None, reviewed_at: str) -> int:
    """Mark every unreviewed event (detected at or after ``since``) reviewed; returns how many."""
    with transaction(db):
        return db.execute(
            "UPDATE events SET reviewed_at = ? WHERE reviewed_at IS NULL AND (? IS NULL OR detected_at >= ?)",
            [reviewed_at, since, since],
        ).rowcount
