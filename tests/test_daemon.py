"""The real daemon (`python -m crawler ... daemon`) against real local sites, on intervals of seconds.

Besides the demo site, a "gated" server on 127.0.0.1 answers /awaited.html (a real page) only
when the test opens its gate, and never answers /stuck.html: crawls that are in progress for
exactly as long as a test needs, without sleeping and hoping.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from crawler.config.schedule import cron_trigger
from crawler.run.daemon import choose_batch
from crawler.demo import SITE_DIR, write_watchlist
from crawler.demo.fake_wayback import FakeWayback
from storage import archive_queue, open_database
from tests.conftest import run_docwatch

XINHUA_PAGE = SITE_DIR / "politics/leaders/20240509/3dd6e33cc6d749fbaae01fea337ff400/c.html"
# Waits end as soon as the daemon reports what a test waits for; these only bound a hang, on a
# CI machine loaded enough that seconds-long steps take ten times as long.
HANG_SECONDS = 180


class GatedSite(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _GatedHandler)
        self.gate = threading.Event()
        self.closing = threading.Event()
        self.base_url = f"http://127.0.0.1:{self.server_address[1]}"


class _GatedHandler(BaseHTTPRequestHandler):
    server: GatedSite

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        if self.path == "/awaited.html":
            self.server.gate.wait()
        else:
            self.server.closing.wait()  # /stuck.html: no answer while the test runs
        if self.server.closing.is_set():
            return  # the test is over and the crawler gone
        body = XINHUA_PAGE.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 (stdlib signature)
        pass


@contextlib.contextmanager
def serving_gated_site() -> Iterator[GatedSite]:
    server = GatedSite()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.closing.set()
    server.gate.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def gated():
    with serving_gated_site() as server:
        yield server


@pytest.fixture
def other_gated():
    """A second gated site: its sources are crawled apart from the first one's."""
    with serving_gated_site() as server:
        yield server


def gated_source(source_id: str, url: str) -> str:
    return f"""
  - id: {source_id}
    url: "{url}"
    type: page
    interval: 1h
    obey_robots: false
"""


def watchlist_text(tmp_path: Path, site_url: str, interval: str, extra_sources: str = "") -> str:
    """The demo watchlist (two real sources on the demo site) on `interval`, plus `extra_sources`."""
    text = write_watchlist(tmp_path, site_url).read_text("utf-8")
    return text.replace("interval: 10m", f"interval: {interval}") + extra_sources


class Docwatch:
    """One data directory and database: the real CLI, the real daemon in a child process, and
    what they wrote."""

    def __init__(self, tmp_path: Path, watchlist: Path) -> None:
        self.db_path = tmp_path / "dw.db"
        self.watchlist = watchlist
        self.env = {"DOCWATCH_DATA_DIR": str(tmp_path)}
        self.log_file = tmp_path / "logs" / "daemon.log"
        self.stderr_file = tmp_path / "daemon.stderr"
        self.process: subprocess.Popen | None = None

    def start_daemon(self, *options: str) -> subprocess.Popen:
        command = [sys.executable, "-m", "crawler", "--db", str(self.db_path), "--watchlist", str(self.watchlist), "daemon"]
        with self.stderr_file.open("w") as stderr:
            self.process = subprocess.Popen(command + list(options), stderr=stderr,
                                            env={**os.environ, "DOCWATCH_ENV": "local", **self.env})
        return self.process

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return run_docwatch(*args, db=self.db_path, watchlist=self.watchlist, env=self.env)

    def query(self, sql: str, *params) -> list[tuple]:
        con = sqlite3.connect(self.db_path)
        try:
            return con.execute(sql, params).fetchall()
        except sqlite3.OperationalError:  # the daemon has not created the tables yet
            return []
        finally:
            con.close()

    def runs(self, source_id: str, status: str | None = None) -> list[tuple]:
        """(id, started_at, finished_at, status, error) of the daemon's runs of a source (alone or
        in a batch), oldest first."""
        rows = self.query(
            "SELECT id, started_at, finished_at, status, error FROM runs JOIN run_sources ON run_id = id"
            " WHERE source_id = ? AND trigger = 'daemon' ORDER BY id",
            source_id,
        )
        return [row for row in rows if status is None or row[3] == status]

    def lock(self, source_id: str) -> tuple | None:
        rows = self.query("SELECT pid, holder, run_id FROM source_locks WHERE source_id = ?", source_id)
        return rows[0] if rows else None

    def log(self) -> str:
        return self.log_file.read_text("utf-8") if self.log_file.exists() else ""

    def crawl_starts(self) -> list[tuple[datetime, set[str]]]:
        """When each crawl started by the daemon's clock, and the sources it took."""
        return [(self.log_time(line), set(line.split(": ")[-2].split(", ")))
                for line in self.log().splitlines() if line.endswith(": crawl starting")]

    def log_time(self, text: str) -> datetime:
        """When the daemon logged the first line containing `text`, by its own clock."""
        line = next(line for line in self.log().splitlines() if text in line)
        return datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").astimezone()  # logging's asctime, local time

    def wait_for(self, condition, what: str, timeout: float = HANG_SECONDS) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{what}: not within {timeout}s (daemon exit code {self.process.poll()}).\n"
                            f"Log:\n{self.log()[-4000:]}\nstderr:\n{self.stderr_file.read_text()[-2000:]}")
            time.sleep(0.2)


@pytest.fixture
def docwatch(tmp_path):
    made = []

    def make(watchlist: Path) -> Docwatch:
        made.append(Docwatch(tmp_path, watchlist))
        return made[-1]

    yield make
    for workspace in made:
        if workspace.process and workspace.process.poll() is None:
            workspace.process.kill()
            workspace.process.wait()


def assert_never_overlapping(runs: list[tuple]) -> None:
    for earlier, later in zip(runs, runs[1:]):
        assert earlier[2] is not None and earlier[2] <= later[1], f"run {later[0]} started before run {earlier[0]} finished"


def test_daemon_runs_every_source_on_schedule_holds_its_sources_and_stops_within_the_grace_period(
    tmp_path, site, gated, other_gated, docwatch
):
    watchlist = tmp_path / "watchlist.yaml"
    watchlist.write_text(watchlist_text(  # the two gated sources on two sites: two crawls
        tmp_path, site.base_url, "2s",
        gated_source("awaited", f"{gated.base_url}/awaited.html") + gated_source("stuck", f"{other_gated.base_url}/stuck.html"),
    ), "utf-8")
    daemon = docwatch(watchlist)
    daemon.start_daemon("--workers", "4", "--grace", "15")  # long enough for the awaited crawl on a loaded machine

    # Both gated sources are being crawled by the daemon's children, which hold their locks.
    daemon.wait_for(lambda: daemon.lock("stuck") and daemon.lock("awaited"), "the gated sources are being crawled")
    holder_pid, holder, run_id = daemon.lock("stuck")
    assert holder == "daemon" and holder_pid != daemon.process.pid

    # A one-off crawl of a source the daemon holds refuses, naming the holder, and crawls nothing.
    refused = daemon.cli("crawl", "--source", "stuck")
    assert refused.returncode == 3, refused.stderr
    assert f"source stuck is being crawled by pid {holder_pid} (daemon)" in refused.stderr
    assert "try again later" in refused.stderr
    assert daemon.query("SELECT count(*) FROM runs WHERE trigger = 'cli'") == [(0,)]

    # A second daemon on the same database refuses to start.
    second = daemon.cli("daemon")
    assert second.returncode == 3
    assert f"a daemon is already running on this database: pid {daemon.process.pid}" in second.stderr

    status = daemon.cli("status")
    assert status.returncode == 0, status.stderr
    assert f"daemon: running, pid {daemon.process.pid}" in status.stdout
    assert f"crawling    now, pid {holder_pid} (daemon)" in status.stdout

    # Sources on a 2s interval run again and again, never two runs of one source at once.
    for source_id in ("demo-rst-work-news", "demo-xinhua-xinjiang"):
        daemon.wait_for(lambda: len(daemon.runs(source_id, "done")) >= 2, f"{source_id} ran twice")

    # SIGTERM: no new crawls; the awaited crawl, answered within the grace period, finishes;
    # the stuck one is killed when the grace period ends and recorded interrupted.
    daemon.process.send_signal(signal.SIGTERM)
    daemon.wait_for(lambda: "stopping: waiting up to 15s for " in daemon.log(), "the daemon starts its grace period")
    gated.gate.set()
    assert daemon.process.wait(timeout=HANG_SECONDS) == 0
    grace_began = daemon.log_time("stopping: waiting up to 15s for ")

    [(_, _, awaited_finished, awaited_status, awaited_error)] = daemon.runs("awaited")
    assert (awaited_status, awaited_error) == ("done", None)
    assert daemon.query("SELECT pages_fetched, pages_new FROM runs WHERE sources = ?", '["awaited"]') == [(1, 1)]
    [(stuck_run, _, stuck_finished, stuck_status, stuck_error)] = daemon.runs("stuck")
    assert (stuck_run, stuck_status) == (run_id, "interrupted")
    assert "did not finish within the grace period of 15s" in stuck_error
    # By the daemon's own clocks (log and database, both to the millisecond): the stuck crawl
    # was given the whole grace period, and the awaited one was not cut short by it.
    assert datetime.fromisoformat(stuck_finished) - grace_began >= timedelta(seconds=15)
    assert datetime.fromisoformat(awaited_finished) < datetime.fromisoformat(stuck_finished)
    for source_id in ("demo-rst-work-news", "demo-xinhua-xinjiang"):
        assert_never_overlapping(daemon.runs(source_id))
    assert daemon.query("SELECT count(*) FROM runs WHERE status = 'running'") == [(0,)]
    assert daemon.query("SELECT count(*) FROM source_locks") == [(0,)]
    assert daemon.query("SELECT count(*) FROM daemons WHERE stopped_at IS NULL") == [(0,)]
    assert "stopping: waiting up to 15s for source:awaited," in daemon.log()


def test_broken_watchlist_is_rejected_while_runs_go_on_and_a_fixed_one_is_applied_on_sighup(
    tmp_path, site, gated, docwatch
):
    watchlist = tmp_path / "watchlist.yaml"
    valid = watchlist_text(tmp_path, site.base_url, "2s")
    one_source = valid[: valid.index("  - id: demo-rst-work-news")] + valid[valid.index("  - id: demo-xinhua-xinjiang"):]
    watchlist.write_text(one_source + gated_source("stuck", f"{gated.base_url}/stuck.html"), "utf-8")
    daemon = docwatch(watchlist)
    daemon.start_daemon("--workers", "3", "--time-limit", "20")  # a loaded machine starts a crawl slowly
    daemon.wait_for(lambda: daemon.runs("demo-xinhua-xinjiang", "done"), "the first run")

    # A broken edit: rejected with the validation message; runs continue on the old watchlist.
    watchlist.write_text(one_source.replace("interval: 2s", "interval: 2 seconds"), "utf-8")
    daemon.wait_for(lambda: "watchlist rejected" in daemon.log(), "the broken watchlist is rejected")
    assert "'2 seconds' is not a duration" in daemon.log()
    runs_before = len(daemon.runs("demo-xinhua-xinjiang", "done"))
    daemon.wait_for(lambda: len(daemon.runs("demo-xinhua-xinjiang", "done")) >= runs_before + 2, "runs continue")

    # The stuck crawl went over the time limit: killed, its run recorded interrupted.
    daemon.wait_for(lambda: daemon.runs("stuck", "interrupted"), "the stuck crawl is stopped")
    assert "took longer than the time limit of 20s" in daemon.runs("stuck")[0][4]

    # A fixed watchlist (both demo sources, no stuck one), saved with the old mtime so that only
    # SIGHUP can bring it in.
    mtime = watchlist.stat().st_mtime_ns
    watchlist.write_text(valid, "utf-8")
    os.utime(watchlist, ns=(mtime, mtime))
    daemon.process.send_signal(signal.SIGHUP)
    daemon.wait_for(lambda: daemon.runs("demo-rst-work-news", "done"), "the added source runs")
    assert "SIGHUP: reloading" in daemon.log()
    assert "removed stuck" in daemon.log()
    assert_never_overlapping(daemon.runs("demo-xinhua-xinjiang"))

    daemon.process.send_signal(signal.SIGTERM)
    assert daemon.process.wait(timeout=HANG_SECONDS) == 0




def archived(workspace: Docwatch, url: str) -> tuple[str | None, str | None]:
    """(state, Wayback URL) of the archive request for `url`."""
    rows = workspace.query("SELECT state, wayback_url FROM archive_requests WHERE url = ?", url)
    return rows[0] if rows else (None, None)


def test_overdue_sources_catch_up_at_start_the_archive_queue_is_worked_and_status_shows_it_all(tmp_path, site, docwatch):
    watchlist = tmp_path / "watchlist.yaml"
    watchlist.write_text(watchlist_text(tmp_path, site.base_url, "1h"), "utf-8")
    workspace = docwatch(watchlist)
    assert workspace.cli("crawl", "--source", "demo-xinhua-xinjiang").returncode == 0
    [(cli_started,)] = workspace.query("SELECT started_at FROM runs WHERE trigger = 'cli'")
    page_url = f"{site.base_url}/politics/leaders/20240509/3dd6e33cc6d749fbaae01fea337ff400/c.html"
    queue_db = open_database(workspace.db_path)
    archive_queue.enqueue(queue_db, page_url, "manual")
    queue_db.close()

    # demo-rst-work-news never ran: overdue, it runs at once. The Xinhua page ran a moment ago
    # by hand: it is not due for an hour, and must not run again now. Every 2s the daemon works
    # the archive queue against a local Wayback Machine.
    with FakeWayback("test-access", "test-secret") as wayback:
        workspace.env.update({
            "DOCWATCH_WAYBACK_URL": wayback.base_url, "DOCWATCH_IA_ACCESS_KEY": "test-access",
            "DOCWATCH_IA_SECRET_KEY": "test-secret", "DOCWATCH_ARCHIVE_POLL_INTERVAL": "0.2",
        })
        workspace.start_daemon("--archive-every", "2")
        workspace.wait_for(lambda: workspace.runs("demo-rst-work-news", "done"), "the overdue source runs")
        # After its crawl the daemon indexes what it stored, so the workbench's next search has
        # nothing to catch up (the CLI crawl's snapshot included).
        workspace.wait_for(lambda: "search index: " in workspace.log(), "the daemon indexes the new snapshots")
        assert workspace.query("SELECT count(*) FROM snapshots WHERE id NOT IN (SELECT rowid FROM snapshot_search)") == [(0,)]
        workspace.wait_for(lambda: archived(workspace, page_url)[0] == "done", "the archive queue is worked")
        workspace.wait_for(lambda: "archive-queue: " in workspace.log(), "the daemon logs the archive work")
        assert archived(workspace, page_url)[1].startswith(f"{wayback.base_url}/web/")
    # The daemon's own account of its schedule: only the source that never ran is overdue.
    assert "demo-rst-work-news (every 1h, overdue)" in workspace.log()
    assert "demo-xinhua-xinjiang (every 1h)" in workspace.log()

    report = json.loads(workspace.cli("status", "--json").stdout)
    assert report["daemon"]["pid"] == workspace.process.pid
    assert report["archive_queue"]["done"] >= 1
    by_id = {source["id"]: source for source in report["sources"]}
    xinhua = by_id["demo-xinhua-xinjiang"]
    assert xinhua["last_run"]["trigger"] == "cli" and xinhua["last_run"]["pages_new"] == 1
    assert xinhua["next_run"] == (datetime.fromisoformat(cli_started) + timedelta(hours=1)).isoformat(timespec="seconds")
    assert not xinhua["overdue"]
    rst = by_id["demo-rst-work-news"]
    assert (rst["last_run"]["trigger"], rst["last_run"]["status"], rst["last_run"]["pages"]) == ("daemon", "done", 5)
    assert rst["last_run"]["new_hits"] > 0  # 转移就业… on the real pages: flagged once, as new

    workspace.process.send_signal(signal.SIGINT)
    assert workspace.process.wait(timeout=HANG_SECONDS) == 0
    assert workspace.runs("demo-xinhua-xinjiang") == []  # not once while the daemon ran
    text = workspace.cli("status").stdout
    assert "daemon: not running (last one stopped" in text
    assert f"Archive queue: {report['archive_queue']['queued']} queued" in text
    assert "demo-xinhua-xinjiang  (every 1h)" in text
    assert f"next run    {xinhua['next_run']} (when a daemon runs)" in text


def test_a_lock_left_by_a_killed_crawl_is_recovered_and_its_run_marked_interrupted(tmp_path, site, gated, docwatch):
    watchlist = tmp_path / "watchlist.yaml"
    stuck = gated_source("watched", f"{gated.base_url}/stuck.html")
    watchlist.write_text(watchlist_text(tmp_path, site.base_url, "1h", stuck), "utf-8")
    workspace = docwatch(watchlist)
    crawl = subprocess.Popen([sys.executable, "-m", "crawler", "--db", str(workspace.db_path), "--watchlist",
                              str(watchlist), "crawl", "--source", "watched"],
                             env={**os.environ, "DOCWATCH_ENV": "local"}, stderr=subprocess.DEVNULL)
    workspace.process = crawl
    workspace.wait_for(lambda: workspace.lock("watched") and workspace.lock("watched")[2], "the crawl holds its lock")
    crawl.send_signal(signal.SIGKILL)
    crawl.wait()
    [(run_id, status)] = workspace.query("SELECT id, status FROM runs")
    assert status == "running"

    # The page is reachable again; the next crawl takes the dead crawl's lock over.
    watchlist.write_text(watchlist.read_text("utf-8").replace(f"{gated.base_url}/stuck.html", site.base_url + "/"), "utf-8")
    again = workspace.cli("crawl", "--source", "watched")
    assert again.returncode == 0, again.stderr
    assert "1 pages fetched, 1 new" in again.stdout
    [(status, error)] = workspace.query("SELECT status, error FROM runs WHERE id = ?", run_id)
    assert status == "interrupted"
    assert f"pid {crawl.pid} on " in error and "stopped without finishing" in error
    assert workspace.query("SELECT count(*) FROM source_locks") == [(0,)]


@pytest.mark.parametrize(
    ("crontab", "weekdays"),
    [
        ("0 6 * * 1", {"Monday"}),
        ("0 6 * * 0", {"Sunday"}),
        ("0 6 * * 7", {"Sunday"}),
        ("0 6 * * 1-5", {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday"}),
        ("0 6 * * 0,6", {"Saturday", "Sunday"}),
        ("0 6 * * */2", {"Sunday", "Tuesday", "Thursday", "Saturday"}),
        ("0 6 * * mon-fri", {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday"}),
    ],
)
def test_cron_weekdays_mean_what_they_mean_in_crontab(crontab: str, weekdays: set[str]) -> None:
    trigger = cron_trigger(crontab)
    fire, seen = None, set()
    now = datetime(2024, 5, 6, tzinfo=timezone.utc)  # a Monday
    for _ in range(14):
        fire = trigger.get_next_fire_time(fire, now)
        seen.add(fire.strftime("%A"))
        now = fire
    assert seen == weekdays
    assert fire.hour == 6


def page_source(source_id: str, url: str, interval: str) -> str:
    return f"""
  - id: {source_id}
    url: "{url}"
    type: page
    interval: {interval}
"""


def batches(workspace: Docwatch) -> dict[int, set[str]]:
    """Each run of the daemon: the sources it covered."""
    found: dict[int, set[str]] = {}
    for run_id, source_id in workspace.query(
            "SELECT run_id, source_id FROM run_sources JOIN runs ON runs.id = run_id WHERE trigger = 'daemon'"):
        found.setdefault(run_id, set()).add(source_id)
    return found


def test_a_batch_is_the_source_due_longest_with_its_site_s_other_due_then_upcoming_sources_up_to_its_size():
    at = datetime(2026, 12, 1, 6, tzinfo=timezone.utc)
    sites = {"a1": "http://a.gov.cn", "a2": "http://a.gov.cn", "a3": "http://a.gov.cn", "a4": "http://a.gov.cn",
             "b1": "https://b.gov.cn"}
    due = {"a2": at + timedelta(seconds=5), "b1": at, "a1": at + timedelta(seconds=1)}
    upcoming = {"a3": at + timedelta(seconds=90), "a4": at + timedelta(seconds=30)}
    assert choose_batch(due, upcoming, sites, 20) == ["b1"]  # due longest; no other source of its site
    del due["b1"]
    assert choose_batch(due, upcoming, sites, 20) == ["a1", "a2", "a4", "a3"]
    assert choose_batch(due, upcoming, sites, 3) == ["a1", "a2", "a4"]
    assert choose_batch(due, upcoming, sites, 1) == ["a1"]


def test_due_sources_of_one_site_are_crawled_by_one_process_and_each_keeps_its_outcome_and_interval(
    tmp_path, site, gated, docwatch
):
    copy = f"{site.base_url}/politics/leaders/20240509/3dd6e33cc6d749fbaae01fea337ff400/c.html?copy="
    watchlist = tmp_path / "watchlist.yaml"
    watchlist.write_text(watchlist_text(
        tmp_path, site.base_url, "1h",
        page_source("copy-1", copy + "1", "6h") + page_source("copy-2", copy + "2", "6h")
        + gated_source("elsewhere", f"{gated.base_url}/awaited.html"),
    ), "utf-8")
    gated.gate.set()
    workspace = docwatch(watchlist)
    workspace.start_daemon()
    on_the_demo_site = {"demo-rst-work-news", "demo-xinhua-xinjiang", "copy-1", "copy-2"}
    for source_id in on_the_demo_site | {"elsewhere"}:
        workspace.wait_for(lambda: workspace.runs(source_id, "done"), f"{source_id} is crawled")

    # All overdue at start: the four sources of the demo site in one crawl process (one run),
    # the source of the other site in another.
    assert sorted(batches(workspace).values(), key=len) == [{"elsewhere"}, on_the_demo_site]
    assert sorted((sources for _, sources in workspace.crawl_starts()), key=len) == [{"elsewhere"}, on_the_demo_site]

    # Each source's own outcome, and its own next run, by its own interval from that run.
    report = {source["id"]: source for source in json.loads(workspace.cli("status", "--json").stdout)["sources"]}
    [batch_run] = {report[source_id]["last_run"]["run_id"] for source_id in on_the_demo_site}
    assert report["elsewhere"]["last_run"]["run_id"] != batch_run
    assert {(source_id, report[source_id]["last_run"]["status"], report[source_id]["last_run"]["pages_new"])
            for source_id in report} == {("demo-rst-work-news", "done", 5), ("demo-xinhua-xinjiang", "done", 1),
                                         ("copy-1", "done", 1), ("copy-2", "done", 1), ("elsewhere", "done", 1)}
    started = datetime.fromisoformat(report["copy-1"]["last_run"]["started_at"])
    for source_id, interval in (("copy-1", timedelta(hours=6)), ("demo-xinhua-xinjiang", timedelta(hours=1))):
        assert report[source_id]["next_run"] == (started + interval).isoformat(timespec="seconds")

    workspace.process.send_signal(signal.SIGTERM)
    assert workspace.process.wait(timeout=HANG_SECONDS) == 0
    assert len(batches(workspace)) == 2  # nobody ran twice


def test_a_source_taken_along_early_by_a_batch_is_still_crawled_no_more_often_than_its_interval(tmp_path, site, docwatch):
    page = f"{site.base_url}/politics/leaders/20240509/3dd6e33cc6d749fbaae01fea337ff400/c.html"
    watchlist = tmp_path / "watchlist.yaml"
    watchlist.write_text(watchlist_text(tmp_path, site.base_url, "1h").split("sources:")[0] + "sources:"
                         + page_source("often", page + "?often", "2s") + page_source("seldom", page + "?seldom", "8s"),
                         "utf-8")
    workspace = docwatch(watchlist)
    window = timedelta(seconds=3)
    workspace.start_daemon("--workers", "1", "--batch-window", "3")
    workspace.wait_for(lambda: len(workspace.runs("seldom", "done")) >= 3, "seldom ran three times")
    workspace.process.send_signal(signal.SIGTERM)
    assert workspace.process.wait(timeout=HANG_SECONDS) == 0

    starts = workspace.crawl_starts()
    assert starts[0][1] == {"often", "seldom"}  # both overdue at start (2s apart): one crawl
    assert all("often" in sources for _, sources in starts)  # due or due within the window each time
    seldom = [at for at, sources in starts if "seldom" in sources]
    # Taken along at most the window early, never more often than its interval allows (the
    # log's clock has milliseconds).
    for earlier, later in zip(seldom, seldom[1:]):
        assert later - earlier >= timedelta(seconds=8) - window - timedelta(milliseconds=1)


def test_the_time_limit_of_a_batch_grows_with_its_sources_and_a_batch_over_it_is_killed_and_each_source_interrupted(
    tmp_path, gated, docwatch
):
    watchlist = tmp_path / "watchlist.yaml"
    watchlist.write_text("keyword_sets:\n  labor_transfer:\n    terms: [转移就业]\nsources:"
                         + gated_source("quick", f"{gated.base_url}/awaited.html")
                         + gated_source("stuck", f"{gated.base_url}/stuck.html"), "utf-8")
    gated.gate.set()
    workspace = docwatch(watchlist)
    workspace.start_daemon("--time-limit", "8")
    workspace.wait_for(lambda: workspace.runs("stuck", "interrupted"), "the batch is stopped")

    [(run_id, started, finished, status, error)] = workspace.runs("stuck")
    assert workspace.runs("quick") == [(run_id, started, finished, status, error)]  # one run, both sources
    assert error == ("stopped by the daemon: the crawl took longer than the time limit of 16s "
                     "(8s for each of its 2 sources)")
    [(crawl_started, _)] = workspace.crawl_starts()
    assert datetime.fromisoformat(finished) - crawl_started >= timedelta(seconds=16)  # by the daemon's own clocks
    report = {source["id"]: source for source in json.loads(workspace.cli("status", "--json").stdout)["sources"]}
    assert report["quick"]["last_run"]["status"] == report["stuck"]["last_run"]["status"] == "interrupted"
    assert report["quick"]["last_run"]["pages_new"] == 1  # what was stored before the kill stays
    assert f"(run {run_id} marked interrupted)" in workspace.log()
    assert workspace.query("SELECT count(*) FROM source_locks") == [(0,)]
    workspace.process.send_signal(signal.SIGTERM)
    assert workspace.process.wait(timeout=HANG_SECONDS) == 0


def test_a_source_another_process_is_crawling_is_left_out_of_a_batch_and_the_others_are_crawled(
    tmp_path, gated, docwatch
):
    watchlist = tmp_path / "watchlist.yaml"
    watchlist.write_text("keyword_sets:\n  labor_transfer:\n    terms: [转移就业]\nsources:"
                         + gated_source("held", f"{gated.base_url}/stuck.html").replace("interval: 1h", "interval: 2s")
                         + gated_source("free", f"{gated.base_url}/awaited.html"), "utf-8")
    gated.gate.set()
    workspace = docwatch(watchlist)
    one_off = subprocess.Popen([sys.executable, "-m", "crawler", "--db", str(workspace.db_path), "--watchlist",
                                str(watchlist), "crawl", "--source", "held"],
                               env={**os.environ, "DOCWATCH_ENV": "local", **workspace.env}, stderr=subprocess.DEVNULL)
    try:
        workspace.process = one_off
        workspace.wait_for(lambda: workspace.lock("held") and workspace.lock("held")[2], "the one-off crawl holds its lock")
        workspace.start_daemon()
        # Both due (the held one ran a moment ago, on a 2s interval): one batch, which skips the held one.
        skipped = f": skipped: source held is being crawled by pid {one_off.pid} (cli) on "
        workspace.wait_for(lambda: any(skipped in line and "free" in line.split(skipped)[0].split(": ")[-1]
                                       for line in workspace.log().splitlines()), "the held source is skipped")
        [(free_run, *_)] = workspace.runs("free", "done")
        assert batches(workspace) == {free_run: {"free"}}
        assert workspace.lock("held")[0] == one_off.pid  # still the one-off crawl's
        workspace.process.send_signal(signal.SIGTERM)
        assert workspace.process.wait(timeout=HANG_SECONDS) == 0
    finally:
        one_off.kill()
        one_off.wait()
