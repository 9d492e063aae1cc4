"""The review workbench's latency on a large database: 100,000 events and 200,000 snapshots.

Generates the database: 50,000 articles of two versions each (real report sentences from the
corpus text fixtures, a figure revised in the second version: a new_page and a changed event
each, a third of them with hit flags and figures) and 1,000 list pages of 100 versions each (their
text the titles they list; list pages have no events of their own), then
runs the real `docwatch serve` on 127.0.0.1 and times HTTP requests of the triage queue (first
page, a deep page, filtered), an event, a page history and searches (a common term, a phrase of
one page, its traditional spelling, a figure a page no longer states). Prints the median and
95th percentile in milliseconds against the targets (queue and event 150 ms, search 300 ms, p95).

    .venv/bin/python bench/workbench.py [--pages 50000] [--listings 1000] [--requests 40] [--keep DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.corpus import paragraph_for, report_sentences  # noqa: E402
from storage import open_database, transaction  # noqa: E402

TARGETS_MS = {"queue": 150, "event": 150, "page": 150, "search": 300}
SOURCES = 20
BATCH = 5000
VERSIONS = 2  # of an article: new_page, then changed
LISTING_VERSIONS = 100
LISTED = 20  # titles per list page



def insert_pages_and_snapshots(db, pages_rows: list[tuple], snapshot_rows: list[tuple]) -> None:
    """Pages and their snapshots, each snapshot also in the search index (as the store path does)."""
    db.conn.executemany("INSERT INTO pages (id, source_id, url, kind, first_seen, state, latest_snapshot_id, title)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)", pages_rows)
    db.conn.executemany(
        "INSERT INTO snapshots (id, page_id, fetched_at, http_status, final_url, encoding, title, text, original_text,"
        " text_sha256, body_sha256, body_size, body_zlib, body_codec) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        snapshot_rows)
    db.conn.executemany(
        "INSERT INTO snapshot_search (rowid, title, body) VALUES (?, docwatch_fold(?), docwatch_fold(?))",
        [(row[0], row[6], row[8]) for row in snapshot_rows])

def generate(path: Path, pages: int, listings: int) -> dict:
    """Articles with VERSIONS snapshots each (a new_page event for the first, a changed event for
    the other; a third of the events flag hits and state figures) and list pages with
    LISTING_VERSIONS snapshots each. Returns what to ask for."""
    versions = VERSIONS
    sentences = report_sentences()
    rng = random.Random(15)
    db = open_database(path)
    started = time.monotonic()
    with transaction(db):
        db.conn.executemany(
            "INSERT INTO sources (id, url, type, name, tags, added_at, updated_at) VALUES (?, ?, 'listing', ?, ?, 'then', 'then')",
            [(f"source-{n:02d}", f"https://gov{n}.example/", f"来源{n}", json.dumps(["xinjiang" if n % 2 else "tibet"]))
             for n in range(SOURCES)])
    snapshot_id = event_id = 0
    for first in range(0, pages, BATCH):
        pages_rows, snapshot_rows, event_rows, flag_rows, figure_rows = [], [], [], [], []
        for page_id in range(first + 1, min(first + BATCH, pages) + 1):
            source = f"source-{page_id % SOURCES:02d}"
            url = f"https://gov{page_id % SOURCES}.example/xjrst/{page_id:06d}.shtml"
            body = paragraph_for(page_id, sentences)
            previous = None
            for version in range(versions):
                snapshot_id += 1
                event_id += 1
                fetched = f"2026-{1 + version * 6:02d}-{1 + page_id % 28:02d}T08:00:00.000+00:00"
                quota = 10000 + page_id * 7 + version  # revised on every version
                text = f"{body}第{page_id}号通报：全区农村富余劳动力转移就业{quota}人，完成年度目标任务的10{version}%。"
                title = f"第{page_id}号通报 农村富余劳动力转移就业"
                snapshot_rows.append((snapshot_id, page_id, fetched, 200, url, "utf-8", title, text, text,
                                      hashlib.sha256(text.encode()).hexdigest(), "0" * 64, len(text), b"", "zlib"))
                kind = "new_page" if previous is None else "changed"
                detail = {} if previous is None else {
                    "diff": {"changed": [{"old": f"转移就业{quota - 1}人", "new": f"转移就业{quota}人",
                                          "ops": [["equal", "转移就业", "转移就业"], ["replace", str(quota - 1), str(quota)]]}],
                             "added": [], "removed": []},
                    "removed_figures": [{"value": quota - 1, "unit": "人", "text": f"{quota - 1}人", "term": "转移就业"}]}
                event_rows.append((event_id, kind, source, page_id, url, fetched, snapshot_id, previous,
                                   int(version == versions - 1 and page_id % 5 == 0), json.dumps(detail, ensure_ascii=False),
                                   fetched if rng.random() < 0.3 else None))
                if rng.random() < 0.33:
                    flag_rows.append((event_id, page_id, snapshot_id, "new", "labor_transfer", "转移就业", "转移就业",
                                      f"农村富余劳动力转移就业{quota}人", text[-40:], fetched))
                    figure_rows.append((page_id, f"人|{quota}", quota, "人", f"{quota}人", "转移就业", "[\"转移就业\"]",
                                        text[-40:], 100 + version, fetched, fetched, event_id))
                previous = snapshot_id
            pages_rows.append((page_id, source, url, "article", "2026-01-01", "live", snapshot_id, title))
        with transaction(db):
            insert_pages_and_snapshots(db, pages_rows, snapshot_rows)
            db.conn.executemany(
                "INSERT INTO events (id, type, source_id, page_id, url, detected_at, snapshot_id, previous_snapshot_id,"
                " silent_edit, detail, reviewed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", event_rows)
            db.conn.executemany(
                "INSERT INTO hit_flags (event_id, page_id, snapshot_id, kind, set_name, term, matched, context, sentence,"
                " detected_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", flag_rows)
            db.conn.executemany(
                "INSERT INTO figures (page_id, figure_key, value, unit, text, term, terms, sentence, rate, first_seen,"
                " last_seen, first_event_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", figure_rows)
        print(f"  {min(first + BATCH, pages)} articles, {snapshot_id} snapshots, {event_id} events"
              f" ({time.monotonic() - started:.0f} s)", flush=True)
    for first in range(0, listings, BATCH // LISTING_VERSIONS):
        pages_rows, snapshot_rows = [], []
        for listing in range(first, min(first + BATCH // LISTING_VERSIONS, listings)):
            page_id = pages + 1 + listing
            url = f"https://gov{listing % SOURCES}.example/xjrst/index_{listing}.shtml"
            for version in range(LISTING_VERSIONS):
                snapshot_id += 1
                newest = (listing * 37 + version) % pages
                text = "\n".join(f"第{(newest + k) % pages + 1}号通报 农村富余劳动力转移就业 https://gov{listing % SOURCES}.example/"
                                  f"xjrst/{(newest + k) % pages + 1:06d}.shtml" for k in range(LISTED))
                fetched = f"2026-{1 + version // 10:02d}-{1 + version % 28:02d}T06:00:00.000+00:00"
                snapshot_rows.append((snapshot_id, page_id, fetched, 200, url, "utf-8", "工作动态", text, text,
                                      hashlib.sha256(text.encode()).hexdigest(), "0" * 64, len(text), b"", "zlib"))
            pages_rows.append((page_id, f"source-{listing % SOURCES:02d}", url, "listing", "2026-01-01", "live",
                               snapshot_id, "工作动态"))
        with transaction(db):
            insert_pages_and_snapshots(db, pages_rows, snapshot_rows)
    print(f"  {listings} list pages, {snapshot_id} snapshots ({time.monotonic() - started:.0f} s)", flush=True)
    db.close()
    middle = pages // 2
    return {"event_ids": [rng.randrange(1, event_id + 1) for _ in range(200)],
            "urls": [f"https://gov{n % SOURCES}.example/xjrst/{n:06d}.shtml" for n in rng.sample(range(1, pages + 1), 200)],
            "listing_urls": [f"https://gov{n % SOURCES}.example/xjrst/index_{n}.shtml" for n in range(min(listings, 200))],
            "phrase": f"第{middle}号通报", "gone": f"转移就业{10000 + middle * 7}人"}


def timed(base: str, paths: list[str]) -> list[float]:
    times = []
    for path in paths:
        started = time.perf_counter()
        with urllib.request.urlopen(base + path, timeout=60) as answer:
            answer.read()
            assert answer.status == 200, path
        times.append((time.perf_counter() - started) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=50_000)
    parser.add_argument("--listings", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=40, help="requests per row of the table")
    parser.add_argument("--keep", type=Path, help="build (or reuse) the database in this folder")
    options = parser.parse_args()
    folder = options.keep or Path(tempfile.mkdtemp(prefix="docwatch-workbench-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    db_path = folder / "docwatch.db"
    asks_path = folder / "asks.json"
    if not (db_path.exists() and asks_path.exists()):
        db_path.unlink(missing_ok=True)
        print(f"Generating {options.pages} articles and {options.listings} list pages in {db_path} …", flush=True)
        asks_path.write_text(json.dumps(generate(db_path, options.pages, options.listings), ensure_ascii=False))
    asks = json.loads(asks_path.read_text())
    server = subprocess.Popen([sys.executable, "-m", "crawler", "--db", str(db_path), "serve", "--port", "0"],
                              stdout=subprocess.PIPE, text=True, env={**os.environ})
    try:
        base = re.search(r"http://[^/\s]+", server.stdout.readline()).group()
        n = options.requests
        quote = urllib.parse.quote
        rows = [
            ("queue", "queue, first page", ["/"] * n),
            ("queue", "queue, page 200", ["/?page=200"] * n),
            ("queue", "queue, one source, new figures", ["/?source=source-07&set=labor_transfer"] * n),
            ("queue", "queue, reviewed and unreviewed", ["/?reviewed=all"] * n),
            ("event", "an event", [f"/events/{i}" for i in asks["event_ids"][:n]]),
            ("page", "an article's history", [f"/pages?url={quote(u)}" for u in asks["urls"][:n]]),
            ("page", f"a list page's history ({LISTING_VERSIONS} versions)",
             [f"/pages?url={quote(u)}" for u in asks["listing_urls"][:n]]),
            ("search", f"search {asks['phrase']} (one page)", [f"/search?q={quote(asks['phrase'])}"] * n),
            ("search", f"search {asks['phrase'].replace('号', '號').replace('报', '報')} (traditional)", [f"/search?q={quote(asks['phrase'].replace('号', '號').replace('报', '報'))}"] * n),
            ("search", f"search {asks['gone']} (no longer stated)", [f"/search?q={quote(asks['gone'])}"] * n),
            ("search", "search 转移就业 (every page: first 50)", [f"/search?q={quote('转移就业')}"] * n),
        ]
        timed(base, ["/", "/search?q=x"])  # warm the file cache and the fold table
        events = open_database(db_path).execute("SELECT count(*), (SELECT count(*) FROM snapshots) FROM events").fetchone()
        print(f"\n{events[0]:,} events, {events[1]:,} snapshots, {db_path.stat().st_size / 2**20:,.0f} MiB;"
              f" load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")
        print("| request | median ms | p95 ms | target p95 ms |\n|---|---|---|---|")
        for kind, label, paths in rows:
            times = sorted(timed(base, paths))
            p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
            verdict = "" if p95 <= TARGETS_MS[kind] else " (over)"
            print(f"| {label} | {statistics.median(times):.0f} | {p95:.0f} | {TARGETS_MS[kind]}{verdict} |", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
