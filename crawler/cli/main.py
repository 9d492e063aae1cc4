"""The `docwatch` command.

Exit codes: 0 the command did its work (a crawl with failed pages still exits 0 and lists
them), 2 bad input (watchlist, options, unknown source or snapshot), 1 an unexpected error or
a crawl that stopped because it could not write its data (a full disk).
"""

from __future__ import annotations

import importlib
import os
import time
import traceback
from datetime import datetime, timezone

import click

from crawler import __version__
from crawler.cli.app import App, BadInput, json_option, pass_app, select_sources
from crawler.config.settings import SettingError, default_data_dir, resolve, watchlist_path
from crawler.safe_text import printable, printable_json, printable_line
from crawler.config.watchlist import WatchlistError, load_watchlist
from storage import DatabaseUnusable

ERROR_LOG = "docwatch.log"  # in DATA_DIR/logs: the tracebacks of unexpected errors
MAX_TITLE_CHARS = 300  # per printed title or error: page text is hostile and unbounded
MAX_URL_CHARS = 2048


# Commands defined in their own modules (crawler/cli/), by name: a module is imported only when
# its command runs (or `docwatch --help` lists them all), so `docwatch events` does not pay for
# the crawler, the Wayback client or the evidence packages.
COMMAND_MODULES = {
    "archive": ("crawler.cli.archive", "archive"),
    "backfill": ("crawler.cli.history", "backfill"),
    "custody": ("crawler.cli.package", "custody_group"),
    "daemon": ("crawler.cli.daemon", "daemon"),
    "diff": ("crawler.cli.changes", "diff"),
    "digest": ("crawler.cli.digest", "digest"),
    "events": ("crawler.cli.changes", "events"),
    "evidence": ("crawler.cli.evidence", "evidence"),
    "export": ("crawler.cli.package", "export"),
    "figures": ("crawler.cli.changes", "figures"),
    "hits": ("crawler.cli.changes", "hits"),
    "import": ("crawler.cli.history", "import_warc"),
    "review": ("crawler.cli.digest", "review"),
    "search": ("crawler.cli.search", "search"),
    "serve": ("crawler.cli.serve", "serve"),
    "status": ("crawler.cli.daemon", "status"),
    "verify": ("crawler.cli.package", "verify"),
}


class Docwatch(click.Group):
    """The command group, loading each command's module on first use (COMMAND_MODULES), with
    the last resort for errors: a database path that cannot serve is bad input (exit 2);
    anything unexpected prints one line, its traceback goes to the log file in the data
    directory, and the exit code is 1. No traceback reaches a user."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMAND_MODULES})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.commands and name in COMMAND_MODULES:
            module, attribute = COMMAND_MODULES[name]
            self.add_command(getattr(importlib.import_module(module), attribute), name)
        return super().get_command(ctx, name)

    def resolve_command(self, ctx: click.Context, args: list[str]):
        try:
            return super().resolve_command(ctx, args)
        except click.exceptions.NoSuchCommand as error:  # suggest from every command, not the loaded ones
            raise click.exceptions.NoSuchCommand(error.command_name, possibilities=self.list_commands(ctx),
                                                 ctx=ctx) from None

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (DatabaseUnusable, SettingError) as error:
            raise BadInput(printable(str(error))) from None
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit, KeyboardInterrupt):
            raise
        except BrokenPipeError:  # `docwatch events | head`: the reader has gone, nothing to say
            raise SystemExit(1) from None
        except Exception as error:  # noqa: BLE001 (the backstop)
            logged = log_unexpected_error(ctx.obj if isinstance(ctx.obj, App) else App(cli={}))
            click.echo(
                printable_line(f"docwatch: unexpected error: {type(error).__name__}: {error}", MAX_TITLE_CHARS) + "\n"
                + f"docwatch: {logged}; please report it with that file.",
                err=True,
            )
            raise SystemExit(1) from None


def log_unexpected_error(app: App) -> str:
    """Append the current exception's traceback to DATA_DIR/logs/docwatch.log; say where it went."""
    try:
        log_dir = app.config.log_dir
    except Exception:  # noqa: BLE001 (no usable watchlist: the options and environment alone)
        try:
            log_dir = resolve(app.cli).log_dir
        except SettingError:
            log_dir = default_data_dir(os.environ) / "logs"
    path = log_dir / ERROR_LOG
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as log:
            log.write(f"{datetime.now(timezone.utc).isoformat(timespec='seconds')} docwatch {__version__}\n")
            log.write(traceback.format_exc())
    except OSError as error:
        return f"the details could not be written to {path} ({error.strerror})"
    return f"the details are in {path}"


@click.group(cls=Docwatch, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--db", type=click.Path(dir_okay=False), help="SQLite file. [env DOCWATCH_DB; default DATA_DIR/docwatch.db]")
@click.option("--watchlist", type=click.Path(dir_okay=False), help="Watchlist YAML. [env DOCWATCH_WATCHLIST; default ./watchlist.yaml]")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Database, WARC files, logs. [env DOCWATCH_DATA_DIR; default ~/.local/share/docwatch]")
@click.version_option(__version__, prog_name="docwatch")
@click.pass_context
def main(ctx: click.Context, db: str | None, watchlist: str | None, data_dir: str | None) -> None:
    """docwatch: watch state publications, keep evidence of every change."""
    ctx.obj = App(cli={"db": db, "watchlist": watchlist, "data_dir": data_dir})


@main.command()
@pass_app
def validate(app: App) -> None:
    """Check the watchlist; exit 2 and list every problem if it is not valid."""
    path = watchlist_path(app.cli.get("watchlist"))
    try:
        watchlist = load_watchlist(path)
    except WatchlistError as error:
        click.echo(printable(str(error)), err=True)
        click.echo(printable(f"{len(error.problems)} problem(s) in {path}."), err=True)
        raise SystemExit(2) from None
    click.echo(f"{path}: OK, {len(watchlist.sources)} sources, {len(watchlist.keyword_sets)} keyword sets.")


AFTER_CRAWL_ARCHIVE_SECONDS = 600  # DOCWATCH_ARCHIVE_WORK_AFTER_CRAWL: what is left waits for the next run


@main.command()
@click.option("--source", "source_ids", multiple=True, metavar="ID", help="Only this source (repeatable).")
@click.option("--tag", "tags", multiple=True, metavar="TAG", help="Only sources with this tag (repeatable).")
@click.option("--url", "urls", multiple=True, metavar="URL", help="Crawl this URL as a one-off page (repeatable).")
@click.option("--trigger", default="cli", hidden=True, help="Who started the run, as recorded in `runs`.")
@click.option("--skip-busy", is_flag=True,
              help="Crawl the sources no other process is crawling and name the others (exit 3 only if all are).")
@click.option("-v", "--verbose", "verbosity", count=True,
              help="Show Scrapy's log on the terminal too: -v INFO, -vv DEBUG. [always in DATA_DIR/logs/crawl.log]")
@pass_app
def crawl(app: App, source_ids: tuple[str, ...], tags: tuple[str, ...], urls: tuple[str, ...], trigger: str,
          skip_busy: bool, verbosity: int) -> None:
    """Crawl the watchlist (or some sources) once, now, and print a summary. Scrapy's log
    goes to DATA_DIR/logs/crawl.log."""
    from crawler.archive.queue import ArchiveSettings
    from crawler.run.runner import run_crawl

    sources = select_sources(app.watchlist, source_ids, tags, urls)
    if not sources:
        raise BadInput(f"no source has tag(s) {', '.join(tags)}")
    try:
        archive_settings = ArchiveSettings.resolve()
    except ValueError as error:  # checked before crawling, not after
        raise BadInput(str(error)) from None
    started = time.monotonic()
    summary = run_crawl(app.config, sources, app.watchlist.keyword_sets, trigger, verbosity=verbosity,
                        skip_busy=skip_busy)
    if summary.run is not None:
        print_summary(summary.run, summary.unstored, time.monotonic() - started)
    if summary.errors_logged:
        click.echo(f"{summary.errors_logged} error(s) logged during the run, worth a look: {summary.log_path}")
    if summary.storage_error:
        recorded = "" if summary.run is not None else " (not even the run's end could be recorded)"
        click.echo(f"docwatch: the crawl stopped: {summary.storage_error}{recorded}. What was fetched and not "
                   "stored is fetched again by the next crawl: free some space and crawl again.", err=True)
        raise SystemExit(1)
    if archive_settings.work_after_crawl:
        from crawler.cli.archive import run as work_archive_queue

        click.get_current_context().invoke(work_archive_queue, limit=None, max_seconds=AFTER_CRAWL_ARCHIVE_SECONDS)


MAX_FAILURES_SHOWN = 5  # the summary stays a few lines however many pages failed


def print_summary(run: dict, unstored: list[dict], seconds: float) -> None:
    click.echo(
        f"Run {run['id']} {run['status']} in {seconds:.1f}s: {run['pages_fetched']} pages fetched, "
        f"{run['pages_new']} new, {run['pages_changed']} changed, {run['pages_unchanged']} unchanged, "
        f"{run['pages_failed']} failed, {run['pages_gone']} gone; {run['pages_skipped']} skipped."
    )
    if unstored:
        click.echo("Failed, gone or skipped (a page is reported removed after repeated 404/410 answers):")
        for fetch in unstored[:MAX_FAILURES_SHOWN]:
            led_to = f" (redirected to {fetch['final_url']})" if fetch["final_url"] not in (None, fetch["url"]) else ""
            click.echo(f"  {fetch['outcome']:<7} {printable_line(fetch['url'], MAX_URL_CHARS)}"
                       f"  {printable_line(fetch['error'] + led_to, MAX_TITLE_CHARS)}")
        if len(unstored) > MAX_FAILURES_SHOWN:
            click.echo(f"  … and {len(unstored) - MAX_FAILURES_SHOWN} more: `docwatch pages` shows each page's last outcome")
    if run["requests_unaccounted"]:
        click.echo(
            f"The count does not add up: the crawl set out to fetch {run['requests']} URLs and recorded "
            f"{run['requests'] - run['requests_unaccounted']} fetches; the log says more.", err=True,
        )


@main.command()
@click.option("--source", "source_id", metavar="ID", help="Only pages of this source.")
@json_option
@pass_app
def pages(app: App, source_id: str | None, as_json: bool) -> None:
    """List the pages docwatch knows, with their last fetch and snapshot count."""
    from storage import open_database, queries

    rows = queries.list_pages(open_database(app.config.db_path, create=False), source_id)
    if as_json:
        click.echo(printable_json(rows))
        return
    for row in rows:
        click.echo(
            f"{row['source_id']:<24} {row['last_status'] or '-':>4} {row['last_outcome'] or '-':<9} "
            f"{row['snapshots']:>3} snap  {printable_line(row['url'], MAX_URL_CHARS)}\n{'':<30}{printable_line(row['title'], MAX_TITLE_CHARS)}"
        )


@main.command()
@click.argument("url")
@json_option
@pass_app
def snapshots(app: App, url: str, as_json: bool) -> None:
    """List the stored snapshots of URL, oldest first."""
    from storage import open_database, queries

    rows = queries.page_snapshots(open_database(app.config.db_path, create=False), url)
    if not rows:
        raise BadInput(f"no snapshots of {url} in {app.config.db_path}. `docwatch pages` lists known URLs.")
    if as_json:
        click.echo(printable_json([{k: v for k, v in r.items() if k != "text"} for r in rows]))
        return
    for row in rows:
        bad = f" ({row['undecodable_bytes']} undecodable bytes shown as \ufffd)" if row["undecodable_bytes"] else ""
        click.echo(
            f"#{row['id']:<5} {row['fetched_at']}  {row['encoding'] + bad:<8} published {printable_line(row['published'] or '?', 40):<19} "
            f"text SHA-256 {row['text_sha256'][:16]}…  {printable_line(row['title'], MAX_TITLE_CHARS)}"
        )


@main.command()
@click.argument("snapshot_id", type=int)
@click.option("--raw", is_flag=True, help="Print the raw HTML body as fetched (bytes, undecoded).")
@pass_app
def show(app: App, snapshot_id: int, raw: bool) -> None:
    """Print a snapshot's extracted text (or its raw body)."""
    from storage import open_database, queries

    stdout = click.get_binary_stream("stdout")
    if raw and stdout.isatty():
        raise BadInput(
            f"--raw writes the page's bytes as fetched, control characters included, so not to a terminal: "
            f"redirect it (docwatch show --raw {snapshot_id} > page.html) or pipe it; "
            f"`docwatch show {snapshot_id}` prints the text made safe."
        )
    db = open_database(app.config.db_path, create=False)
    try:
        if raw:
            stdout.write(queries.snapshot_body(db, snapshot_id))
            return
        snapshot = queries.snapshot(db, snapshot_id)
    except KeyError as error:
        raise BadInput(str(error.args[0])) from None
    click.echo(
        f"{printable_line(snapshot['title'], MAX_TITLE_CHARS)}\n{printable_line(snapshot['url'], MAX_URL_CHARS)}\n"
        f"fetched {snapshot['fetched_at']}, published {printable_line(snapshot['published'] or '?', 40)}\n"
    )
    click.echo(printable(snapshot["original_text"]))


@main.command()
@click.option("--port", default=0, help="Serve the demo site on this port (default: any free port).")
@click.option("--keep-serving", is_flag=True, help="Keep the demo site up afterwards until Ctrl-C.")
@pass_app
def demo(app: App, port: int, keep_serving: bool) -> None:
    """Crawl a bundled demo site of real pages on 127.0.0.1 (no network needed)."""
    from crawler.demo import run_demo

    run_demo(resolve(app.cli).data_dir / "demo", port=port, keep_serving=keep_serving)

