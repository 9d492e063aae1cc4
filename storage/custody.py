"""The custody log: one entry per thing that happened to the evidence, each hash-chained to the one before.

An entry's `entry_sha256` is the SHA-256 of its canonical JSON (`entry_digest`): id, time,
kind, snapshot id, subject and the previous entry's hash. Entries are only ever appended, in
the transaction of what they record, so the chain has no gap a crash could leave.

Entry kinds and their `subject` (JSON):
  snapshot         a fetch that made a snapshot: url, final_url, fetched_at, http_status, body_sha256, text_sha256
  warc_record      the snapshot's response record: warc_file, offset, length, body_sha256
  wayback_capture  a confirmed Wayback capture: url, wayback_url, wayback_timestamp, capture_kind
  export           an evidence package written: package, datapackage_sha256, snapshot_ids, event_ids
  review           events marked reviewed or not (workbench, `docwatch review`): event_ids, reviewed, at
  tag              an event's tags and note replaced: event_id, tags, at, note_sha256 (the note's, not its text)
  import           a snapshot of a capture docwatch did not fetch (backfill, WARC import): the
                   snapshot fields plus origin (wayback, warc-import) and origin_ref (where it was read)
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from storage.connection import Database
from storage.database import insert_row, utcnow
from storage.transactions import transaction

GENESIS = "0" * 64  # the `prev_sha256` of the first entry
KINDS = ("snapshot", "warc_record", "wayback_capture", "export", "import", "review", "tag")


def canonical_json(value: object) -> bytes:
    """The one spelling of a JSON value that is hashed: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def entry_digest(entry: dict) -> str:
    """The SHA-256 an entry must carry, from its fields (a package's copy is checked the same way)."""
    fields = {key: entry[key] for key in ("id", "recorded_at", "kind", "snapshot_id", "subject", "prev_sha256")}
    return hashlib.sha256(canonical_json(fields)).hexdigest()


def append(db: Database, kind: str, subject: dict, snapshot_id: int | None = None) -> dict:
    """Append one entry, inside the caller's transaction when there is one (so it is kept
    exactly when what it records is); returns the entry."""
    if kind not in KINDS:
        raise ValueError(f"custody entry kind must be one of {', '.join(KINDS)}, got {kind!r}")
    with transaction(db):
        last = db.execute("SELECT id, entry_sha256 FROM custody_log ORDER BY id DESC LIMIT 1").fetchone()
        entry = {"id": (last[0] + 1) if last else 1, "recorded_at": utcnow(), "kind": kind,
                 "snapshot_id": snapshot_id, "subject": subject, "prev_sha256": last[1] if last else GENESIS}
        entry["entry_sha256"] = entry_digest(entry)
        insert_row(db, "custody_log", {**entry, "subject": canonical_json(subject).decode("utf-8")})
    return entry


def entries(db: Database, snapshot_ids: list[int] | None = None) -> list[dict]:
    """Every entry in order, or those about the given snapshots."""
    where, params = "", []
    if snapshot_ids is not None:
        where = f"WHERE snapshot_id IN ({', '.join('?' * len(snapshot_ids))})"
        params = list(snapshot_ids)
    rows = db.query(f"SELECT * FROM custody_log {where} ORDER BY id", params)
    return [{**row, "subject": json.loads(row["subject"])} for row in rows]


def head(db: Database) -> dict | None:
    """The newest entry's id, time and hash: what an export names as the chain's head."""
    row = db.execute("SELECT id, recorded_at, entry_sha256 FROM custody_log ORDER BY id DESC LIMIT 1").fetchone()
    return {"id": row[0], "recorded_at": row[1], "entry_sha256": row[2]} if row else None


@dataclass(frozen=True)
class ChainReport:
    entries: int
    problems: list[str]
    snapshots_without_entry: int  # stored before the database had a custody log (migration 22)


def verify_chain(db: Database) -> ChainReport:
    """Walk the whole chain: ids consecutive from 1, each hash recomputed, each link to the one before."""
    problems, previous, count = [], GENESIS, 0
    for count, entry in enumerate(entries(db), start=1):
        if entry["id"] != count:
            problems.append(f"entry {entry['id']}: expected entry {count} here (an entry was removed or renumbered)")
        if entry["prev_sha256"] != previous:
            problems.append(f"entry {entry['id']}: prev_sha256 {entry['prev_sha256'][:16]}… does not match the"
                            f" entry before it ({previous[:16]}…)")
        if entry_digest(entry) != entry["entry_sha256"]:
            problems.append(f"entry {entry['id']} ({entry['kind']}): its fields no longer hash to its entry_sha256"
                            " (it was edited)")
        previous = entry["entry_sha256"]
    unlogged = db.execute(
        "SELECT count(*) FROM snapshots WHERE id NOT IN"
        " (SELECT snapshot_id FROM custody_log WHERE kind IN ('snapshot', 'import') AND snapshot_id IS NOT NULL)"
    ).fetchone()[0]
    return ChainReport(entries=count, problems=problems, snapshots_without_entry=unlogged)
