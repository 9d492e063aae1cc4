"""The daemon with thousands of sources: its memory and CPU while idle and while working.

Starts the real daemon (`python -m crawler ... daemon`) on a watchlist of SOURCES page sources
(the demo site's pages on 127.0.0.1, each source its own URL; intervals 1 h, 6 h and 1 d, a
third each) and measures, from /proc:

- idle: every source has a recent run in the database (recorded through the store functions),
  so nothing is due: the daemon's resident memory and its CPU over IDLE seconds;
- working: a fresh database, so every source is overdue and the daemon works through them
  (two workers, each crawl a child process, which may take several sources of the site along):
  crawls and source crawls finished in WORK seconds, CPU seconds per crawl and per source
  crawled (the daemon and every crawl child it waited for), and the daemon's own memory.

    .venv/bin/python bench/daemon_scale.py [--sources 2000] [--idle 60] [--work 180] [--batch-size N]
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import ProcessTree  # noqa: E402
from crawler.config.watchlist import parse_watchlist  # noqa: E402
from crawler.demo import SITE_DIR  # noqa: E402
from crawler.demo.localsite import LocalSite  # noqa: E402
from storage import open_database, queries  # noqa: E402

INTERVALS = ("1h", "6h", "1d")


def watchlist_text(base_url: str, sources: int) -> str:
    pages = sorted(p.relative_to(SITE_DIR).as_posix() for p in SITE_DIR.rglob("*")
                   if p.suffix in (".html", ".shtml") and p.name != "index.html")
    entries = "".join(
        f"  - id: s{n:05d}\n    url: \"{base_url}/{pages[n % len(pages)]}?source={n}\"\n    type: page\n"
        f"    interval: {INTERVALS[n % len(INTERVALS)]}\n"
        for n in range(sources)
    )
    return "keyword_sets:\n  labor_transfer:\n    terms: [转移就业, 富余劳动力]\nsources:\n" + entries


def record_recent_runs(db_path: Path, watchlist: str) -> None:
    """Each source crawled a moment ago, as the runner records it: nothing is due."""
    sources = parse_watchlist(watchlist, "bench").sources
    db = open_database(db_path)
    queries.sync_sources(db, sources)
    for source in sources:
        queries.finish_run(db, queries.start_run(db, "daemon", [source.id]), "done")
    db.close()


def finished_runs(db_path: Path) -> tuple[int, int]:
    """The daemon's finished runs (crawl processes), and the sources they crawled."""
    with sqlite3.connect(db_path) as db:
        return db.execute("SELECT count(DISTINCT id), count(source_id) FROM runs JOIN run_sources ON run_id = id"
                          " WHERE trigger = 'daemon' AND finished_at IS NOT NULL AND pid != ?",
                          [os.getpid()]).fetchone()


def observe(daemon: subprocess.Popen, seconds: float, db_path: Path) -> dict:
    """The daemon's own RSS (peak, end), its tree's CPU seconds and the runs it finished in `seconds`."""
    tree, process = ProcessTree(daemon.pid), psutil.Process(daemon.pid)
    time.sleep(5)  # started and scheduled
    cpu_before, (runs_before, sources_before), peak = tree.cpu_s(), finished_runs(db_path), 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if daemon.poll() is not None:
            raise SystemExit(f"the daemon exited with {daemon.returncode}")
        peak = max(peak, process.memory_info().rss)
        time.sleep(1)
    runs, sources = finished_runs(db_path)
    return {"cpu_s": tree.cpu_s() - cpu_before, "runs": runs - runs_before, "sources": sources - sources_before,
            "peak_rss_mib": peak / 2**20, "end_rss_mib": process.memory_info().rss / 2**20}


def run_daemon(data: Path, watchlist: Path, seconds: float, daemon_options: list[str]) -> dict:
    db_path = data / "docwatch.db"
    command = [sys.executable, "-m", "crawler", "--db", str(db_path), "--watchlist", str(watchlist), "daemon",
               "--workers", "2", *daemon_options]
    env = {**os.environ, "DOCWATCH_ENV": "local", "DOCWATCH_DATA_DIR": str(data)}
    daemon = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL, cwd=Path(__file__).resolve().parent.parent)
    try:
        return observe(daemon, seconds, db_path)
    finally:
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=300)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", type=int, default=2000)
    parser.add_argument("--idle", type=float, default=60, help="seconds observed idle")
    parser.add_argument("--work", type=float, default=180, help="seconds observed working")
    parser.add_argument("--batch-size", type=int, help="the daemon's --batch-size (default: its own)")
    args = parser.parse_args()
    daemon_options = [] if args.batch_size is None else ["--batch-size", str(args.batch_size)]
    rows = []
    with tempfile.TemporaryDirectory() as scratch, LocalSite(SITE_DIR) as site:
        for phase, seconds in (("idle", args.idle), ("working", args.work)):
            data = Path(scratch) / phase
            data.mkdir()
            text = watchlist_text(site.base_url, args.sources)
            watchlist = data / "watchlist.yaml"
            watchlist.write_text(text, "utf-8")
            if phase == "idle":
                record_recent_runs(data / "docwatch.db", text)
            print(f"{phase}: observing {seconds:g} s ...", file=sys.stderr, flush=True)
            rows.append((phase, seconds, run_daemon(data, watchlist, seconds, daemon_options)))
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"{args.sources} sources (intervals {', '.join(INTERVALS)}), 2 workers"
          f"{'' if args.batch_size is None else f', --batch-size {args.batch_size}'}; load average at the end {load} "
          f"({os.cpu_count()} cores shared with other processes)\n")
    print("| phase | seconds | crawls finished | sources crawled | CPU s (daemon + crawl children) | CPU s per crawl | "
          "CPU s per source crawled | daemon RSS MiB peak / end |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for phase, seconds, m in rows:
        per_crawl = f"{m['cpu_s'] / m['runs']:.2f}" if m["runs"] else "—"
        per_source = f"{m['cpu_s'] / m['sources']:.2f}" if m["sources"] else "—"
        print(f"| {phase} | {seconds:g} | {m['runs']} | {m['sources']} | {m['cpu_s']:.1f} | {per_crawl} | {per_source} | "
              f"{m['peak_rss_mib']:.0f} / {m['end_rss_mib']:.0f} |")


if __name__ == "__main__":
    main()
