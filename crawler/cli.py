"""The `docwatch` command.

Exit codes: 0 the command did its work (a crawl with failed pages still exits 0 and lists
them), 2 bad input (watchlist, options, unknown source or snapshot), 1 an unexpected error or
a crawl that stopped because it could not write its data (a full disk).
"""

from __future__ import annotations

import json
import time

import click

from crawler import __version__
from crawler.app import App, BadInput, pass_app
from crawler.config import resolve, watchlist_path
from crawler.evidence.queue import ArchiveSettings
from crawler.watchlist import Source, Watchlist, WatchlistError, load_watchlist


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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
        click.echo(str(error), err=True)
        click.echo(f"{len(error.problems)} problem(s) in {path}.", err=True)
        raise SystemExit(2) from None
    click.echo(f"{path}: OK, {len(watchlist.sources)} sources, {len(watchlist.keyword_sets)} keyword sets.")


AFTER_CRAWL_ARCHIVE_SECONDS = 600  # DOCWATCH_ARCHIVE_WORK_AFTER_CRAWL: what is left waits for the next run


def select_sources(watchlist: Watchlist, ids: tuple[str, ...], tags: tuple[str, ...], urls: tuple[str, ...]) -> list[Source]:
    """The sources a command acts on: named ones, tagged ones, ad-hoc URLs, or else all."""
    try:
        chosen = [watchlist.source(i) for i in ids]
    except KeyError as error:
        raise BadInput(str(error)) from None
    chosen += [s for s in watchlist.sources if tags and set(tags) & set(s.tags)]
    for url in urls:
        if not url.startswith(("http://", "https://")):
            raise BadInput(f"--url {url!r}: give an absolute http:// or https:// URL")
        match = next((s for s in watchlist.sources if s.url == url), None)
        chosen.append(match or watchlist.adhoc_source(url))
    if not (ids or tags or urls):
        chosen = list(watchlist.sources)
    return list({s.id: s for s in chosen}.values())


@main.command()
@click.option("--source", "source_ids", multiple=True, metavar="ID", help="Only this source (repeatable).")
@click.option("--tag", "tags", multiple=True, metavar="TAG", help="Only sources with this tag (repeatable).")
@click.option("--url", "urls", multiple=True, metavar="URL", help="Crawl this URL as a one-off page (repeatable).")
@click.option("--trigger", default="cli", hidden=True, help="Who started the run, as recorded in `runs`.")
@pass_app
def crawl(app: App, source_ids: tuple[str, ...], tags: tuple[str, ...], urls: tuple[str, ...], trigger: str) -> None:
    """Crawl the watchlist (or some sources) once, now, and print a summary."""
    from crawler.runner import run_crawl

    sources = select_sources(app.watchlist, source_ids, tags, urls)
    if not sources:
        raise BadInput(f"no source has tag(s) {', '.join(tags)}")
    started = time.monotonic()
    summary = run_crawl(app.config, sources, trigger)
    if summary.run is not None:
        print_summary(summary.run, summary.failures, time.monotonic() - started)
    if summary.errors_logged:
        click.echo(f"{summary.errors_logged} error(s) were logged during the run: see the log above.", err=True)
    if summary.storage_error:
        recorded = "" if summary.run is not None else " (not even the run's end could be recorded)"
        click.echo(f"docwatch: the crawl stopped: {summary.storage_error}{recorded}. What was fetched and not "
                   "stored is fetched again by the next crawl: free some space and crawl again.", err=True)
        raise SystemExit(1)
    if ArchiveSettings.resolve(app.watchlist.settings).work_after_crawl:
        from crawler.commands.archive import run as work_archive_queue

        click.get_current_context().invoke(work_archive_queue, limit=None, max_seconds=AFTER_CRAWL_ARCHIVE_SECONDS)


def print_summary(run: dict, failures: list[dict], seconds: float) -> None:
    click.echo(
        f"Run {run['id']} {run['status']} in {seconds:.1f}s: {run['pages_fetched']} pages fetched, "
        f"{run['pages_new']} new, {run['pages_changed']} changed, {run['pages_unchanged']} unchanged, "
        f"{run['pages_failed']} failed, {run['pages_gone']} gone."
    )
    if failures:
        click.echo("Failed or gone (a page is reported removed after repeated 404/410 answers):")
        for failure in failures:
            click.echo(f"  {failure['url']}  {failure['error']}")


@main.command()
@click.option("--source", "source_id", metavar="ID", help="Only pages of this source.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def pages(app: App, source_id: str | None, as_json: bool) -> None:
    """List the pages docwatch knows, with their last fetch and snapshot count."""
    from storage import open_database, queries

    rows = queries.list_pages(open_database(app.config.db_path), source_id)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        click.echo(
            f"{row['source_id']:<24} {row['last_status'] or '-':>4} {row['last_outcome'] or '-':<9} "
            f"{row['snapshots']:>3} snap  {row['url']}\n{'':<30}{row['title'] or ''}"
        )


@main.command()
@click.argument("url")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def snapshots(app: App, url: str, as_json: bool) -> None:
    """List the stored snapshots of URL, oldest first."""
    from storage import open_database, queries

    rows = queries.page_snapshots(open_database(app.config.db_path), url)
    if not rows:
        raise BadInput(f"no snapshots of {url} in {app.config.db_path}. `docwatch pages` lists known URLs.")
    if as_json:
        click.echo(json.dumps([{k: v for k, v in r.items() if k != "text"} for r in rows], ensure_ascii=False, indent=2))
        return
    for row in rows:
        click.echo(
            f"#{row['id']:<5} {row['fetched_at']}  {row['encoding']:<8} published {row['published'] or '?':<19} "
            f"sha256 {row['text_sha256'][:16]}…  {row['title']}"
        )


@main.command()
@click.argument("snapshot_id", type=int)
@click.option("--raw", is_flag=True, help="Print the raw HTML body as fetched (bytes, undecoded).")
@pass_app
def show(app: App, snapshot_id: int, raw: bool) -> None:
    """Print a snapshot's extracted text (or its raw body)."""
    from storage import open_database, queries

    db = open_database(app.config.db_path)
    try:
        if raw:
            click.get_binary_stream("stdout").write(queries.snapshot_body(db, snapshot_id))
            return
        snapshot = queries.snapshot(db, snapshot_id)
    except KeyError as error:
        raise BadInput(str(error.args[0])) from None
    click.echo(f"{snapshot['title']}\n{snapshot['url']}\nfetched {snapshot['fetched_at']}, published {snapshot['published'] or '?'}\n")
    click.echo(snapshot["text"])


@main.command()
@click.option("--port", default=0, help="Serve the demo site on this port (default: any free port).")
@click.option("--keep-serving", is_flag=True, help="Keep the demo site up afterwards until Ctrl-C.")
@pass_app
def demo(app: App, port: int, keep_serving: bool) -> None:
    """Crawl a bundled demo site of real pages on 127.0.0.1 (no network needed)."""
    from crawler.demo import run_demo

    run_demo(resolve(app.cli).data_dir / "demo", port=port, keep_serving=keep_serving)


# Commands defined in their own modules (crawler/commands/), one line each.
from crawler.commands.daemon import daemon, status  # noqa: E402

main.add_command(daemon)
main.add_command(status)
from crawler.commands.archive import archive  # noqa: E402
main.add_command(archive)
from crawler.commands.evidence import evidence  # noqa: E402
main.add_command(evidence)
from crawler.commands.changes import diff, events, figures, hits  # noqa: E402
main.add_command(hits)
main.add_command(figures)
main.add_command(events)
main.add_command(diff)
from crawler.commands.digest import digest, review  # noqa: E402
main.add_command(digest)
main.add_command(review)
