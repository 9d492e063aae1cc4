"""One crawl run: the watchlist's sources through Scrapy into the database, with a summary."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import click
from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from crawler.scrapy_settings import base as production_profile
from crawler.scrapy_settings import local as local_profile
from crawler.config import Config
from crawler.pipeline import shutdown_extraction_pool
from crawler.progress import Progress
from crawler.watchlist import ADHOC_SOURCE_ID, Source
from spiders.listing import ListingSpider
from spiders.page import PageSpider
from storage import locks, open_database, queries


@dataclass(frozen=True)
class RunSummary:
    run: dict
    unstored: list[dict]  # fetches that stored nothing: failed, gone or skipped, each with its reason
    errors_logged: int  # Scrapy's ERROR log lines: a bug or a broken page worth a look
    log_path: Path  # where Scrapy's log of the run went


CRAWL_LOG = "crawl.log"
CRAWL_LOG_ROTATE_BYTES = 10 * 1024 * 1024  # then renamed to crawl.log.1 (one old file kept)
TERMINAL_LOG_LEVELS = {1: logging.INFO, 2: logging.DEBUG}  # by the number of -v


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
        "DOCWATCH_WATCHLIST": str(config.watchlist_path),
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
    config: Config, sources: list[Source], trigger: str = "cli", progress: bool | None = None, verbosity: int = 0
) -> RunSummary:
    """Crawl `sources` in this process. Scrapy's reactor runs once per process, so anything
    that crawls more than once (the daemon, the demo) uses `crawl_in_subprocess`. Scrapy's
    log goes to DATA_DIR/logs/crawl.log, and with ``verbosity`` (-v, -vv) to stderr as well:
    the terminal shows the progress bar and the summary.

    The sources are locked for the whole run; if another live process holds any of them, the
    command exits BUSY_EXIT_CODE (3) naming the holder, and crawls nothing."""
    db = open_database(config.db_path)

    def start_run() -> int:
        queries.interrupt_dead_runs(db)
        queries.sync_sources(db, sources)
        return queries.start_run(db, trigger, [s.id for s in sources])

    try:  # ad-hoc URLs are not a watched source: two of them never collide
        lock, run_id = locks.SourceLock.acquire(
            db, config.db_path, [s.id for s in sources if s.id != ADHOC_SOURCE_ID], trigger, start_run
        )
    except locks.SourcesBusy as busy:
        db.close()
        click.echo(f"docwatch: {busy}", err=True)
        raise SystemExit(locks.BUSY_EXIT_CODE) from None
    if progress is None:
        progress = sys.stderr.isatty()
    status, error, errors_logged = "done", None, 0
    log_path = crawl_log(config)
    show_log_on_terminal(verbosity)
    try:
        process = CrawlerProcess(scrapy_settings_for(config, run_id, progress, log_path, verbosity))
        pages = [s for s in sources if s.type == "page"]
        listings = [s for s in sources if s.type == "listing"]
        crawlers = []
        for spider, spider_sources in ((PageSpider, pages), (ListingSpider, listings)):
            if spider_sources:
                crawlers.append(process.create_crawler(spider))
                process.crawl(crawlers[-1], sources=spider_sources)
        if progress:
            Progress.open()
        process.start()
        errors_logged = sum(c.stats.get_value("log_count/ERROR", 0) for c in crawlers)
    except BaseException as exc:
        status, error = ("interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"), repr(exc)
        raise
    finally:
        Progress.close()
        shutdown_extraction_pool()
        run = queries.finish_run(db, run_id, status, error)
        unstored = queries.run_unstored(db, run_id)
        lock.release(db)
        db.close()
    return RunSummary(run=run, unstored=unstored, errors_logged=errors_logged, log_path=log_path)


def crawl_in_subprocess(
    config: Config, source_ids: list[str], trigger: str, timeout: float | None = None
) -> subprocess.CompletedProcess:
    """Run `docwatch crawl` for these sources in a child process and wait for it."""
    arguments = ["crawl", "--trigger", trigger]
    for source_id in source_ids:
        arguments += ["--source", source_id]
    return docwatch_in_subprocess(config, arguments, timeout)


def docwatch_in_subprocess(config: Config, arguments: list[str], timeout: float | None = None) -> subprocess.CompletedProcess:
    """Run a `docwatch` command with this configuration in a child process and wait for it."""
    command = [
        sys.executable, "-m", "crawler",
        "--db", str(config.db_path), "--watchlist", str(config.watchlist_path), "--data-dir", str(config.data_dir),
        *arguments,
    ]
    env = {**os.environ, "DOCWATCH_ENV": config.profile}
    return subprocess.run(command, env=env, timeout=timeout, capture_output=True, text=True)
