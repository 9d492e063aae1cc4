"""Do the commands stay fast on a database that has run for two years?

Builds a database the shape of two years of a research group's crawls (at --scale 1:
500 sources, 100,000 pages, 200,000 snapshots, 1,000,000 events, 2,000,000 fetches, 50,000
runs, the hits, hit flags, figures, listing items and archive requests to match; times spread
over two years, newest last), through the real schema (open_database runs the migrations) and
one bulk INSERT per table with the columns the store functions fill. Then it times each command
below as the real CLI in a subprocess (median of --repeat runs; the same command on an empty
database is the floor: Python start-up, imports, rendering), times storing one changed page
(store_capture, in this process), and prints the EXPLAIN QUERY PLAN of every distinct query
each command ran, flagging a full SCAN of a big table.

    .venv/bin/python bench/bigdb.py [--scale 1] [--repeat 5] [--db bench/.work-bigdb/big.db] [--reuse]

`--scale 0.1` builds a tenth of it (a quick run, about a minute); `--reuse` keeps a database
built before at the same path and scale.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

# --code DIR: run the commands of another checkout of docwatch (e.g. the version before a fix)
# against the same database; bench/ itself always comes from this one.
CODE = Path(sys.argv[sys.argv.index("--code") + 1]).resolve() if "--code" in sys.argv[:-1] else None
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
if CODE is not None:
    sys.path.insert(0, str(CODE))

from bench.corpus import load_shells, paragraph_for, report_sentences  # noqa: E402
from bench.harness import BENCH_DIR  # noqa: E402
from crawler.config.digest_settings import FORMATS  # noqa: E402
from storage import open_database  # noqa: E402

REPO = BENCH_DIR.parent
CODE_DIR = CODE or REPO  # where the commands run from (`python -m crawler` imports from there)
TARGET_MS = 300
SLOW_MS = 10_000  # a command this slow is run once
TIMEOUT_S = 180  # and one this slow is stopped
BIG_TABLES = ("pages", "snapshots", "events", "fetches", "runs", "hits", "hit_flags", "figures", "listing_items",
              "archive_requests")
TWO_YEARS = timedelta(days=730)
TERMS = (("labor_transfer", "转移就业"), ("labor_transfer", "富余劳动力"), ("labor_transfer", "劳务输出"),
         ("mobilisation", "组织化"), ("mobilisation", "有组织"), ("training", "职业技能培训"))


@dataclasses.dataclass(frozen=True)
class Shape:
    """How many rows of each kind, at scale 1."""

    sources: int = 500
    pages: int = 100_000
    snapshots: int = 200_000
    events: int = 1_000_000
    fetches: int = 2_000_000
    runs: int = 50_000

    def scaled(self, scale: float) -> "Shape":
        return Shape(*(max(10, round(getattr(self, f.name) * scale)) for f in dataclasses.fields(self)))


# ---------------------------------------------------------------------------------------------
# Building the database


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def build(path: Path, shape: Shape, end: datetime) -> None:
    """The database at `path`, migrated by open_database, then filled table by table."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    db = open_database(path)
    conn = db.conn
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA foreign_keys = OFF")  # pages and their snapshots refer to each other; every id is made consistent here
    rng = random.Random(19)
    start = end - TWO_YEARS
    span = TWO_YEARS.total_seconds()

    def moment(fraction: float) -> datetime:
        return start + timedelta(seconds=span * fraction)

    sentences = report_sentences()
    shells = load_shells()
    bodies = [zlib.compress(shell.render(n, paragraph_for(n, sentences))) for n, shell in enumerate(shells)]
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO sources (id, url, type, name, tags, added_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [(f"src-{n:04d}", f"http://www.county{n}.gov.cn/xxgk/c{n}/index.shtml", "listing", f"县{n}人民政府",
          json.dumps(["xinjiang" if n % 2 else "tibet"]), iso(start), iso(start)) for n in range(shape.sources)],
    )
    print("runs ...", file=sys.stderr, flush=True)
    run_times = sorted(rng.random() for _ in range(shape.runs))
    conn.executemany(
        "INSERT INTO runs (id, started_at, finished_at, trigger, pid, status, sources, pages_fetched, pages_new,"
        " pages_changed, pages_unchanged, requests, requests_unaccounted) VALUES (?, ?, ?, 'daemon', 4242, 'ok', ?, 40, 2, 1, 37, 40, 0)",
        [(n + 1, iso(moment(t)), iso(moment(t) + timedelta(seconds=30)),
          json.dumps([f"src-{rng.randrange(shape.sources):04d}"])) for n, t in enumerate(run_times)],
    )

    print("pages and snapshots ...", file=sys.stderr, flush=True)
    # Every page's first snapshot at its first sighting, later versions after it; ids in time order.
    first_seen = [rng.random() * 0.98 for _ in range(shape.pages)]
    versions = [(first_seen[page], page) for page in range(shape.pages)]
    for _ in range(shape.snapshots - shape.pages):
        page = min(int(rng.paretovariate(1.2)) - 1, shape.pages - 1) if rng.random() < 0.3 else rng.randrange(shape.pages)
        versions.append((first_seen[page] + rng.random() * (1 - first_seen[page]), page))
    versions.sort()
    page_source = [page % shape.sources for page in range(shape.pages)]
    page_kind = ["document" if page % 10 == 9 else "article" for page in range(shape.pages)]
    page_url = [f"http://www.county{page_source[page]}.gov.cn/xxgk/c{page_source[page]}/2024/{page:07d}.shtml"
                if page_kind[page] == "article" else
                f"http://www.county{page_source[page]}.gov.cn/uploadfiles/{page:07d}.pdf" for page in range(shape.pages)]
    snapshot_ids: dict[int, list[int]] = {}
    snapshot_times: list[float] = [0.0]
    rows = []
    for snapshot_id, (t, page) in enumerate(versions, start=1):
        snapshot_ids.setdefault(page, []).append(snapshot_id)
        snapshot_times.append(t)
        text = paragraph_for(page * 7 + len(snapshot_ids[page]), sentences) * 3
        archived = rng.random() < 0.8
        stamp = (moment(t) + timedelta(hours=2)).strftime("%Y%m%d%H%M%S")
        rows.append((
            snapshot_id, page + 1, 1 + int(t * (shape.runs - 1)), iso(moment(t)), 200, page_url[page], "text/html",
            "utf-8", f"第{page}号 关于做好农村富余劳动力转移就业工作的通知", "2024-05-01", text, text,
            f"{zlib.crc32(text.encode()):064x}", f"{snapshot_id:064x}", 60_000, bodies[page % len(bodies)], "zlib",
            "[]", "[]", f"docwatch-{int(t * 730):04d}.warc.gz", snapshot_id * 20_000, 18_000,
            f"https://web.archive.org/web/{stamp}/{page_url[page]}" if archived else None, stamp if archived else None,
            "pdf" if page_kind[page] == "document" else None, "text" if page_kind[page] == "document" else None,
        ))
        if len(rows) == 20_000:
            insert_snapshots(conn, rows)
            rows = []
    insert_snapshots(conn, rows)
    conn.executemany(
        "INSERT INTO pages (id, source_id, url, kind, first_seen, last_fetched, last_status, last_outcome,"
        " latest_snapshot_id, title, published, state, last_body_sha256, parent_page_id, attachments)"
        " VALUES (?, ?, ?, ?, ?, ?, 200, 'unchanged', ?, ?, '2024-05-01', ?, ?, ?, '[]')",
        [(page + 1, f"src-{page_source[page]:04d}", page_url[page], page_kind[page], iso(moment(first_seen[page])),
          iso(end - timedelta(hours=rng.randrange(1, 48))), snapshot_ids[page][-1],
          f"第{page}号 关于做好农村富余劳动力转移就业工作的通知", "removed" if page % 50 == 0 else "live",
          f"{snapshot_ids[page][-1]:064x}", page if page_kind[page] == "document" else None)
         for page in range(shape.pages)],
    )

    print("events, hits, figures ...", file=sys.stderr, flush=True)
    # One event per snapshot (new_page / new_document / changed); the rest fetch errors,
    # removals, restorations and delistings at random times.
    happenings = []
    for page, ids in snapshot_ids.items():
        for n, snapshot_id in enumerate(ids):
            kind = ("new_document" if page_kind[page] == "document" else "new_page") if n == 0 else "changed"
            happenings.append((snapshot_times[snapshot_id], kind, page, snapshot_id, ids[n - 1] if n else None))
    others = ("fetch_error",) * 10 + ("removed", "restored", "delisted", "delisted")
    for _ in range(shape.events - len(happenings)):
        happenings.append((rng.random(), others[rng.randrange(len(others))], rng.randrange(shape.pages), None, None))
    happenings.sort(key=lambda h: h[0])
    event_rows, flag_rows, figure_rows, hit_ledger = [], [], [], {}
    for event_id, (t, kind, page, snapshot_id, previous_id) in enumerate(happenings, start=1):
        detail = event_detail(kind, page_url[page], snapshot_id, rng)
        event_rows.append((event_id, kind, f"src-{page_source[page]:04d}", page + 1, page_url[page],
                           1 + int(t * (shape.runs - 1)), iso(moment(t)), snapshot_id, previous_id,
                           500 if kind == "fetch_error" else 200, 0.93 if kind == "changed" else None,
                           int(kind == "changed" and rng.random() < 0.1), json.dumps(detail, ensure_ascii=False),
                           iso(moment(t) + timedelta(days=1)) if rng.random() < 0.5 else None))
        if snapshot_id is not None and rng.random() < 0.6:  # a version with keyword hits
            for set_name, term in rng.sample(TERMS, rng.randrange(1, 4)):
                flag_rows.append((event_id, page + 1, snapshot_id, "new" if rng.random() < 0.9 else "scrubbed",
                                  set_name, term, term, f"……推进{term}工作……", f"全县推进{term}工作，完成年度任务。",
                                  iso(moment(t))))
                key = (page + 1, set_name, term)
                first = hit_ledger.get(key, (iso(moment(t)),))[0]
                hit_ledger[key] = (first, iso(moment(t)))
            for k in range(rng.randrange(0, 4)):
                value = rng.randrange(100, 100_000)
                figure_rows.append((page + 1, f"人|{value}", value, "人", f"{value}人", "转移就业", '["转移就业"]',
                                    f"全年转移就业{value}人，完成率{100 + k}%。", 1.0 + k / 100, iso(moment(t)),
                                    iso(moment(t)), event_id))
        if len(event_rows) == 50_000:
            insert_events(conn, event_rows, flag_rows)
            event_rows, flag_rows = [], []
    insert_events(conn, event_rows, flag_rows)
    conn.executemany(
        "INSERT INTO hits (page_id, set_name, term, first_seen, last_seen, snapshots_seen, occurrences)"
        " VALUES (?, ?, ?, ?, ?, 1, 2)",
        [(*key, first, last) for key, (first, last) in hit_ledger.items()],
    )
    conn.executemany(
        "INSERT OR IGNORE INTO figures (page_id, figure_key, value, unit, text, term, terms, sentence, rate, first_seen,"
        " last_seen, first_event_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        figure_rows,
    )

    print("fetches, archive requests, listings ...", file=sys.stderr, flush=True)
    fetch_times = sorted(rng.random() for _ in range(shape.fetches))
    for chunk in range(0, shape.fetches, 100_000):
        conn.executemany(
            "INSERT INTO fetches (run_id, source_id, page_id, url, kind, fetched_at, http_status, elapsed_ms, size,"
            " outcome, error, snapshot_id, final_url) VALUES (?, ?, ?, ?, 'article', ?, ?, 120, 60000, ?, ?, NULL, ?)",
            [fetch_row(t, shape, page_url, page_source, rng, moment) for t in fetch_times[chunk : chunk + 100_000]],
        )
    conn.executemany(
        "INSERT INTO archive_requests (url, reason, snapshot_id, state, attempts, next_attempt_at, wayback_url,"
        " wayback_timestamp, capture_kind, last_error, created_at, updated_at) VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?)",
        [archive_row(page_url[page], snapshot_id, snapshot_id == ids[0], snapshot_id == ids[-1],
                     snapshot_times[snapshot_id], rng, moment, end)
         for page, ids in snapshot_ids.items() for snapshot_id in ids],
    )
    conn.executemany(
        "INSERT INTO listing_items (source_id, url, first_listed, last_listed, delisted_at, position)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [(f"src-{page_source[page]:04d}", page_url[page], iso(moment(first_seen[page])), iso(end),
          iso(end - timedelta(days=3)) if page % 40 == 0 else None, page // shape.sources % 100)
         for page in range(shape.pages) if page_kind[page] == "article"],
    )
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def insert_snapshots(conn, rows: list[tuple]) -> None:
    conn.executemany(
        "INSERT INTO snapshots (id, page_id, run_id, fetched_at, http_status, final_url, content_type, encoding,"
        " title, published, text, original_text, text_sha256, body_sha256, body_size, body_zlib, body_codec, links,"
        " attachments, warc_file, warc_offset, warc_length, wayback_url, wayback_timestamp, file_type, text_origin)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )


def insert_events(conn, event_rows: list[tuple], flag_rows: list[tuple]) -> None:
    conn.executemany(
        "INSERT INTO events (id, type, source_id, page_id, url, run_id, detected_at, snapshot_id,"
        " previous_snapshot_id, http_status, similarity, silent_edit, detail, reviewed_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        event_rows,
    )
    conn.executemany(
        "INSERT INTO hit_flags (event_id, page_id, snapshot_id, kind, set_name, term, matched, context, sentence,"
        " detected_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        flag_rows,
    )


def event_detail(kind: str, url: str, snapshot_id: int | None, rng: random.Random) -> dict:
    """What the store functions put in events.detail for each type (a diff for `changed`)."""
    if kind == "changed":
        return {"diff": {"added": ["全县组织富余劳动力有序转移就业，累计转移1200人。"], "removed": [],
                         "changed": [{"old": "全年转移就业3000人。", "new": "全年转移就业4000人。",
                                      "ops": [["equal", "全年转移就业", "全年转移就业"], ["replace", "3", "4"],
                                              ["equal", "000人。", "000人。"]]}]}}
    if kind == "fetch_error":
        return {"error": "HTTP 500"}
    if kind == "removed":
        return {"reason": "HTTP 404", "checks": 3, "last_capture": None}
    if kind == "delisted":
        return {"listing_source": "src", "listing_url": url.rsplit("/", 2)[0] + "/index.shtml",
                "listing_snapshot_before": rng.randrange(1, 1000), "listing_snapshot_after": None}
    return {}


def fetch_row(t, shape, page_url, page_source, rng, moment) -> tuple:
    page = rng.randrange(shape.pages)
    failed = rng.random() < 0.03
    return (1 + int(t * (shape.runs - 1)), f"src-{page_source[page]:04d}", page + 1, page_url[page], iso(moment(t)),
            500 if failed else 200, "failed" if failed else "unchanged", "HTTP 500" if failed else None, page_url[page])


def archive_row(url, snapshot_id, first, last, t, rng, moment, end) -> tuple:
    """Most requests done; of the last month's, some failed or waiting for keys, and a page's
    latest version possibly still queued (one open request per URL, as the schema demands)."""
    done = rng.random() < 0.8 or moment(t) < end - timedelta(days=30)
    state = "done" if done else rng.choice(("queued", "failed", "needs_credentials") if last else
                                           ("failed", "needs_credentials"))
    stamp = (moment(t) + timedelta(hours=2)).strftime("%Y%m%d%H%M%S")
    return (url, "new_page" if first else "changed", snapshot_id, state, iso(moment(t)),
            f"https://web.archive.org/web/{stamp}/{url}" if done else None, stamp if done else None,
            "new" if done else None, None if done else "HTTP 429 Too Many Requests", iso(moment(t)), iso(moment(t)))


# ---------------------------------------------------------------------------------------------
# Timing the commands and explaining their queries

# Runs the CLI with every statement SQLite executes written to a file (bound values expanded).
TRACER = """
import sqlite3, sys
trace = open(sys.argv[1], "a", encoding="utf-8", buffering=1)
connect = sqlite3.connect
def traced(*args, **kwargs):
    conn = connect(*args, **kwargs)
    conn.set_trace_callback(lambda statement: trace.write(" ".join(statement.split()) + "\\n"))
    return conn
sqlite3.connect = traced
sys.argv = ["docwatch", *sys.argv[2:]]
from crawler.cli.main import main
main()
"""


def commands(shape: Shape, db: Path) -> list[tuple[str, list[str]]]:
    """The issue's commands, named as a user types them."""
    import sqlite3

    with sqlite3.connect(db) as conn:
        busiest_url, versions = conn.execute(
            "SELECT p.url, count(*) FROM snapshots s JOIN pages p ON p.id = s.page_id WHERE p.kind = 'article'"
            " GROUP BY s.page_id ORDER BY 2 DESC LIMIT 1").fetchone()
        [typical_url] = conn.execute(
            "SELECT p.url FROM pages p WHERE p.kind = 'article' AND p.id > ? AND"
            " (SELECT count(*) FROM snapshots s WHERE s.page_id = p.id) = 2 LIMIT 1", [shape.pages // 2]).fetchone()
    source = f"src-{shape.sources // 2:04d}"
    return [
        ("events --since 1d", ["events", "--since", "1d"]),
        ("hits --new-only --since 7d", ["hits", "--new-only", "--since", "7d"]),
        ("figures --since 7d", ["figures", "--since", "7d"]),
        ("figures", ["figures"]),
        *((f"digest --since 1d --format {name}", ["digest", "--since", "1d", "--format", name]) for name in FORMATS),
        ("status", ["status"]),
        (f"pages --source {source}", ["pages", "--source", source]),
        ("diff URL (a page with 2 versions)", ["diff", typical_url]),
        (f"diff URL (the page with the most versions, {versions:,})", ["diff", busiest_url]),
    ]


def cli(db: Path, watchlist: Path, data_dir: Path) -> list[str]:
    return [sys.executable, "-m", "crawler", "--db", str(db), "--watchlist", str(watchlist), "--data-dir", str(data_dir)]


@dataclasses.dataclass
class Timing:
    wall_ms: float  # median
    cpu_ms: float  # median user + system CPU of the command's process
    output_bytes: int
    note: str = ""
    fastest_wall_ms: float | None = None  # the fastest run: what a busy neighbour on the machine added shows against it


def time_command(base: list[str], args: list[str], repeat: int) -> Timing:
    """`repeat` runs of the command (one if a run takes over SLOW_MS; stopped after TIMEOUT_S):
    median wall and CPU milliseconds, and the output's size (to see it did its work)."""
    walls, cpus, size = [], [], 0
    for _ in range(repeat):
        started = time.perf_counter()
        with tempfile.TemporaryFile() as output, tempfile.TemporaryFile() as errors:
            process = subprocess.Popen([*base, *args], stdout=output, stderr=errors, cwd=CODE_DIR,
                                       env={**os.environ, "NO_COLOR": "1"})
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            while pid == 0 and time.perf_counter() - started < TIMEOUT_S:
                time.sleep(0.005)
                pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid == 0:
                process.kill()
                _, _, usage = os.wait4(process.pid, 0)
                return Timing(TIMEOUT_S * 1000, (usage.ru_utime + usage.ru_stime) * 1000, 0, f"stopped after {TIMEOUT_S} s")
            process.returncode = os.waitstatus_to_exitcode(status)
            walls.append((time.perf_counter() - started) * 1000)
            cpus.append((usage.ru_utime + usage.ru_stime) * 1000)
            if process.returncode != 0:
                errors.seek(0)
                raise SystemExit(f"`docwatch {' '.join(args)}` failed ({process.returncode}): {errors.read().decode()[-2000:]}")
            size = output.seek(0, os.SEEK_END)
        if walls[-1] > SLOW_MS:  # one run says enough
            break
    return Timing(statistics.median(walls), statistics.median(cpus), size, fastest_wall_ms=min(walls))


_LITERAL = re.compile(r"'(?:[^']|'')*'|\b\d+(?:\.\d+)?\b")


def traced_queries(db: Path, watchlist: Path, data_dir: Path, args: list[str]) -> list[str]:
    """The distinct statements (by shape: literals as ?) one run of the command executed, first instance of each."""
    with tempfile.NamedTemporaryFile("r", suffix=".sql", encoding="utf-8") as trace:
        base = cli(db, watchlist, data_dir)
        try:  # a command stopped for taking too long has still written the statements it ran
            subprocess.run([sys.executable, "-c", TRACER, trace.name, *base[3:], *args], check=True, cwd=CODE_DIR,
                           capture_output=True, timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            pass
        statements = trace.read().splitlines()
    seen, kept = set(), []
    for statement in statements:
        head = statement.split(" ", 1)[0].upper()
        if head not in ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH") or "sqlite_master" in statement \
                or "schema_migrations" in statement:
            continue
        shape = _LITERAL.sub("?", statement)
        if shape not in seen:
            seen.add(shape)
            kept.append(statement)
    return kept


def explain(conn, statement: str) -> tuple[list[str], list[str]]:
    """The plan's lines, and the full scans of big tables in it."""
    tables = {alias or table: table for table, alias in
              re.findall(r"(?:FROM|JOIN)\s+(\w+)(?:\s+(?:AS\s+)?(?!WHERE|ON|JOIN|LEFT|ORDER|GROUP|LIMIT)(\w+))?",
                         statement, re.I)}
    plan = [detail for *_, detail in conn.execute(f"EXPLAIN QUERY PLAN {statement}")]
    flagged = []
    for line in plan:
        scanned = re.match(r"SCAN (\w+)(?: USING (COVERING )?INDEX (\w+))?$", line)
        if scanned and tables.get(scanned[1], scanned[1]) in BIG_TABLES:
            what = f"full scan of {tables.get(scanned[1], scanned[1])}"
            flagged.append(f"{what} (through index {scanned[3]})" if scanned[3] else what)
    return plan, flagged


def store_one_changed_page(db_path: Path, repeat: int) -> float:
    """Median milliseconds of store_capture for a changed version of an existing article."""
    from crawler.extract.capture import capture_page, matcher_for
    from crawler.fetch.items import FetchedPage
    from crawler.pipeline.store import store_capture
    from crawler.config.watchlist import load_watchlist

    watchlist = load_watchlist(CODE_DIR / "watchlist.yaml")
    matcher = matcher_for(tuple(watchlist.keyword_sets.values()))
    db = open_database(db_path)
    urls = [row[0] for row in db.execute(
        "SELECT url FROM pages WHERE kind = 'article' ORDER BY id DESC LIMIT ?", [repeat])]
    shells, sentences = load_shells(), report_sentences()
    times = []
    for n, url in enumerate(urls):
        source = dataclasses.replace(watchlist.adhoc_source(url), id=db.execute(
            "SELECT source_id FROM pages WHERE url = ?", [url]).fetchone()[0])
        body = shells[n % len(shells)].render(n, paragraph_for(int(time.time()) % 100_000 + n, sentences))  # new text
        now = iso(datetime.now(timezone.utc))
        item = FetchedPage(source_id=source.id, kind="article", url=url, final_url=url, status=200,
                           headers={"Content-Type": "text/html"}, body=body, fetched_at=now, elapsed_ms=1, exchanges=[])
        capture = capture_page(item, source)
        started = time.perf_counter()
        outcome = store_capture(db, None, capture, matcher)
        times.append((time.perf_counter() - started) * 1000)
        assert outcome == "changed", outcome
    db.close()
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the two-year database (default 1)")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each command; the median is shown")
    parser.add_argument("--db", type=Path, default=BENCH_DIR / ".work-bigdb" / "big.db")
    parser.add_argument("--reuse", action="store_true", help="keep a database built before at this path and scale")
    parser.add_argument("--code", type=Path, help="run the commands of this checkout of docwatch instead")
    parser.add_argument("--store-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.store_only:
        print(store_one_changed_page(args.db, args.repeat))
        return
    shape = Shape().scaled(args.scale)
    stamp = Path(f"{args.db}.shape")
    end = datetime.now(timezone.utc)
    if not (args.reuse and args.db.exists() and stamp.exists() and stamp.read_text() == repr(shape)):
        started = time.perf_counter()
        build(args.db, shape, end)
        stamp.write_text(repr(shape))
        print(f"built {args.db} in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    else:  # migrated to this version's schema, as a user's upgrade would be
        started = time.perf_counter()
        open_database(args.db).conn.close()
        print(f"opened (and migrated) in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    # As `pip install` does: the commands are timed as an installed docwatch runs, not compiling
    # every module of theirs on each run (where PYTHONDONTWRITEBYTECODE is set, as on CI).
    subprocess.run([sys.executable, "-m", "compileall", "-q", *(str(CODE_DIR / package) for package in
                                                                ("crawler", "storage", "spiders"))], check=True)
    work = args.db.parent
    watchlist = work / "watchlist.yaml"
    watchlist.write_text("keyword_sets:\n  labor_transfer:\n    terms: [转移就业, 富余劳动力]\nsources:\n" + "".join(
        f"  - id: src-{n:04d}\n    url: http://www.county{n}.gov.cn/xxgk/c{n}/index.shtml\n    type: listing\n"
        f"    follow: '/xxgk/c{n}/'\n    interval: {(1, 6, 24)[n % 3]}h\n" for n in range(shape.sources)), "utf-8")
    empty = work / "empty.db"
    empty.unlink(missing_ok=True)
    open_database(empty).conn.close()
    import sqlite3

    counts = {}
    with sqlite3.connect(args.db) as conn:
        for table in BIG_TABLES:
            counts[table] = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    size_mb = args.db.stat().st_size / 1e6
    rows, plans = [], {}
    for name, command in commands(shape, args.db):
        print(f"{name} ...", file=sys.stderr, flush=True)
        # the floor: the same command where there is nothing to read (diff needs a page: `events` stands in)
        floor = time_command(cli(empty, watchlist, work / "data"), ["events"] if name.startswith("diff URL") else command,
                             args.repeat)
        timing = time_command(cli(args.db, watchlist, work / "data"), command, args.repeat)
        rows.append((name, timing, floor))
        print(f"  {format_row(name, timing, floor)}", file=sys.stderr, flush=True)
        with sqlite3.connect(args.db) as conn:
            for statement in traced_queries(args.db, watchlist, work / "data", command):
                shape_key = _LITERAL.sub("?", statement)
                if shape_key not in plans:
                    plans[shape_key] = (statement, *explain(conn, statement), [])
                plans[shape_key][3].append(name)
    store = subprocess.run([sys.executable, __file__, "--store-only", "--db", str(args.db), "--repeat",
                            str(max(args.repeat, 5)), *(["--code", str(CODE)] if CODE else [])],
                           capture_output=True, text=True, check=True)
    store_ms = float(store.stdout)
    rows.append(("store one changed page (store_capture, in-process)", Timing(store_ms, store_ms, 0), None))
    print(render(shape, counts, size_mb, rows, plans, args.repeat))


def format_row(name: str, timing: Timing, floor: Timing | None) -> str:
    above = f"{timing.cpu_ms - floor.cpu_ms:.0f}" if floor else "—"
    note = f" ({timing.note})" if timing.note else ""
    fastest = f"{timing.fastest_wall_ms:.0f}" if timing.fastest_wall_ms is not None else "—"
    return (f"| `{name}`{note} | {timing.wall_ms:.0f} | {fastest} | {timing.cpu_ms:.0f} | {f'{floor.cpu_ms:.0f}' if floor else '—'} | "
            f"{above} | {timing.output_bytes:,} |")


def render(shape, counts, size_mb, rows, plans, repeat) -> str:
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    lines = [
        f"Database: {size_mb:,.0f} MB; " + ", ".join(f"{table} {count:,}" for table, count in counts.items())
        + f"; {shape.sources} sources.  ",
        f"Load average at the end {load} ({os.cpu_count()} cores shared with other processes). Median of {repeat} "
        "runs as the real CLI: wall ms (and the fastest run's), and CPU ms (user + system) of the command's process. "
        "The floor is the same command on an empty database: Python start-up, imports, rendering.",
        "",
        "| command | wall ms | fastest wall ms | CPU ms | floor CPU ms | CPU above the floor | output bytes |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *(format_row(name, timing, floor) for name, timing, floor in rows),
    ]
    lines += ["", "Query plans (EXPLAIN QUERY PLAN of each distinct statement the command ran):", ""]
    flagged_any = False
    for statement, plan, flagged, names in plans.values():
        flagged_any |= bool(flagged)
        mark = f"  **{'; '.join(flagged)}**" if flagged else ""
        ran_by = ", ".join(f"`{name}`" for name in dict.fromkeys(names))
        lines.append(f"- {ran_by}: `{statement[:300]}{' …' if len(statement) > 300 else ''}`{mark}")
        lines += [f"    - {line}" for line in plan]
    lines.append("")
    lines.append("Full scans of big tables: " + ("see the flagged statements above." if flagged_any else "none."))
    return "\n".join(lines)


if __name__ == "__main__":
    main()
