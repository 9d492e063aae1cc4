"""The contenders, each run over the same corpus in three scenarios (cold, unchanged, 10% changed).

Each runner measures its scenario with `harness` and says in `note` what the tool reported, so
the table shows that every tool really saw every page and every change.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml

from bench.corpus import Corpus
from bench.harness import BENCH_DIR, Measurement, ProcessTree, free_port, run_measured, venv_python

REPO = BENCH_DIR.parent
URLWATCH_REQUIREMENTS = ["urlwatch==2.29", "html2text"]
CHANGEDETECTION_REQUIREMENTS = ["changedetection.io==0.60.10"]
LISTING_CSS = "div.list"


class Docwatch:
    """`python -m crawler crawl` with DOCWATCH_ENV=local: the whole pipeline, one source per column."""

    name = "docwatch"

    def __init__(self, corpus: Corpus, base_url: str, work: Path) -> None:
        self.corpus, self.work = corpus, work
        self.db, self.data_dir = work / "docwatch.db", work / "data"
        self.watchlist = work / "watchlist.yaml"
        work.mkdir(parents=True, exist_ok=True)
        # As `pip install` does (and as urlwatch is installed): docwatch's modules compiled once,
        # not by the crawl and each extraction worker on every run where PYTHONDONTWRITEBYTECODE
        # is set (as on this machine: ≈ 0.2 CPU s a process).
        subprocess.run([sys.executable, "-m", "compileall", "-q", *(str(REPO / package) for package in
                                                                    ("crawler", "storage", "spiders"))], check=True)
        shipped = yaml.safe_load((REPO / "watchlist.yaml").read_text("utf-8"))
        self.watchlist.write_text(yaml.safe_dump({
            "defaults": {"keyword_sets": sorted(shipped["keyword_sets"])},
            "keyword_sets": shipped["keyword_sets"],
            "sources": [
                {"id": f"bench-c{column}", "url": f"{base_url}/xjrst/c{column}/index.shtml", "type": "listing",
                 "follow": rf"/xjrst/c{column}/\d{{6}}/[0-9a-f]{{32}}\.shtml$", "pages": 5, "max_items": 100}
                for column in corpus.columns
            ],
        }, allow_unicode=True), "utf-8")

    def run(self, scenario: str) -> Measurement:
        command = [sys.executable, "-m", "crawler", "--db", str(self.db), "--watchlist", str(self.watchlist),
                   "--data-dir", str(self.data_dir), "crawl"]
        env = {**os.environ, "DOCWATCH_ENV": "local"}
        finished = run_measured(command, self.work / f"{scenario}.log", env=env, cwd=REPO)
        if finished.returncode != 0:
            raise SystemExit(f"docwatch crawl failed ({scenario}): see {self.work / f'{scenario}.log'}")
        with sqlite3.connect(self.db) as db:
            new, changed, unchanged, failed = db.execute(
                "SELECT pages_new, pages_changed, pages_unchanged, pages_failed FROM runs ORDER BY id DESC LIMIT 1"
            ).fetchone()
        warc = "WARC written" if any(self.data_dir.rglob("*.warc.gz")) else "no WARC (not wired into the crawl yet)"
        note = f"{new} new, {changed} changed, {unchanged} unchanged, {failed} failed; {warc}"
        return Measurement(self.name, scenario, len(self.corpus.page_paths()), finished.wall_s, finished.cpu_s,
                           finished.peak_rss_mib, note)


class Urlwatch:
    """urlwatch 2.29, one job per page (listings too): the page's content CSS, then html2text (the
    PyPI package: urlwatch's `pyhtml2text` method)."""

    name = "urlwatch 2.29"

    def __init__(self, corpus: Corpus, base_url: str, work: Path) -> None:
        self.corpus, self.work = corpus, work
        work.mkdir(parents=True, exist_ok=True)
        self.python = venv_python("urlwatch", URLWATCH_REQUIREMENTS)
        jobs = [{"url": base_url + path, "filter": [{"css": LISTING_CSS}, {"html2text": "pyhtml2text"}]}
                for path in corpus.listing_paths]
        jobs += [{"url": base_url + article.path,
                  "filter": [{"css": article.shell.content_css}, {"html2text": "pyhtml2text"}]}
                 for article in corpus.articles]
        self.urls = work / "urls.yaml"
        self.urls.write_text(yaml.safe_dump_all(jobs, allow_unicode=True), "utf-8")
        self.config = work / "urlwatch.yaml"
        self.config.write_text(yaml.safe_dump({"report": {"stdout": {"enabled": True, "color": False}}}))

    def run(self, scenario: str) -> Measurement:
        command = [str(self.python), "-m", "urlwatch.cli", "--urls", str(self.urls), "--config", str(self.config),
                   "--hooks", str(self.work / "hooks.py"), "--cache", str(self.work / "cache.db")]
        log = self.work / f"{scenario}.log"
        finished = run_measured(command, log)
        if finished.returncode != 0:
            raise SystemExit(f"urlwatch failed ({scenario}): see {log}")
        lines = log.read_text("utf-8", errors="replace").splitlines()
        counts = {verb: sum(line.startswith(f"{verb}: ") for line in lines) for verb in ("NEW", "CHANGED", "ERROR")}
        note = f"{counts['NEW']} new, {counts['CHANGED']} changed, {counts['ERROR']} errors (ETag/If-Modified-Since)"
        return Measurement(self.name, scenario, len(self.corpus.page_paths()), finished.wall_s, finished.cpu_s,
                           finished.peak_rss_mib, note)


class ChangeDetection:
    """changedetection.io 0.60.10 as a server, driven through its REST API: one watch per page
    with the page's content CSS as include filter, plain requests fetcher, 10 fetch workers
    (its default). Cold = the server started with checks unpaused and no watch checked yet;
    the re-crawls = `recheck_all`. CPU and memory are the server's whole process tree."""

    name = "changedetection.io 0.60.10"
    poll_interval = 1.0
    scenario_timeout = 900.0

    def __init__(self, corpus: Corpus, base_url: str, work: Path) -> None:
        self.corpus, self.base_url, self.work = corpus, base_url, work
        self.datastore = work / "datastore"
        work.mkdir(parents=True, exist_ok=True)
        self.python = venv_python("changedetection", CHANGEDETECTION_REQUIREMENTS)
        self.server: subprocess.Popen | None = None
        self.tree: ProcessTree | None = None
        self._add_watches()

    def _start(self, paused: bool) -> None:
        self.port = free_port()
        env = {**os.environ, "ALLOW_IANA_RESTRICTED_ADDRESSES": "true", "LOGGER_LEVEL": "WARNING"}
        command = [str(self.python.parent / "changedetection.io"), "-d", str(self.datastore), "-C",
                   "-h", "127.0.0.1", "-p", str(self.port), "-l", "WARNING", "-P", "true" if paused else "false"]
        self.log = open(self.work / "server.log", "ab")
        self.server = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        self.tree = ProcessTree(self.server.pid)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                self.token = json.loads((self.datastore / "changedetection.json").read_text())[
                    "settings"]["application"]["api_access_token"]
                self._api("GET", "/api/v1/systeminfo")
                return
            except (OSError, KeyError, ValueError):
                if self.server.poll() is not None:
                    raise RuntimeError(f"changedetection.io exited: see {self.work / 'server.log'}")
                time.sleep(0.5)
        raise RuntimeError("changedetection.io did not answer within 120 s")

    def _stop(self) -> None:
        if self.server is not None:
            self.server.terminate()
            try:
                self.server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait()
            self.log.close()
            self.server = None

    def _api(self, method: str, path: str, body: dict | None = None):
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}", method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"x-api-key": self.token, "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=120) as answer:
            return json.loads(answer.read() or b"null")

    def _add_watches(self) -> None:
        """Set-up, not measured: with all checks paused, the two watches a fresh datastore
        comes with (internet sites) are deleted and ours created; then the server is stopped."""
        self._start(paused=True)
        try:
            for uuid in self._api("GET", "/api/v1/watch"):
                self._api("DELETE", f"/api/v1/watch/{uuid}")
            filters = [(path, LISTING_CSS) for path in self.corpus.listing_paths]
            filters += [(article.path, article.shell.content_css) for article in self.corpus.articles]
            for path, css in filters:
                self._api("POST", "/api/v1/watch", {"url": self.base_url + path, "include_filters": [css],
                                                     "fetch_backend": "html_requests"})
        finally:
            self._stop()

    def run(self, scenario: str) -> Measurement:
        pages = len(self.corpus.page_paths())
        started = time.time()
        wall_start = time.perf_counter()
        if scenario == "cold":
            self._start(paused=False)
            cpu_before = 0.0
        else:
            cpu_before = self.tree.cpu_s()
            self._api("GET", "/api/v1/watch?recheck_all=1")
        while True:
            self.tree.sample_rss()
            watches = self._api("GET", "/api/v1/watch")
            checked = [w for w in watches.values() if (w["last_checked"] or 0) >= int(started)]
            if len(checked) == len(watches) and self._api("GET", "/api/v1/systeminfo")["queue_size"] == 0:
                break
            if self.server.poll() is not None:
                raise RuntimeError(f"changedetection.io exited: see {self.work / 'server.log'}")
            if time.perf_counter() - wall_start > self.scenario_timeout:
                raise RuntimeError(f"{len(checked)} of {len(watches)} watches checked after {self.scenario_timeout:g} s")
            time.sleep(self.poll_interval)
        wall = time.perf_counter() - wall_start
        changed = sum(1 for w in watches.values() if (w["last_changed"] or 0) >= int(started))
        errors = sorted({str(w["last_error"])[:70] for w in watches.values() if w["last_error"]})
        note = (f"{len(checked)} checked, {changed} changed, {sum(bool(w['last_error']) for w in watches.values())} "
                f"errors {errors[:2]} (server polled every {self.poll_interval:g} s)")
        return Measurement(self.name, scenario, pages, wall, self.tree.cpu_s() - cpu_before,
                           self.tree.peak_rss_kib / 1024, note)

    def close(self) -> None:
        self._stop()


class Ceiling:
    """A plain Scrapy spider that fetches and hashes every page: the practical ceiling."""

    name = "Scrapy fetch+hash (ceiling)"

    def __init__(self, corpus: Corpus, base_url: str, work: Path) -> None:
        self.corpus, self.work = corpus, work
        work.mkdir(parents=True, exist_ok=True)
        self.url_file = work / "urls.txt"
        self.url_file.write_text("\n".join(base_url + path for path in corpus.page_paths()))

    def run(self, scenario: str) -> Measurement:
        command = [sys.executable, "-m", "scrapy", "runspider", str(BENCH_DIR / "ceiling_spider.py"),
                   "-a", f"urls={self.url_file}"]
        log = self.work / f"{scenario}.log"
        # outside the repository, so that Scrapy does not load docwatch's project settings
        finished = run_measured(command, log, cwd=Path(tempfile.gettempdir()))
        if finished.returncode != 0:
            raise SystemExit(f"ceiling spider failed: see {log}")
        summary = next((line for line in log.read_text().splitlines() if line.startswith("fetched and hashed")), "")
        return Measurement(self.name, scenario, len(self.corpus.page_paths()), finished.wall_s, finished.cpu_s,
                           finished.peak_rss_mib, summary)
