"""`docwatch daemon`: the watchlist on schedule, unattended, for months.

One APScheduler job per source (id `source:<id>`), on the source's interval or cron, with
jitter so that sources do not fire together. A job that fires only marks its source due; crawl
workers (threads) take the due sources in batches: the one due longest, with the other sources
of its site that are due or will be within the batch window, up to the batch size. Each batch
is one `docwatch crawl` child process (Scrapy's reactor cannot restart within one process, and
its start-up, a second or two of CPU, is most of the cost of crawling a source of a few pages)
with a time limit; the child takes the sources' locks and records the run, so the daemon and a
one-off crawl never overlap. Every source of a batch is next due one interval after the batch
started.

The main thread only reacts to signals and watches the watchlist's mtime. The children read a
copy of the last valid watchlist, kept in the data directory, so a broken edit never reaches them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import logging.handlers
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

import psutil
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger

from crawler.config.settings import Config
from crawler.config.schedule import cron_trigger
from crawler.run.runner import SKIPPED_BUSY, crawl_in_subprocess, docwatch_in_subprocess, kill_process_group
from crawler.config.watchlist import (
    DEFAULT_INTERVAL_SECONDS, Problem, Source, Watchlist, WatchlistError, parse_watchlist,
)
from storage import locks, open_database, queries, search
from storage.connection import Database

log = logging.getLogger("docwatch.daemon")

CATCHUP_SPACING_SECONDS = 2  # overdue sources start this far apart after a (re)start
WATCH_POLL_SECONDS = 2  # how often the watchlist's mtime is checked
INTERVAL_JITTER_FRACTION = 0.1  # up to 10% of the interval...
MAX_JITTER_SECONDS = 300  # ...but at most 5 minutes
CRON_JITTER_SECONDS = 60
LOG_FILE_BYTES = 5 * 1024 * 1024
LOG_FILE_BACKUPS = 5
MAX_LOGGED_OUTPUT_CHARS = 2000  # of a failed crawl's stderr


@dataclass(frozen=True)
class DaemonOptions:
    workers: int = 2  # crawls at the same time
    time_limit: float = 3600  # seconds the crawl of one source may take (of a batch: times its sources)
    grace: float = 60  # seconds running crawls get to finish at shutdown
    archive_every: float = 300  # seconds between two workings of the archive queue
    batch_size: int = 20  # sources one crawl process takes at most
    batch_window: float = 180  # seconds: a crawl takes along the sources of its site due this soon


@dataclass(frozen=True)
class HousekeepingJob:
    """Work that is not a crawl: a `docwatch` command run in a child process, like a crawl: killed
    with its process group past its time limit, stopped at shutdown, its outcome logged (the
    archive queue is safe to kill at any moment; a digest that did not finish is not recorded)."""

    id: str
    arguments: tuple[str, ...]
    timeout_seconds: float


def archive_job(options: DaemonOptions) -> HousekeepingJob:
    """Works the archive queue every `archive_every` seconds, and is done before the next is due."""
    archive_for = max(1.0, options.archive_every * 0.8)
    return HousekeepingJob("archive-queue", ("archive", "run", "--max-seconds", f"{archive_for:g}"), options.archive_every)


def digest_job(options: DaemonOptions) -> HousekeepingJob:
    """The watchlist's scheduled digest, on its `when:` crontab."""
    return HousekeepingJob("digest", ("digest", "--scheduled"), options.time_limit)


# ---------------------------------------------------------------------------------------------
# Schedules


def trigger_for(source: Source, anchor: datetime) -> BaseTrigger:
    """The source's schedule with jitter; an interval counts from `anchor` (its last run)."""
    if source.cron is not None:
        return cron_trigger(source.cron, jitter=CRON_JITTER_SECONDS)
    seconds = source.interval or DEFAULT_INTERVAL_SECONDS
    return IntervalTrigger(
        seconds=seconds, start_date=anchor, timezone=timezone.utc,
        jitter=min(seconds * INTERVAL_JITTER_FRACTION, MAX_JITTER_SECONDS),
    )


def next_run_after(source: Source, started: datetime) -> datetime:
    """When a source whose crawl started at `started` is due again: one interval later, or the
    next cron time, with jitter."""
    return trigger_for(source, started).get_next_fire_time(started, started)


def site_of(source: Source) -> str:
    """Scheme, host and port: the sources of one site are crawled together, and the crawl's
    per-host politeness (download delay, AutoThrottle) spaces their requests."""
    parts = urlsplit(source.url)
    return f"{parts.scheme}://{parts.netloc.lower()}"


def choose_batch(due: Mapping[str, datetime], upcoming: Mapping[str, datetime], sites: Mapping[str, str],
                 size: int) -> list[str]:
    """The sources one crawl process takes: the source due longest, then the other sources of its
    site, those due (longest first) before those whose schedule comes within the batch window
    (`upcoming`, soonest first); `size` at most."""
    first = min(due, key=lambda source_id: (due[source_id], source_id))
    waiting = sorted((when, source_id) for source_id, when in due.items() if source_id != first)
    soon = sorted((when, source_id) for source_id, when in upcoming.items() if source_id not in due)
    batch = [first]
    for _, source_id in waiting + soon:
        if len(batch) == size:
            break
        if sites[source_id] == sites[first]:
            batch.append(source_id)
    return batch


def last_started(db_path: Path) -> dict[str, datetime]:
    with _database(db_path) as db:
        runs = queries.last_run_starts(db)
    return {source_id: datetime.fromisoformat(started_at) for source_id, (_, started_at) in runs.items()}


@contextlib.contextmanager
def _database(path: Path) -> Iterator[Database]:
    """A connection for one piece of work: SQLite connections belong to the thread that opened them."""
    db = open_database(path)
    try:
        yield db
    finally:
        db.close()


# ---------------------------------------------------------------------------------------------
# Logging


def configure_logging(log_dir: Path) -> Path:
    """Everything the daemon says goes to stderr (the journal under systemd) and to a rotating
    file, so months of running fill at most LOG_FILE_BYTES * (LOG_FILE_BACKUPS + 1)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / "daemon.log"
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    root = logging.getLogger()
    for handler in (
        logging.handlers.RotatingFileHandler(path, maxBytes=LOG_FILE_BYTES, backupCount=LOG_FILE_BACKUPS, encoding="utf-8"),
        logging.StreamHandler(sys.stderr),
    ):
        handler.setFormatter(formatter)
        root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # its per-job chatter repeats ours
    return path


# ---------------------------------------------------------------------------------------------
# The daemon


class Daemon:
    def __init__(self, config: Config, options: DaemonOptions) -> None:
        self.config = config
        self.options = options
        self.active_watchlist = config.data_dir / "daemon" / f"watchlist-active-{os.getpid()}.yaml"
        self.child_config = dataclasses.replace(config, watchlist_path=self.active_watchlist)
        self.scheduler = BackgroundScheduler(  # source jobs only mark their source due: one thread
            executors={"default": ThreadPoolExecutor(1), HOUSEKEEPING: ThreadPoolExecutor(2)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        self._schedules: dict[str, tuple[int | None, str | None]] = {}
        self._watchlist_mtime: int | None = None
        self._running: set[str] = set()
        self._lock = threading.Lock()
        self._work_waiting = threading.Condition(self._lock)
        self._sources: dict[str, Source] = {}  # of the watchlist in force
        self._sites: dict[str, str] = {}  # source id -> site_of(source)
        self._due: dict[str, datetime] = {}  # source id -> when it fell due, until a crawl takes it
        self._crawling: set[str] = set()
        self._crawl_workers = [threading.Thread(target=self._crawl_worker, name=f"crawl-worker-{n}", daemon=True)
                               for n in range(options.workers)]
        self._stop = threading.Event()
        self._stopping = False
        self._hurry = False
        self._reload_requested = False

    # -- life cycle

    def run(self) -> None:
        """Run until SIGTERM or SIGINT. Raises DaemonRunning if another daemon uses the
        database, WatchlistError if the watchlist is not valid at start."""
        with _database(self.config.db_path) as db:
            daemon_id = locks.register_daemon(db, str(self.config.watchlist_path))
        log.info("daemon pid %s started: watchlist %s, database %s, %d worker(s), time limit %gs, grace %gs, "
                 "batches of up to %d sources of a site due within %gs", os.getpid(), self.config.watchlist_path,
                 self.config.db_path, self.options.workers, self.options.time_limit, self.options.grace,
                 self.options.batch_size, self.options.batch_window)
        self._install_signal_handlers()
        try:
            self._schedule(self._read_watchlist())
            job = archive_job(self.options)
            self.scheduler.add_job(self._housekeeping, "interval", args=[job], seconds=self.options.archive_every,
                                   id=f"housekeeping:{job.id}", name=job.id, executor=HOUSEKEEPING)
            self.scheduler.start()
            for worker in self._crawl_workers:
                worker.start()
            self._main_loop(daemon_id)
        finally:
            self._shutdown()
            with _database(self.config.db_path) as db:
                locks.unregister_daemon(db, daemon_id)
            self.active_watchlist.unlink(missing_ok=True)
            log.info("daemon pid %s stopped", os.getpid())

    def _install_signal_handlers(self) -> None:
        def stop(signum: int, _frame) -> None:
            if self._stop.is_set():
                self._hurry = True  # a second signal: stop running crawls now
            self._stop.set()

        def reload(_signum: int, _frame) -> None:
            self._reload_requested = True

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGHUP, reload)

    def _main_loop(self, daemon_id: int) -> None:
        next_heartbeat = time.monotonic() + locks.HEARTBEAT_SECONDS
        while not self._stop.wait(WATCH_POLL_SECONDS):
            try:
                if self._reload_requested:
                    self._reload_requested = False
                    log.info("SIGHUP: reloading %s", self.config.watchlist_path)
                    self._reload()
                elif self._watchlist_changed():
                    log.info("%s changed: reloading", self.config.watchlist_path)
                    self._reload()
                if time.monotonic() >= next_heartbeat:
                    with _database(self.config.db_path) as db:
                        locks.daemon_heartbeat(db, daemon_id)
                    next_heartbeat = time.monotonic() + locks.HEARTBEAT_SECONDS
            except Exception:  # unattended for months: a failed reload or heartbeat must not stop the crawls
                log.exception("daemon housekeeping failed; trying again in %ss", WATCH_POLL_SECONDS)

    def _shutdown(self) -> None:
        """No new crawls; running ones get the grace period, then are killed and recorded interrupted."""
        with self._lock:
            self._stopping = True
            self._work_waiting.notify_all()
            running = sorted(self._running)
        if self.scheduler.running:
            self.scheduler.pause()
        if running:
            log.info("stopping: waiting up to %gs for %s", self.options.grace, ", ".join(running))
        deadline = time.monotonic() + self.options.grace
        while self._running and time.monotonic() < deadline and not self._hurry:
            time.sleep(0.2)
        while self._running:
            for child in psutil.Process().children():
                kill_process_group(child.pid)  # the worker thread sees the signal and records the run interrupted
            time.sleep(0.2)
        for worker in self._crawl_workers:
            if worker.ident is not None:
                worker.join()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)

    # -- the watchlist

    def _read_watchlist(self) -> Watchlist:
        """Validate the watchlist file and, if valid, make exactly that text the children's copy."""
        path = self.config.watchlist_path
        self._watchlist_mtime = path.stat().st_mtime_ns if path.exists() else None
        try:
            raw = path.read_bytes()
            watchlist = parse_watchlist(raw.decode("utf-8-sig"), str(path))
        except (OSError, UnicodeDecodeError) as error:
            raise WatchlistError(path, [Problem(None, None, "", f"cannot read the file: {error}")]) from None
        self.active_watchlist.parent.mkdir(parents=True, exist_ok=True)
        staged = self.active_watchlist.with_suffix(".new")
        staged.write_bytes(raw)
        os.replace(staged, self.active_watchlist)
        return watchlist

    def _watchlist_changed(self) -> bool:
        path = self.config.watchlist_path
        mtime = path.stat().st_mtime_ns if path.exists() else None
        return mtime != self._watchlist_mtime

    def _reload(self) -> None:
        try:
            watchlist = self._read_watchlist()
        except WatchlistError as error:
            log.error("watchlist rejected, still running on the previous one (%d sources):\n%s",
                      len(self._schedules), error)
            return
        self._schedule(watchlist)

    def _schedule(self, watchlist: Watchlist) -> None:
        """Make the jobs match the watchlist. A job whose schedule did not change keeps its
        next run; new or changed ones start from the source's last run in the database, and
        those already overdue run first, CATCHUP_SPACING_SECONDS apart."""
        now = datetime.now(timezone.utc)
        wanted = {source.id: source for source in watchlist.sources}
        removed = sorted(self._schedules.keys() - wanted.keys())
        for source_id in removed:
            self.scheduler.remove_job(_job_id(source_id))
            del self._schedules[source_id]
        with self._lock:
            self._sources, self._sites = wanted, {source.id: site_of(source) for source in watchlist.sources}
            for source_id in removed:
                self._due.pop(source_id, None)
        last = last_started(self.config.db_path)
        changed, overdue = [], 0
        for source in watchlist.sources:
            schedule = (source.interval, source.cron)
            if self._schedules.get(source.id) == schedule:
                continue
            due = source.due_at(last.get(source.id))
            catch_up = {}
            if due is None or due <= now:
                catch_up["next_run_time"] = now + timedelta(seconds=overdue * CATCHUP_SPACING_SECONDS)
                overdue += 1
            self.scheduler.add_job(
                self._fall_due, trigger_for(source, last.get(source.id, now)), args=[source.id],
                id=_job_id(source.id), name=source.id, replace_existing=True, **catch_up,
            )
            self._schedules[source.id] = schedule
            changed.append(f"{source.id} ({source.schedule_description}{', overdue' if catch_up else ''})")
        log.info("watchlist %s: %d sources; scheduled %s; removed %s", self.config.watchlist_path,
                 len(wanted), ", ".join(changed) or "none", ", ".join(removed) or "none")
        if self.scheduler.get_job(DIGEST_JOB_ID):
            self.scheduler.remove_job(DIGEST_JOB_ID)
        if watchlist.digest is not None:
            self.scheduler.add_job(self._housekeeping, cron_trigger(watchlist.digest.when), args=[digest_job(self.options)],
                                   id=DIGEST_JOB_ID, name="digest", coalesce=True, misfire_grace_time=3600,
                                   executor=HOUSEKEEPING)

    # -- one crawl

    @contextlib.contextmanager
    def _work(self, name: str) -> Iterator[bool]:
        """Counts `name` as running work for the shutdown; yields False once stopping."""
        with self._lock:
            if self._stopping:
                yield False
                return
            self._running.add(name)
        try:
            yield True
        finally:
            with self._lock:
                self._running.discard(name)

    def _housekeeping(self, job: HousekeepingJob) -> None:
        with self._work(f"housekeeping:{job.id}") as go:
            if not go:
                return
            try:
                result = docwatch_in_subprocess(self.child_config, list(job.arguments), timeout=job.timeout_seconds)
            except subprocess.TimeoutExpired:
                log.error("%s: still running after %gs: stopped", job.id, job.timeout_seconds)
                return
            if result.returncode == 0:
                log.info("%s: %s", job.id, result.stdout.strip().replace("\n", " "))
            elif result.returncode < 0 and self._stopping:
                log.info("%s: stopped at shutdown; it resumes where it was at the next start", job.id)
            else:
                log.error("%s: `docwatch %s` exited %s:\n%s", job.id, " ".join(job.arguments), result.returncode,
                          result.stderr.strip()[-MAX_LOGGED_OUTPUT_CHARS:])

    # -- crawls

    def _fall_due(self, source_id: str) -> None:
        """The source's schedule fired: it waits for a crawl worker. A source already waiting
        waits once; one being crawled right now is not crawled again."""
        with self._lock:
            if not self._stopping and source_id in self._sources and source_id not in self._crawling:
                self._due.setdefault(source_id, datetime.now(timezone.utc))
                self._work_waiting.notify()

    def _crawl_worker(self) -> None:
        while (batch := self._next_batch()) is not None:
            name = _work_name(batch)
            try:
                self._crawl_child(batch)
            except Exception:  # unattended for months: one failed batch must not stop the worker
                log.exception("%s: the crawl could not be run", ", ".join(batch))
            finally:
                with self._lock:
                    self._crawling.difference_update(batch)
                    self._running.discard(name)

    def _next_batch(self) -> list[str] | None:
        """The next batch (counted as running work from here on), once a source is due; None
        once the daemon is stopping."""
        while True:
            with self._lock:
                while not self._due and not self._stopping:
                    self._work_waiting.wait()
                if self._stopping:
                    return None
            upcoming = self._upcoming()  # asks the scheduler, outside our lock
            with self._lock:
                if self._stopping:
                    return None
                if not self._due:
                    continue  # another worker took it meanwhile
                upcoming = {source_id: when for source_id, when in upcoming.items()
                            if source_id in self._sources and source_id not in self._crawling}
                batch = choose_batch(self._due, upcoming, self._sites, self.options.batch_size)
                for source_id in batch:
                    self._due.pop(source_id, None)
                self._crawling.update(batch)
                self._running.add(_work_name(batch))
                return batch

    def _upcoming(self) -> dict[str, datetime]:
        """Sources on an interval whose next run comes within the batch window (a cron source
        keeps its time: it joins a crawl once it is due)."""
        horizon = datetime.now(timezone.utc) + timedelta(seconds=self.options.batch_window)
        sources = self._sources
        return {
            job.name: job.next_run_time for job in self.scheduler.get_jobs()
            if job.id == _job_id(job.name) and job.next_run_time is not None and job.next_run_time <= horizon
            and job.name in sources and sources[job.name].cron is None
        }

    def _advance_schedules(self, batch: list[str], started: datetime) -> None:
        """Each source of the batch is next due one interval (or at the next cron time) after it started."""
        for source_id in batch:
            source = self._sources.get(source_id)
            if source is None:
                continue
            try:
                self.scheduler.modify_job(_job_id(source_id), next_run_time=next_run_after(source, started))
            except JobLookupError:  # removed by a reload meanwhile
                pass

    def _crawl_child(self, batch: list[str]) -> None:
        label, limit = ", ".join(batch), self.options.time_limit * len(batch)
        log.info("%s: crawl starting", label)
        self._advance_schedules(batch, datetime.now(timezone.utc))
        try:
            result = crawl_in_subprocess(self.child_config, batch, "daemon", timeout=limit, skip_busy=True)
        except subprocess.TimeoutExpired:  # the child has been killed
            each = f" ({self.options.time_limit:g}s for each of its {len(batch)} sources)" if len(batch) > 1 else ""
            self._interrupted(batch, f"stopped by the daemon: the crawl took longer than the time limit of {limit:g}s{each}")
            return
        if result.returncode == 0:
            for line in result.stderr.splitlines():
                if line.startswith(SKIPPED_BUSY):  # held by another process: the others were crawled
                    log.info("%s: %s", label, line.removeprefix("docwatch: "))
            log.info("%s: %s", label, result.stdout.strip().partition("\n")[0])
            self._index_for_search()
        elif result.returncode == locks.BUSY_EXIT_CODE:
            log.info("%s: skipped: %s", label, result.stderr.strip().removeprefix("docwatch: "))
        elif result.returncode < 0 and self._stopping:
            self._interrupted(batch, "stopped by the daemon at shutdown: the crawl did not finish within "
                                     f"the grace period of {self.options.grace:g}s")
        elif result.returncode < 0:
            self._interrupted(batch, f"the crawl process was killed by {signal.Signals(-result.returncode).name}")
        else:
            log.error("%s: crawl failed (exit %s):\n%s", label, result.returncode,
                      result.stderr.strip()[-MAX_LOGGED_OUTPUT_CHARS:])

    def _index_for_search(self) -> None:
        """Bring the search index up to date with what the crawl stored (storage/search.py), so
        that the workbench's next search has nothing to catch up. A failure here is logged; the
        next search catches up instead."""
        try:
            with _database(self.config.db_path) as db:
                indexed = search.index_new_snapshots(db)
        except Exception:  # noqa: BLE001 (derived data: the crawl's evidence is stored already)
            log.exception("the search index could not be brought up to date")
            return
        if indexed:
            log.info("search index: %d new snapshot(s) indexed", indexed)

    def _interrupted(self, batch: list[str], reason: str) -> None:
        with _database(self.config.db_path) as db:
            recovered = locks.recover_stale_locks(db, batch, reason)
        run_ids = sorted({lock.run_id for lock in recovered if lock.run_id is not None})
        runs = ", ".join(f"run {run_id}" for run_id in run_ids) or "no run recorded yet"
        log.warning("%s: %s (%s marked interrupted)", ", ".join(batch), reason, runs)


DIGEST_JOB_ID = "digest"
HOUSEKEEPING = "housekeeping"  # the executor of the housekeeping jobs, apart from the sources' own


def _job_id(source_id: str) -> str:
    return f"source:{source_id}"


def _work_name(batch: list[str]) -> str:
    return ", ".join(_job_id(source_id) for source_id in batch)
