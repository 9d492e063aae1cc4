"""Does the daemon's memory stay flat over many scheduled runs?

Starts the real daemon (`python -m crawler ... daemon`) against the bundled demo site served on
127.0.0.1, every demo page a source on a short interval, lets it do RUNS scheduled crawls, and
prints the daemon's resident memory (its own, not the crawl children's) at the start, middle and
end, and the growth from the warmed-up start (after the first WARMUP runs: imports and first
jobs done) to the end. The issue's bar is 10%.

    .venv/bin/python bench/daemon_memory.py [--runs 200] [--interval 2s] [--workers 2]
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

from crawler.demo import SITE_DIR  # noqa: E402
from crawler.demo.localsite import LocalSite  # noqa: E402

WARMUP_RUNS = 10
LIMIT_PERCENT = 10


def watchlist_for(base_url: str, interval: str) -> str:
    """Every HTML page of the demo site as a page source, plus the listing."""
    pages = sorted(p for p in SITE_DIR.rglob("*") if p.suffix in (".html", ".shtml") and p.name != "index.html")
    sources = "".join(
        f"  - id: page-{n}\n    url: \"{base_url}/{page.relative_to(SITE_DIR).as_posix()}\"\n    type: page\n"
        for n, page in enumerate(pages)
    )
    return (
        f"defaults:\n  interval: {interval}\n"
        "keyword_sets:\n  labor_transfer:\n    terms: [转移就业, 富余劳动力]\n"
        f"sources:\n{sources}"
    )


def finished_runs(db_path: Path) -> int:
    try:
        con = sqlite3.connect(db_path)
        try:
            return con.execute("SELECT count(*) FROM runs WHERE trigger = 'daemon' AND finished_at IS NOT NULL").fetchone()[0]
        finally:
            con.close()
    except sqlite3.OperationalError:  # not created yet
        return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--interval", default="2s")
    parser.add_argument("--workers", default="2")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp, LocalSite(SITE_DIR) as site:
        data = Path(tmp)
        watchlist = data / "watchlist.yaml"
        watchlist.write_text(watchlist_for(site.base_url, args.interval), "utf-8")
        db_path = data / "bench.db"
        command = [sys.executable, "-m", "crawler", "--db", str(db_path), "--watchlist", str(watchlist),
                   "daemon", "--workers", args.workers]
        env = {**os.environ, "DOCWATCH_ENV": "local", "DOCWATCH_DATA_DIR": str(data)}
        started = time.monotonic()
        daemon = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL, cwd=Path(__file__).resolve().parent.parent)
        process = psutil.Process(daemon.pid)
        checkpoints = {WARMUP_RUNS: "start", args.runs // 2: "middle", args.runs: "end"}
        rss: dict[str, int] = {}
        try:
            time.sleep(1)
            print(f"daemon pid {daemon.pid}, at launch: {process.memory_info().rss / 2**20:.1f} MiB", flush=True)
            while len(rss) < len(checkpoints):
                if daemon.poll() is not None:
                    sys.exit(f"the daemon exited with {daemon.returncode}; see {data / 'logs' / 'daemon.log'}")
                done = finished_runs(db_path)
                for mark, name in checkpoints.items():
                    if done >= mark and name not in rss:
                        rss[name] = process.memory_info().rss
                        print(f"after {done:>3} runs ({time.monotonic() - started:5.0f}s): {name:<6} RSS "
                              f"{rss[name] / 2**20:.1f} MiB", flush=True)
                time.sleep(0.5)
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=120)
    growth = (rss["end"] - rss["start"]) / rss["start"] * 100
    verdict = "flat" if abs(growth) <= LIMIT_PERCENT else "NOT flat"
    print(f"RSS growth over {args.runs - WARMUP_RUNS} scheduled runs: {growth:+.1f}% ({verdict}; limit {LIMIT_PERCENT}%)")


if __name__ == "__main__":
    main()
