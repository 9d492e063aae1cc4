"""The last checked form of each watchlist, kept as JSON in the cache folder
(`DOCWATCH_CACHE_DIR`, else `$XDG_CACHE_HOME/docwatch`), so that a command does not parse and
check every source again while the file has not changed: for 500 sources that was about 100 ms
of every command's start-up.

An entry is served only for the exact bytes it was made from, by the same code: its key is the
SHA-256 of the watchlist's bytes and of what checking them depends on (see
crawler.config.watchlist), never a modification time. The entry also carries the SHA-256 of its
own payload, so an entry truncated or edited by hand is not served. Anything that does not match
or does not read is ignored, and the watchlist is read and checked in full; only a watchlist that
passed the checks is stored, so a bad one is reported exactly as without the cache. Nothing here
is needed: a cache folder that cannot be written means every command checks the file again.

Format: one line of JSON naming the format, the key and the payload's SHA-256, then the payload
(JSON text, never pickle: reading an entry runs no code).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from crawler.config.settings import cache_dir

FORMAT = "docwatch-watchlist-cache/1"


def entry_path(watchlist_path: str | Path) -> Path:
    """One entry per watchlist file (by its absolute path): a changed file replaces its entry."""
    name = hashlib.sha256(os.fsencode(os.path.abspath(watchlist_path))).hexdigest()[:32]
    return cache_dir() / f"watchlist-{name}.json"


def read_entry(watchlist_path: str | Path, key: str) -> dict | None:
    """The payload stored for `key`, or None: no entry, another key, or an entry that does not check out."""
    try:
        header, _, payload = entry_path(watchlist_path).read_bytes().partition(b"\n")
        stored = json.loads(header)
        if stored != {"format": FORMAT, "key": key, "payload_sha256": hashlib.sha256(payload).hexdigest()}:
            return None
        document = json.loads(payload)
    except (OSError, ValueError):
        return None
    return document if isinstance(document, dict) else None


def write_entry(watchlist_path: str | Path, key: str, document: dict) -> None:
    """Store `document` for `key`, whole or not at all (written aside, then renamed over the
    entry); a folder that cannot be written is left alone."""
    payload = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    header = json.dumps({"format": FORMAT, "key": key, "payload_sha256": hashlib.sha256(payload).hexdigest()})
    path = entry_path(watchlist_path)
    aside = path.with_name(f".{path.name}.{os.getpid()}")  # each process its own: two may write at once
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            with open(aside, "wb") as file:
                file.write(header.encode("ascii") + b"\n" + payload)
            os.replace(aside, path)
        finally:
            aside.unlink(missing_ok=True)
    except OSError:
        pass
