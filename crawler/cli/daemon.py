"""`docwatch daemon` (the watchlist on schedule) and `docwatch status` (what it has been doing)."""

from __future__ import annotations

from datetime import datetime, timezone

import click

from crawler.cli.app import App, BadInput, Seconds, json_option, pass_app, queue_line, setting_option
from crawler.safe_text import printable, printable_json, printable_line
from crawler.config.watchlist import WatchlistError
from storage import archive_queue, locks, open_database, queries, reports


@click.command()
@setting_option("--workers", "daemon_workers", type=click.IntRange(1, 32), help="Crawls that may run at the same time.")
@setting_option("--time-limit", "daemon_time_limit", type=Seconds(1), metavar="SECONDS",
                help="A crawl (or the scheduled digest) still running after this (times its sources) is stopped; "
                     "a crawl is recorded interrupted.")
@setting_option("--grace", "daemon_grace", type=Seconds(0), metavar="SECONDS",
                help="On SIGTERM/SIGINT, how long running crawls may take to finish.")
@setting_option("--archive-every", "daemon_archive_every", type=Seconds(1), metavar="SECONDS",
                help="How often the archive queue is worked (`docwatch archive run`).")
@setting_option("--batch-size", "daemon_batch_size", type=click.IntRange(1, 1000),
                help="At most this many sources of one site crawled by one process.")
@setting_option("--batch-window", "daemon_batch_window", type=Seconds(0), metavar="SECONDS",
                help="A crawl takes along the sources of its site due within this many seconds.")
@pass_app
def daemon(app: App, workers: int, time_limit: float, grace: float, archive_every: float, batch_size: int,
           batch_window: float) -> None:
    """Crawl every source on its schedule until SIGTERM or Ctrl-C.

    SIGHUP, or saving the watchlist, reloads it; an invalid watchlist is logged and the old
    one stays in force. Logs go to stderr and to DATA_DIR/logs/daemon.log. Exits 3 if another
    daemon already runs on the same database.
    """
    from crawler.run.daemon import Daemon, DaemonOptions, configure_logging  # Scrapy-heavy: only when used

    config = app.config  # validates the watchlist first: exit 2 with the full report
    log_file = configure_logging(config.log_dir)
    click.echo(f"docwatch daemon: logging to stderr and {log_file}", err=True)
    try:
        options = DaemonOptions(workers=workers, time_limit=time_limit, grace=grace, archive_every=archive_every,
                                batch_size=batch_size, batch_window=batch_window)
        Daemon(config, options).run()
    except locks.DaemonRunning as error:
        click.echo(f"docwatch: {error}", err=True)
        raise SystemExit(locks.BUSY_EXIT_CODE) from None
    except WatchlistError as error:  # became invalid between the check above and the start
        raise BadInput(str(error)) from None


@click.command()
@json_option
@pass_app
def status(app: App, as_json: bool) -> None:
    """Each source's last run, next run and last error; the archive queue; the daemon. Without
    a watchlist, the sources the database knows, without their schedules."""
    db = open_database(app.config.db_path, create=False)
    now = datetime.now(timezone.utc)
    runs, errors = queries.last_runs(db), queries.last_fetch_errors(db)
    crawling = {lock.source_id: lock for lock in locks.current_locks(db) if not lock.is_stale(now)}
    running = locks.running_daemon(db)
    watched = {source.id: source for source in app.watchlist.sources} if app.has_watchlist else None
    sources = []
    for source_id in watched or reports.known_source_ids(db):
        source = watched[source_id] if watched else None
        run = runs.get(source_id)
        due = source.due_at(datetime.fromisoformat(run["started_at"]) if run else None) if source else None
        lock = crawling.get(source_id)
        sources.append({
            "id": source_id,
            "schedule": source.schedule_description if source else "schedule unknown: no watchlist",
            "last_run": run,
            "next_run": due.astimezone(timezone.utc).isoformat(timespec="seconds") if due else None,
            "overdue": source is not None and (due is None or due <= now),
            "crawling": {"pid": lock.pid, "holder": lock.holder, "since": lock.acquired_at} if lock else None,
            "last_error": errors.get(source_id),
        })
    report = {
        "daemon": _daemon_record(running) if running else None,
        "last_daemon_stop": getattr(locks.last_stopped_daemon(db), "stopped_at", None) if not running else None,
        "archive_queue": archive_queue.counts_by_state(db),
        "sources": sources,
    }
    db.close()
    if as_json:
        click.echo(printable_json(report))
    else:
        _print_status(report)


def _daemon_record(record: locks.DaemonRecord) -> dict:
    return {"pid": record.pid, "host": record.host, "since": record.started_at, "watchlist": record.watchlist}


def _print_status(report: dict) -> None:
    daemon_info = report["daemon"]
    if daemon_info:
        click.echo(f"daemon: running, pid {daemon_info['pid']} on {daemon_info['host']} since {daemon_info['since']} "
                   f"(watchlist {daemon_info['watchlist']})")
    else:
        stopped = report["last_daemon_stop"]
        click.echo("daemon: not running" + (f" (last one stopped {stopped})" if stopped else ""))
    click.echo(queue_line(report["archive_queue"]))
    for source in report["sources"]:
        click.echo(f"\n{source['id']}  ({source['schedule']})")
        run = source["last_run"]
        if run:
            counts = ", ".join(f"{run['pages_' + outcome]} {outcome}" for outcome in queries.PAGE_OUTCOMES)
            error = f": {printable_line(run['error'], 300)}" if run["error"] else ""
            click.echo(f"  last run    {run['started_at']}  run {run['run_id']} ({run['trigger']}) {run['status']}{error}; "
                       f"{run['pages']} pages: {counts}; {run['new_hits']} new keyword hits")
        else:
            click.echo("  last run    never")
        if source["crawling"]:
            lock = source["crawling"]
            click.echo(f"  crawling    now, pid {lock['pid']} ({lock['holder']}) since {lock['since']}")
        next_run = source["next_run"]
        if source["overdue"]:
            click.echo("  next run    due now" + (f" (was due {next_run})" if next_run else "") +
                       ("" if daemon_info else "; no daemon is running"))
        elif next_run:
            click.echo(f"  next run    {next_run}" + ("" if daemon_info else " (when a daemon runs)"))
        if source["last_error"]:
            error = source["last_error"]
            click.echo(printable(f"  last error  {error['fetched_at']}  {error['url']}  {error['error'] or error['http_status']}"))
