"""`docwatch search QUERY`: every version of every page that said it, Chinese spelling variants
and full-width forms included, pages that no longer say it first."""

from __future__ import annotations

import click

from crawler.cli.app import App, BadInput, json_option, pass_app
from crawler.cli.changes import since_option, sources_option
from crawler.report.search import VERSIONS_READ, BadQuery, search as search_pages
from crawler.safe_text import printable_json, printable_line


@click.command()
@click.argument("query")
@sources_option
@since_option
@json_option
@pass_app
def search(app: App, query: str, source_ids: tuple[str, ...], since: str | None, as_json: bool) -> None:
    """Find text in every snapshot ever stored: per page, the sentence that said it and the
    first and last snapshot that contained it; pages that no longer say it come first."""
    try:
        found = search_pages(app.database(source_ids), query, source_ids, since)
    except BadQuery as error:
        raise BadInput(f"search {query[:80]!r}: {error}") from None
    if as_json:
        click.echo(printable_json(found.as_json()))
        return
    if not found.pages:
        click.echo("No snapshot contains it.")
        return
    for result in found.pages:
        now = ("still says it" if result.says_it_now
               else f"NO LONGER SAYS IT (latest snapshot #{result.latest_snapshot_id}; page {result.state})")
        click.echo(f"{printable_line(result.url, 2048)}  [{result.source_id}]  {result.title}")
        click.echo(f"  first #{result.first.snapshot_id} {result.first.fetched_at[:16]}, last #{result.last.snapshot_id}"
                   f" {result.last.fetched_at[:16]}: {result.matching} of {result.snapshots} snapshot(s); {now}")
        click.echo(f"  …{result.before}[{result.match}]{result.after}…")
    if not found.complete:
        click.echo(f"More than {VERSIONS_READ} versions contain it: these pages are those of the newest (their first"
                   " version and count only as far back as that); narrow it with --source or --since to read them all.")
