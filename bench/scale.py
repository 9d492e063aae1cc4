"""Does a crawl's cost per page stay flat as the corpus grows? docwatch's cold crawl and its
unchanged re-crawl of the benchmark corpus (bench/corpus.py, served by nginx as in bench/run.py)
at several sizes: CPU ms per page, peak memory, and the database's and WARC files' bytes per page.
The issue's bar: CPU per page and peak memory within 15% from the smallest size to the largest.

    .venv/bin/python bench/scale.py [--sizes 2000,20000] [--quick]

`--quick` runs 200 and 2,000 articles (a smoke run, about two minutes).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import corpus as corpus_module  # noqa: E402
from bench.harness import BENCH_DIR, Nginx  # noqa: E402
from bench.tools import Docwatch  # noqa: E402

FLAT_PERCENT = 15
SCENARIOS = ("cold", "unchanged")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="2000,20000", help="comma-separated article counts (default 2000,20000)")
    parser.add_argument("--quick", action="store_true", help="200 and 2,000 articles")
    parser.add_argument("--work", type=Path, default=BENCH_DIR / ".work-scale", help="scratch folder (emptied first)")
    args = parser.parse_args()
    sizes = [200, 2000] if args.quick else [int(size) for size in args.sizes.split(",")]
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop nginx on the way out
    rows = []
    for size in sizes:
        work = args.work / str(size)
        shutil.rmtree(work, ignore_errors=True)
        corpus = corpus_module.build(work / "site", size)
        print(f"{size} articles: {len(corpus.page_paths())} pages, {corpus.html_bytes() / 1e6:.0f} MB of HTML",
              file=sys.stderr, flush=True)
        with Nginx(corpus.root, work / "nginx") as nginx:
            docwatch = Docwatch(corpus, nginx.base_url, work / "docwatch")
            for scenario in SCENARIOS:
                measured = docwatch.run(scenario)
                row = {"size": size, "scenario": scenario, "pages": measured.pages, "wall_s": measured.wall_s,
                       "cpu_ms": measured.cpu_ms_per_page, "rss_mib": measured.peak_rss_mib, "note": measured.note,
                       "db_kib": stored_bytes(docwatch.db.parent, "docwatch.db*") / measured.pages / 1024,
                       "warc_kib": stored_bytes(docwatch.data_dir, "*.warc.gz") / measured.pages / 1024}
                rows.append(row)
                print(f"  {format_row(row)}", file=sys.stderr, flush=True)
        shutil.rmtree(work / "site", ignore_errors=True)  # the 20,000-article corpus is 1.2 GB
    print(render(rows, sizes))


def stored_bytes(folder: Path, pattern: str) -> int:
    """Bytes on disk of the files under `folder` matching `pattern` (the database with its -wal)."""
    return sum(path.stat().st_size for path in folder.rglob(pattern) if path.is_file())


def format_row(row: dict) -> str:
    return (f"| {row['size']:,} | {row['scenario']} | {row['pages']:,} | {row['wall_s']:.1f} | {row['cpu_ms']:.2f} | "
            f"{row['rss_mib']:.0f} | {row['db_kib']:.1f} | {row['warc_kib']:.1f} | {row['note']} |")


def render(rows: list[dict], sizes: list[int]) -> str:
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    lines = [
        f"load average at the end {load} ({os.cpu_count()} cores shared with other processes)",
        "",
        "| articles | scenario | pages | wall s | CPU ms/page | peak RSS MiB | db KiB/page | WARC KiB/page | docwatch reported |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---|",
        *map(format_row, rows),
        "",
    ]
    by_key = {(row["size"], row["scenario"]): row for row in rows}
    small, large = sizes[0], sizes[-1]
    for scenario in SCENARIOS:
        first, last = by_key[(small, scenario)], by_key[(large, scenario)]
        for label, key in (("CPU ms/page", "cpu_ms"), ("peak RSS", "rss_mib")):
            growth = (last[key] - first[key]) / first[key] * 100
            verdict = ("flat" if abs(growth) <= FLAT_PERCENT else
                       "falls: the fixed start-up is spread over more pages" if growth < 0 else "GROWS")
            lines.append(f"- {scenario}: {label} {small:,} → {large:,} articles: {growth:+.0f}% "
                         f"({verdict}; bar ±{FLAT_PERCENT}%)")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
