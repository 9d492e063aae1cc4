"""One crawl run: the watchlist's sources through Scrapy into the database, with a summary."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import click
from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from crawler.fetch.scrapy_settings import base as production_profile
from crawler.fetch.scrapy_settings import local as local_profile
from crawler.config.settings import Config
from crawler.gc_tuning import collect_less_often
from crawler.pipeline.session import storage_failed
from crawler.run.progress import Progress
from crawler.compare.keywords import KeywordSet
from crawler.config.watchlist import ADHOC_SOURCE_ID, Source
from spiders.listing import ListingSpider
from spiders.page import PageSpider
from storage import locks, open_database, out_of_space, queries
from storage.database import describe_write_error


@dataclass(frozen=True)
class RunSummary:
    run: dict | None  # None when not even the end of the run could be written (a full disk)
    unstored: list[dict]  # fetches that stored nothing: failed, gone or skipped, each with its reason
    errors_logged: int  # Scrapy's ERROR log lines: a bug or a broken page worth a look
    log_path: Path  # where Scrapy's log of the run went
    storage_error: str | None = None  # the crawl stopped because it could not write its data


CRAWL_LOG = "crawl.log"
CRAWL_LOG_ROTATE_BYTES = 10 * 1024 * 1024  # then renamed to crawl.log.1 (one old file kept)
TERMINAL_LOG_LEVELS = {1: logging.INFO, 2: logging.DEBUG}  # by the number of -v
SKIPPED_BUSY = "docwatch: skipped: "  # on stderr, before each source --skip-busy passed over


def crawl_log(config: Config) -> Path:
    """Scrapy's log file in the data directory, started afresh when it grew too large."""
    config.log_dir.mkdir(parents=True, exist_ok=True)
    path = config.log_dir / CRAWL_LOG
    if path.exists() and path.stat().st_size > CRAWL_LOG_ROTATE_BYTES:
        os.replace(path, path.with_name(CRAWL_LOG + ".1"))
    return path


def show_log_on_terminal(verbosity: int) -> None:
    """With -v (INFO) or -vv (DEBUG), Scrapy's log goes to stderr as well as to the file."""
    if verbosity <= 0:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(TERMINAL_LOG_LEVELS[min(verbosity, 2)])
    handler.setFormatter(logging.Formatter("%(asctime)s [%(name)s] %(levelname)s: %(message)s"))
    logging.root.addHandler(handler)


def scrapy_settings_for(
    config: Config, run_id: int | None = None, progress: bool = False, log_file: Path | None = None, verbosity: int = 0
) -> Settings:
    settings = Settings()
    settings.setmodule(production_profile, priority="project")
    if config.profile == "local":
        settings.setmodule(local_profile, priority="project")
    overrides = {
        "DOCWATCH_DB": str(config.db_path),
        "DOCWATCH_WARC_DIR": str(config.warc_dir),
        "DOWNLOAD_TIMEOUT": config.download_timeout,
        "DOWNLOAD_MAXSIZE": config.max_page_bytes,
        "DOCWATCH_MAX_DOCUMENT_BYTES": config.max_document_bytes,
        "DOWNLOAD_WARNSIZE": config.max_page_bytes // 2,
    }
    if config.user_agent:
        overrides["USER_AGENT"] = config.user_agent
    if run_id is not None:
        overrides["DOCWATCH_RUN_ID"] = run_id
    if log_file is not None:
        overrides["LOG_FILE"] = str(log_file)
    if verbosity >= 2:
        overrides["LOG_LEVEL"] = "DEBUG"
    if progress:
        overrides["EXTENSIONS"] = {**settings.getdict("EXTENSIONS"), Progress: 500}
    settings.setdict(overrides, priority="cmdline")
    return settings


def run_crawl(
    config: Config, sources: list[Source], keyword_sets: dict[str, KeywordSet], trigger: str = "cli",
    progress: bool | None = None, verbosity: int = 0, skip_busy: bool = False,
) -> RunSummary:
    """Crawl `sources`, matching the watchlist's `keyword_sets`, in this process. Scrapy's reactor
    runs once per process, so anything that crawls more than once (the daemon, the demo) uses
    `crawl_in_subprocess`. Scrapy's log goes to DATA_DIR/logs/crawl.log, and with ``verbosity``
    (-v, -vv) to stderr as well: the terminal shows the progress bar and the summary.

    The sources are locked for the whole run; if another live process holds any of them, the
    command exits BUSY_EXIT_CODE (3) naming the holder, and crawls nothing. With `skip_busy`, it
    crawls those no one holds, names the others on stderr, and exits 3 only if all are held."""
    def crawled(locked: list[str]) -> list[Source]:
        return [s for s in sources if s.id in locked or s.id == ADHOC_SOURCE_ID]

    def start_run(locked: list[str]) -> int:
        queries.interrupt_dead_runs(db)
        queries.sync_sources(db, sources)
        return queries.start_run(db, trigger, [s.id for s in crawled(locked)])

    db = None
    try:  # ad-hoc URLs are not a watched source: two of them never collide
        db = open_database(config.db_path)
        lock, run_id = locks.SourceLock.acquire(
            db, config.db_path, [s.id for s in sources if s.id != ADHOC_SOURCE_ID], trigger, start_run, skip_busy
        )
    except locks.SourcesBusy as busy:
        db.close()
        click.echo(f"docwatch: {busy}", err=True)
        raise SystemExit(locks.BUSY_EXIT_CODE) from None
    except Exception as exc:
        if not out_of_space(exc):
            raise
        if db is not None:
            db.close()
        click.echo(f"docwatch: cannot start the crawl: cannot write to {config.db_path.parent}: "
                   f"{describe_write_error(exc)}. Free some space and crawl again.", err=True)
        raise SystemExit(1) from None
    for held in lock.passed_over:
        click.echo(f"{SKIPPED_BUSY}{held.describe()}", err=True)
    sources = crawled(lock.source_ids)
    if progress is None:
        progress = sys.stderr.isatty()
    status, error, errors_logged = "done", None, 0
    log_path = crawl_log(config)
    show_log_on_terminal(verbosity)
    storage_errors: list[str] = []

    def stop_every_spider(message: str) -> None:
        """Nothing more can be written: no spider of this run should fetch any more."""
        if not storage_errors:
            storage_errors.append(message)
            process.stop()

    try:
        process = CrawlerProcess(scrapy_settings_for(config, run_id, progress, log_path, verbosity))
        pages = [s for s in sources if s.type == "page"]
        listings = [s for s in sources if s.type == "listing"]
        crawlers = []
        for spider, spider_sources in ((PageSpider, pages), (ListingSpider, listings)):
            if spider_sources:
                crawlers.append(process.create_crawler(spider))
                crawlers[-1].signals.connect(stop_every_spider, signal=storage_failed)
                process.crawl(crawlers[-1], sources=spider_sources, keyword_sets=keyword_sets)
        if progress:
            Progress.open()
        collect_less_often()  # the spiders, stages and extensions are imported by now
        process.start()
        errors_logged = sum(c.stats.get_value("log_count/ERROR", 0) for c in crawlers)
        if storage_errors:
            status, error = "failed", storage_errors[0]
    except BaseException as exc:
        status, error = ("interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"), repr(exc)
        raise
    finally:
        Progress.close()
        run = close_run(db, lock, run_id, status, error)
        unstored = queries.run_unstored(db, run_id)
        db.close()
    return RunSummary(run=run, unstored=unstored, errors_logged=errors_logged, log_path=log_path,
                      storage_error=storage_errors[0] if storage_errors else None)


def close_run(db, lock: locks.SourceLock, run_id: int, status: str, error: str | None) -> dict | None:
    """Record the end of the run and free its sources. On a full disk either may not fit: a run
    left `running` (None here) is marked interrupted, and a lock left behind recovered, by the
    next crawl."""
    try:
        run = queries.finish_run(db, run_id, status, error)
    except Exception as exc:
        if not out_of_space(exc):
            raise
        run = None
    try:
        lock.release(db)
    except Exception as exc:
        if not out_of_space(exc):
            raise
    return run


def crawl_in_subprocess(
    config: Config, source_ids: list[str], trigger: str, timeout: float | None = None, skip_busy: bool = False,
) -> subprocess.CompletedProcess:
    """Run `docwatch crawl` for these sources in a child process and wait for it."""
    arguments = ["crawl", "--trigger", trigger, *(["--skip-busy"] if skip_busy else [])]
    for source_id in source_ids:
        arguments += ["--source", source_id]
    return docwatch_in_subprocess(config, arguments, timeout)


def docwatch_in_subprocess(config: Config, arguments: list[str], timeout: float | None = None) -> subprocess.CompletedProcess:
    """Run a `docwatch` command with this configuration in a child process and wait for it.

    The child leads a process group of its own, with everything it starts (extraction workers,
    document readers): when it runs past `timeout`, the whole group is killed, and
    TimeoutExpired raised as by `subprocess.run`."""
    command = [
        sys.executable, "-m", "crawler",
        "--db", str(config.db_path), "--watchlist", str(config.watchlist_path), "--data-dir", str(config.data_dir),
        *arguments,
    ]
    env = {**os.environ, "DOCWATCH_ENV": config.profile}
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          start_new_session=True) as child:
        try:
            stdout, stderr = child.communicate(timeout=timeout)
        except BaseException:
            kill_process_group(child.pid)
            child.wait()
            raise
    return subprocess.CompletedProcess(command, child.returncode, stdout, stderr)


def kill_process_group(leader_pid: int) -> None:
    """SIGKILL to a child started by `docwatch_in_subprocess` and every process of its group."""
    try:
        os.killpg(leader_pid, signal.SIGKILL)
    except ProcessLookupError:  # no such group: all gone already, or a child started otherwise
        try:
            os.kill(leader_pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
