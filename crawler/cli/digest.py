"""`docwatch digest` (what changed, most important first, as Markdown, HTML, JSON or Atom, or
by email) and `docwatch review` (mark events as read, so `digest --unreviewed` hides them)."""

from __future__ import annotations

from pathlib import Path

import click

from crawler.cli.app import App, BadInput, pass_app
from crawler.cli.changes import Since, since_option, sources_option
from crawler.gc_tuning import collect_less_often
from crawler.config.digest_settings import FORMATS, DigestSettingsError, email_settings
from crawler.report.deliver import (
    LAST, STDOUT, email_destination, file_destination, make_digest, record, send_scheduled_digest, write_file,
)
from crawler.report.render import render
from storage import events, reports, reviews, utcnow

_SUFFIX_FORMATS = {".md": "md", ".markdown": "md", ".html": "html", ".htm": "html", ".json": "json",
                   ".atom": "atom", ".xml": "atom"}


class SinceOrLast(Since):
    """`--since` as for `docwatch events`, or `last`: since the previous digest to the same place."""

    def convert(self, value, param, ctx) -> str:
        return LAST if value.strip().lower() == LAST else super().convert(value, param, ctx)


@click.command()
@click.option("--since", type=SinceOrLast(), default=LAST, show_default=True,
              help="30m, 24h, 7d, 2w, an ISO date/time, or `last`: since the previous digest to the same"
                   " destination (standard output, the --output file, or the email recipients).")
@click.option("--format", "digest_format", type=click.Choice(FORMATS),
              help="Output format. [default: from the --output suffix, else md]")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="Write the digest to this file.")
@click.option("--feed-url", metavar="URL", help="Atom: the address the feed is served at, for its rel=\"self\" link."
              " [default: the --output file's file:// URI]")
@sources_option
@click.option("--tag", "tags", multiple=True, metavar="TAG", help="Only sources with this tag (repeatable).")
@click.option("--unreviewed", is_flag=True, help="Only events nobody has marked with `docwatch review`.")
@click.option("--email", is_flag=True, help="Send the digest (text + HTML) by SMTP instead of printing it.")
@click.option("--scheduled", is_flag=True, help="The watchlist's scheduled digest (its `digest:` section), as the"
              " daemon makes it: since the previous one, to its output_dir and/or by email. Alone.")
@pass_app
def digest(app: App, since: str, digest_format: str | None, output: Path | None, feed_url: str | None,
           source_ids: tuple[str, ...], tags: tuple[str, ...], unreviewed: bool, email: bool, scheduled: bool) -> None:
    """What changed, most important first: removed pages, new figures and keyword hits, new
    pages, other changes; grouped by source, each with its citation and archive links."""
    if scheduled:
        if since != LAST or any((digest_format, output, feed_url, source_ids, tags, unreviewed, email)):
            raise BadInput("--scheduled makes the digest the watchlist's `digest:` section describes: give it alone")
        _scheduled(app)
        return
    collect_less_often()  # building and rendering make containers by the thousand, almost none in cycles: ≈ 7% less CPU
    db = app.database(source_ids)
    known_tags = reports.tags_in_use(db)
    unknown_tags = [tag for tag in tags if tag not in known_tags]
    if unknown_tags:
        raise BadInput(f"no source has tag {', '.join(unknown_tags)}; tags in use: {', '.join(sorted(known_tags)) or 'none'}")
    if email:
        if output or digest_format:
            raise BadInput("--email sends the digest as text + HTML; --output and --format are for a file: give one or the other")
        _email(app, db, since, source_ids, tags, unreviewed)
        return
    if digest_format is None:
        digest_format = _format_from_suffix(output) if output else "md"
    if feed_url and not feed_url.startswith(("http://", "https://")):
        raise BadInput(f"--feed-url {feed_url!r}: give the http:// or https:// address the feed is served at")
    destination = file_destination(output) if output else STDOUT
    made = make_digest(db, since, destination, source_ids, tags, unreviewed)
    text = render(made, digest_format, feed_url or (output.resolve().as_uri() if output else None))
    if output is None:
        click.echo(text, nl=False)
    else:
        try:
            write_file(output, text)
        except OSError as error:
            raise BadInput(f"cannot write --output {output}: {error.strerror}") from None
        click.echo(f"Wrote {output}: {made.headline}.")
    record(db, made, digest_format, destination)


def _format_from_suffix(output: Path) -> str:
    """The format an --output file's suffix names; any other suffix is refused, since writing
    Markdown into `x.docx` would make a file nothing can open."""
    try:
        return _SUFFIX_FORMATS[output.suffix.lower()]
    except KeyError:
        known = ", ".join(_SUFFIX_FORMATS)
        raise BadInput(f"--output {output}: unknown suffix {output.suffix or '(none)'!r}; use one of {known},"
                       " or say which format with --format md|html|json|atom") from None


def _email(app: App, db, since: str, source_ids: tuple[str, ...], tags: tuple[str, ...], unreviewed: bool) -> None:
    from crawler.report.mail import EmailError, send_digest  # the email package: only to send one

    try:
        file_settings = app.watchlist.digest if app.has_watchlist else None
        settings = email_settings(file_settings.email if file_settings else None)
    except DigestSettingsError as error:
        raise BadInput(str(error)) from None
    destination = email_destination(settings)
    made = make_digest(db, since, destination, source_ids, tags, unreviewed)
    try:
        send_digest(made, settings)
    except EmailError as error:
        raise click.ClickException(str(error)) from None
    record(db, made, "email", destination)
    click.echo(f"Sent to {', '.join(settings.recipients)} via {settings.host}:{settings.port}: {made.headline}.")


def _scheduled(app: App) -> None:
    """The daemon runs this in a child process, as it works the archive queue: a digest that
    fails exits 1 and is not recorded, so the next one covers its events too."""
    from crawler.report.mail import EmailError

    settings = app.watchlist.digest
    if settings is None:
        raise BadInput(f"the watchlist {app.config.watchlist_path} has no `digest:` section: no digest is scheduled")
    try:
        click.echo(send_scheduled_digest(app.config, settings))
    except (EmailError, DigestSettingsError, OSError) as error:
        raise click.ClickException(f"scheduled digest failed; the next one covers these events too: {error}") from None


@click.command()
@click.argument("event_ids", nargs=-1, type=click.IntRange(min=1, max=2**63 - 1), metavar="[EVENT_ID]...")
@click.option("--all", "review_all", is_flag=True, help="Every event not reviewed yet (with --since: detected since then).")
@since_option
@pass_app
def review(app: App, event_ids: tuple[int, ...], review_all: bool, since: str | None) -> None:
    """Mark events reviewed (ids as `docwatch events` and the digests show them), so
    `docwatch digest --unreviewed` leaves them out."""
    if bool(event_ids) == review_all:
        raise BadInput("give event ids (e.g. `docwatch review 12 14`) or --all, not both and not neither")
    if since and not review_all:
        raise BadInput("--since goes with --all; event ids name the events already")
    db = app.database()
    if review_all:
        event_ids = tuple(reviews.unreviewed_since(db, since))
    elif unknown := events.unknown_events(db, event_ids):
        raise BadInput(f"no event {', '.join(map(str, unknown))}; nothing marked. `docwatch events` lists event ids.")
    count = reviews.set_reviewed(db, event_ids, True, utcnow())
    click.echo(f"Marked {count} event(s) reviewed.")
