"""docwatch against urlwatch, changedetection.io and a fetch-and-hash Scrapy ceiling, on one
local corpus served by nginx: cold crawl, re-crawl with nothing changed, re-crawl with 10% of
the articles changed. Prints one table and writes it at the top of bench/results.md (the other
benchmarks' tables below it are kept).

    .venv/bin/python bench/run.py [--pages 2000] [--quick] [--tools docwatch,urlwatch,changedetection,ceiling]

Needs nginx (`apt-get install -y nginx-light`); urlwatch and changedetection.io are installed
into bench/.venvs/ on first use.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import subprocess
import sys
from datetime import datetime, timezone
from importlib.metadata import version
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import corpus as corpus_module  # noqa: E402
from bench.harness import BENCH_DIR, Measurement, Nginx  # noqa: E402
from bench.tools import ChangeDetection, Ceiling, Docwatch, Urlwatch  # noqa: E402

SCENARIOS = ("cold", "unchanged", "10% changed")
CHANGED_SHARE = 0.10
TOOLS = {"docwatch": Docwatch, "urlwatch": Urlwatch, "changedetection": ChangeDetection, "ceiling": Ceiling}
RESULTS = BENCH_DIR / "results.md"
RUN_SECTION_END = "<!-- end of bench/run.py's section: what follows is kept when it rewrites the file -->\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=2000, help="articles in the corpus (default 2000)")
    parser.add_argument("--quick", action="store_true", help="200 articles: a smoke run in about a minute")
    parser.add_argument("--tools", default=",".join(TOOLS), help=f"comma-separated subset of {','.join(TOOLS)}")
    parser.add_argument("--work", type=Path, default=BENCH_DIR / ".work", help="scratch folder (emptied first)")
    args = parser.parse_args()
    wanted = args.tools.split(",")
    unknown = [name for name in wanted if name not in TOOLS]
    if unknown:
        parser.error(f"unknown tool(s) {', '.join(unknown)}; choose from {', '.join(TOOLS)}")
    pages = 200 if args.quick else args.pages
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the servers we started on the way out

    shutil.rmtree(args.work, ignore_errors=True)
    corpus = corpus_module.build(args.work / "site", pages)
    print(f"corpus: {len(corpus.articles)} articles + {len(corpus.listing_paths)} listing pages, "
          f"{corpus.html_bytes() / 1e6:.1f} MB of HTML", file=sys.stderr)
    results: list[Measurement] = []
    with Nginx(corpus.root, args.work / "nginx") as nginx:
        contenders = []
        for name in wanted:
            try:
                contenders.append(TOOLS[name](corpus, nginx.base_url, args.work / name))
            except (RuntimeError, subprocess.CalledProcessError, OSError) as error:
                results += [Measurement(TOOLS[name].name, s, 0, None, None, None, f"could not run: {error}")
                            for s in SCENARIOS]
        try:
            for scenario in SCENARIOS:
                if scenario == "10% changed":
                    edited = corpus_module.edit_articles(corpus, CHANGED_SHARE)
                    print(f"edited {len(edited)} articles", file=sys.stderr)
                for tool in contenders:
                    if isinstance(tool, Ceiling) and scenario != "cold":
                        continue  # fetch-and-hash does the same work whatever changed
                    print(f"{tool.name}: {scenario} ...", file=sys.stderr, flush=True)
                    try:
                        results.append(tool.run(scenario))
                    except RuntimeError as error:
                        results.append(Measurement(tool.name, scenario, 0, None, None, None, f"failed: {error}"))
                    print(f"  {format_row(results[-1])}", file=sys.stderr, flush=True)
        finally:
            for tool in contenders:
                if hasattr(tool, "close"):
                    tool.close()
    report = render(results, corpus, pages)
    print(report)
    previous = RESULTS.read_text("utf-8") if RESULTS.exists() else ""
    others = previous.split(RUN_SECTION_END, 1)[1] if RUN_SECTION_END in previous else ""  # the other benchmarks' tables
    RESULTS.write_text(f"{report}\n{RUN_SECTION_END}{others}", "utf-8")


def format_row(m: Measurement) -> str:
    def number(value, digits):
        return "—" if value is None else f"{value:.{digits}f}"

    return (f"| {m.tool} | {m.scenario} | {number(m.wall_s, 1)} | {number(m.cpu_s, 1)} | "
            f"{number(m.cpu_ms_per_page, 1)} | {number(m.pages_per_s, 1)} | {number(m.peak_rss_mib, 0)} | {m.note} |")


def ratios(results: list[Measurement]) -> list[str]:
    by_key = {(m.tool, m.scenario): m for m in results if m.wall_s}
    lines = []
    ceiling = by_key.get((Ceiling.name, "cold"))
    for scenario in SCENARIOS:
        ours = by_key.get((Docwatch.name, scenario))
        if ours is None:
            continue
        theirs = by_key.get((Urlwatch.name, scenario))
        if theirs:
            lines.append(f"- {scenario}: docwatch/urlwatch pages/s **{ours.pages_per_s / theirs.pages_per_s:.2f}×**, "
                         f"CPU s/page **{ours.cpu_s / theirs.cpu_s:.2f}×** (target: ≥ 1.5× and ≤ 1× on the cold crawl)")
        if ceiling:
            lines.append(f"- {scenario}: docwatch/ceiling pages/s **{ours.pages_per_s / ceiling.pages_per_s:.0%}** "
                         f"(target ≥ 70%)")
    cold, unchanged = by_key.get((Docwatch.name, "cold")), by_key.get((Docwatch.name, "unchanged"))
    if cold and unchanged:
        lines.append(f"- docwatch unchanged re-crawl CPU / cold CPU: **{unchanged.cpu_s / cold.cpu_s:.0%}** (target ≤ 30%)")
    return lines


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    memory_kib = int(Path("/proc/meminfo").read_text().split()[1])
    nginx = subprocess.run(["nginx", "-v"], capture_output=True, text=True).stderr.strip().split("/")[-1]
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return (f"{cpu}, {os.cpu_count()} cores, {memory_kib / 2**20:.0f} GiB RAM, load average at the end {load} "
            f"(other processes on the machine share the 2 cores); {platform.platform()}; "
            f"Python {platform.python_version()}, Scrapy {version('scrapy')}, trafilatura {version('trafilatura')}, "
            f"lxml {version('lxml')}, nginx {nginx}")


def render(results: list[Measurement], corpus, pages: int) -> str:
    header = ("| tool | scenario | wall s | CPU s | CPU ms/page | pages/s | peak RSS MiB | what the tool reported |\n"
              "|---|---|---:|---:|---:|---:|---:|---|")
    return "\n".join([
        "# docwatch benchmark results",
        "",
        f"Date: {datetime.now(timezone.utc).isoformat(timespec='seconds')}  ",
        f"Machine: {machine()}  ",
        f"Corpus: {pages} articles + {len(corpus.listing_paths)} listing pages "
        f"({corpus.html_bytes() / 1e6:.1f} MB of HTML), served by nginx on 127.0.0.1; "
        f"10% scenario: every 10th article edited (a figure +1000, one sentence added).  ",
        "CPU s: user + system of the tool's process and its children (wait4 rusage; for the "
        "changedetection.io server, its process tree from /proc). nginx's own CPU is not counted.",
        "",
        header,
        *map(format_row, results),
        "",
        "Ratios:",
        "",
        *ratios(results),
        "",
    ])


if __name__ == "__main__":
    main()
