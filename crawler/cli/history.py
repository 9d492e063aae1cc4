"""`docwatch backfill` (a page's history from the Wayback Machine) and `docwatch import`
(captures from WARC files other tools wrote): history, stored as snapshots dated by their
capture time, with history events (`detail.historical`)."""

from __future__ import annotations

import re
import sys

import click

from crawler.archive.queue import ArchiveSettings
from crawler.archive.wayback import WaybackClient, WaybackUnavailable
from crawler.cli.app import App, BadInput, Seconds, pass_app, select_sources, setting_option
from crawler.pipeline.backfill import Backfill
from crawler.config.watchlist import keyword_sets_of
from crawler.safe_text import printable_line
from storage import history, open_database, queries

_DATE = re.compile(r"\d{4}(\d{2}){0,5}")
MAX_LINE_CHARS = 300


def _wayback_date(ctx, param, value: str | None) -> str | None:
    if value is not None and not _DATE.fullmatch(value):
        raise click.BadParameter(f"{value!r}: give YYYY, YYYYMM, YYYYMMDD (up to YYYYMMDDhhmmss)")
    return value


@click.command()
@click.option("--source", "source_ids", multiple=True, metavar="ID", help="Only this source (repeatable).")
@click.option("--url", "urls", multiple=True, metavar="URL", help="This URL (repeatable), watched or not.")
@click.option("--from", "start", metavar="YYYY[MMDD]", callback=_wayback_date, help="Captures from this date on.")
@click.option("--to", "end", metavar="YYYY[MMDD]", callback=_wayback_date, help="Captures up to this date.")
@click.option("--limit", type=click.IntRange(min=1), help="At most N captures per URL.")
@setting_option("--delay", "backfill_delay", "Seconds between two requests to the Wayback Machine.", type=Seconds(0))
@setting_option("--backoff", "backfill_backoff", "First pause after a 429 or 5xx answer; doubles each time.",
                type=Seconds(0))
@pass_app
def backfill(app: App, source_ids: tuple[str, ...], urls: tuple[str, ...], start: str | None, end: str | None,
             limit: int | None, delay: float, backoff: float) -> None:
    """Import the Wayback Machine's earlier captures of pages as history: one snapshot per
    distinct version, dated by its capture, with history events. A listing's articles (those
    docwatch knows) are backfilled each. Resumable: a second run imports only what is new."""
    sources = select_sources(app.watchlist, source_ids, (), urls)
    try:
        endpoints = ArchiveSettings.resolve().endpoints
    except ValueError as error:
        raise BadInput(str(error)) from None
    db = open_database(app.config.db_path)
    queries.sync_sources(db, sources)
    client = WaybackClient(endpoints, timeout=app.config.download_timeout)
    run = Backfill(db, client, delay, backoff, app.config.max_page_bytes, start, end, limit,
                   show_progress=sys.stderr.isatty())
    targets, unread = [], []
    for source in sources:
        if source.type == "page":
            targets.append((source, source.url))
            continue
        try:
            listed = run.listed_articles(source)
        except WaybackUnavailable as error:
            listed, unread = [], [*unread, (source.url, str(error))]
        known = history.article_urls(db, source.id)
        targets += [(source, url) for url in dict.fromkeys(known + listed)]
    summary = run.run(targets, app.watchlist.keyword_sets)
    summary.unfinished[:0] = unread
    click.echo(f"Backfill: {summary.describe()}")
    if summary.unfinished:
        for url, why in summary.unfinished:
            click.echo(f"  unfinished {printable_line(url, MAX_LINE_CHARS)}: {printable_line(why, MAX_LINE_CHARS)}",
                       err=True)
        click.echo(f"docwatch: {len(summary.unfinished)} URL(s) not finished; run the same command again to resume "
                   "(what was imported is kept).", err=True)
        raise SystemExit(1)


@click.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--all", "every_page", is_flag=True, help="Every HTML response, not only the URLs docwatch knows.")
@pass_app
def import_warc(app: App, files: tuple[str, ...], every_page: bool) -> None:
    """Import WARC files (.warc, .warc.gz) from other tools as history: the responses for URLs
    the watchlist or the database knows (--all: every HTML response, as ad-hoc pages). Each
    record is checked against its digests first; a broken one is reported and skipped."""
    from pathlib import Path

    from crawler.archive.warc_import import BrokenRecord, read_responses
    from crawler.pipeline.ingest import WARC_IMPORT, Capture, ingest

    watchlist = app.watchlist
    db = open_database(app.config.db_path)
    queries.sync_sources(db, watchlist.sources)
    by_id = {source.id: source for source in watchlist.sources}
    watched = {source.url: source for source in watchlist.sources if source.type == "page"}
    outcomes: dict[str, int] = {}
    broken = 0
    for file in files:
        for record in read_responses(Path(file), app.config.max_page_bytes):
            if isinstance(record, BrokenRecord):
                broken += 1
                where = f" at offset {record.offset}" if record.offset is not None else ""
                click.echo(printable_line(f"skipped a broken record in {record.file}{where}"
                                          f" ({record.url or 'no URL'}): {record.problem}", MAX_LINE_CHARS), err=True)
                continue
            page = queries.page_at(db, record.url)
            if page is not None and page["kind"] not in ("page", "article"):
                continue  # list pages and documents are read by crawls only
            source = watched.get(record.url) or (by_id.get(page["source_id"]) if page else None)
            if source is None and every_page and record.is_html:
                source = watchlist.adhoc_source(record.url)
                queries.sync_sources(db, [source])
                by_id[source.id] = source  # its next records find it through their page
            if source is None:
                continue
            capture = Capture(record.url, record.captured_at, record.http_status, record.headers, record.body,
                              WARC_IMPORT, f"{record.file.name} {record.record_id}", record.record_id,
                              record.headers.get("Location"))
            outcome = ingest(db, source, keyword_sets_of(source, watchlist.keyword_sets), capture)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
    counted = ", ".join(f"{count} {outcome}" for outcome, count in sorted(outcomes.items())) or "nothing to import"
    click.echo(f"Import: {counted}; {broken} broken record(s) skipped.")
