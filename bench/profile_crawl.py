"""Where a cold crawl's CPU goes: docwatch crawls the benchmark corpus (bench/corpus.py, nginx,
as bench/run.py) under py-spy, every process sampled (the crawl and its extraction workers),
and the samples are summed by process, by docwatch function (inclusive: the function and what
it calls) and by function (self). The collapsed stacks stay in the work folder.

    .venv/bin/pip install py-spy
    .venv/bin/python bench/profile_crawl.py [--pages 2000] [--top 40]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import corpus as corpus_module  # noqa: E402
from bench.harness import BENCH_DIR, Nginx  # noqa: E402
from bench.tools import Docwatch  # noqa: E402

SAMPLES_PER_S = 200
_FRAME = re.compile(r"^(?P<function>.+?) \((?P<file>[^()]+?)(?::\d+)?\)$")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=2000, help="articles in the corpus (default 2000)")
    parser.add_argument("--top", type=int, default=40, help="functions to list")
    parser.add_argument("--work", type=Path, default=BENCH_DIR / ".work-profile", help="scratch folder (emptied first)")
    args = parser.parse_args()
    py_spy = shutil.which("py-spy", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    if py_spy is None:
        raise SystemExit("py-spy is not installed: `.venv/bin/pip install py-spy`")
    shutil.rmtree(args.work, ignore_errors=True)
    corpus = corpus_module.build(args.work / "site", args.pages)
    raw = args.work / "profile.txt"
    with Nginx(corpus.root, args.work / "nginx") as nginx:
        docwatch = Docwatch(corpus, nginx.base_url, args.work / "docwatch")
        crawl = [sys.executable, "-m", "crawler", "--db", str(docwatch.db), "--watchlist", str(docwatch.watchlist),
                 "--data-dir", str(docwatch.data_dir), "crawl"]
        # --gil: only the thread holding the GIL is sampled, so waits (fsync, select, pipes) that
        # release it are left out and the samples track CPU spent in Python and C extensions.
        subprocess.run([py_spy, "record", "--subprocesses", "--gil", "--nonblocking", "--rate", str(SAMPLES_PER_S),
                        "--format", "raw", "-o", str(raw), "--", *crawl],
                       check=True, cwd=BENCH_DIR.parent, env={**os.environ, "DOCWATCH_ENV": "local"},
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    print(summarise(raw, args.top, len(corpus.page_paths())))
    print(f"\ncollapsed stacks (for flamegraph.pl or speedscope): {raw}")


def summarise(raw: Path, top: int, pages: int) -> str:
    """py-spy's collapsed stacks ("process;frame;frame count") summed per process kind (the
    crawl, the extraction workers), per docwatch function (inclusive) and per function (self)."""
    inclusive, own, by_process = Counter(), Counter(), Counter()
    total = 0
    for line in raw.read_text("utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        samples = int(count)
        total += samples
        process, *frames = stack.split(";")
        by_process["extraction workers" if "spawn_main" in stack else "crawl process"] += samples
        names = [name_of(frame) for frame in frames]
        for name in set(names):
            if name.split("/", 1)[0] in ("crawler", "storage", "spiders", "extract", "compare", "archive", "pipeline",
                                          "fetch", "run", "cli", "config"):
                inclusive[name] += samples
        if names:
            own[names[-1]] += samples
    ms_per_page = 1000 / SAMPLES_PER_S / pages

    def table(title: str, counter: Counter, limit: int) -> list[str]:
        rows = [f"| `{name}` | {100 * samples / total:.1f} | {samples * ms_per_page:.2f} |"
                for name, samples in counter.most_common(limit)]
        return ["", f"| {title} | % of samples | ms/page |", "|---|---:|---:|", *rows]

    return "\n".join([
        f"{total} samples (GIL held) at {SAMPLES_PER_S}/s over all processes: {total / SAMPLES_PER_S:.1f} s, "
        f"{total * ms_per_page:.2f} ms/page over {pages} pages",
        *table("process", by_process, 2),
        *table("docwatch function (inclusive)", inclusive, top),
        *table("function (self)", own, top),
    ])


def name_of(frame: str) -> str:
    """`function (path/to/module.py:123)` → `module.py:function`, the site-packages prefix dropped."""
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    path = match["file"]
    short = path.split("site-packages/")[-1] if "site-packages/" in path else "/".join(Path(path).parts[-2:])
    return f"{short}:{match['function']}"


if __name__ == "__main__":
    main()
