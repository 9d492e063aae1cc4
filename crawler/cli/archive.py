"""`docwatch archive`: save pages to the Wayback Machine through the persistent archive queue.

`docwatch archive URL` archives one URL now; `run`, `status` and `retry` act on the queue.
"""

from __future__ import annotations

import difflib
import time
from dataclasses import asdict

import click

from crawler.cli.app import App, BadInput, Seconds, json_option, pass_app, queue_line
from crawler.config.settings import Config, resolve
from crawler.archive.queue import ArchiveSettings, WorkSummary, wayback_client, work_queue
from crawler.archive.wayback import WaybackClient
from crawler.safe_text import printable, printable_json
from storage import archive_queue, open_database
from storage.archive_queue import EXISTING_CAPTURE, ArchiveRequest

ONE_OFF = "url"


def config_for(app: App) -> tuple[Config, ArchiveSettings]:
    """Settings for commands that work without a watchlist, using its `settings:` when there is one."""
    file_settings = app.file_settings
    try:
        return resolve(app.cli, file_settings), ArchiveSettings.resolve()
    except ValueError as error:
        raise BadInput(str(error)) from None


class _ArchiveGroup(click.Group):
    """Sends `docwatch archive URL` to the one-off command, everything else to a subcommand."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = [ONE_OFF, *args]
        return super().parse_args(ctx, args)


@click.group(cls=_ArchiveGroup, subcommand_metavar="URL | COMMAND [ARGS]...")
def archive() -> None:
    """Save pages to the Wayback Machine: `docwatch archive URL` archives one URL now; the
    commands below work the queue that crawls fill.

    Submitting needs archive.org keys in DOCWATCH_IA_ACCESS_KEY and DOCWATCH_IA_SECRET_KEY.
    Without them docwatch records an existing recent capture when the Wayback Machine has one.
    """


@archive.command(ONE_OFF, hidden=True)
@click.argument("url")
@click.option("--wait", type=Seconds(1), metavar="SECONDS",
              help="Keep trying this long (retries included). [default: the poll deadline]")
@pass_app
def archive_url(app: App, url: str, wait: float | None) -> None:
    """Archive URL now; exit 0 only when a capture is confirmed."""
    if "://" not in url:
        close = difflib.get_close_matches(url, [c for c in archive.commands if c != ONE_OFF], n=1)
        hint = f"did you mean `docwatch archive {close[0]}`? " if close else ""
        raise BadInput(f"{url!r} is neither a command nor a URL; {hint}"
                       "commands: run, status, retry; or give an http:// or https:// URL")
    config, settings = config_for(app)
    client = _client(settings)
    db = open_database(config.db_path)
    try:
        request_id = archive_queue.enqueue(db, url, "manual")
    except ValueError as error:
        raise BadInput(str(error)) from None
    deadline = time.monotonic() + (wait or settings.poll_deadline)
    work_queue(db, client, settings, only=request_id, deadline=deadline)
    request = archive_queue.request(db, request_id)
    click.echo(printable(_describe(request)))
    if request.state != "done":
        raise SystemExit(1)


@archive.command()
@click.option("--limit", type=click.IntRange(min=1), metavar="N", help="Stop after N requests.")
@click.option("--max-seconds", type=Seconds(1), metavar="SECONDS",
              help="Stop after this long, waiting for retries due before then; unfinished jobs "
                   "go back to the queue. [default: stop when nothing is due]")
@pass_app
def run(app: App, limit: int | None, max_seconds: float | None) -> None:
    """Work the queue now, paced to the account's capacity."""
    config, settings = config_for(app)
    client = _client(settings)
    db = open_database(config.db_path, create=False)
    deadline = time.monotonic() + max_seconds if max_seconds else None
    summary: WorkSummary = work_queue(db, client, settings, stop_after=limit, deadline=deadline)
    click.echo(summary.describe())
    click.echo(queue_line(archive_queue.counts_by_state(db)))


@archive.command()
@json_option
@pass_app
def status(app: App, as_json: bool) -> None:
    """Queue depth by state, and the last errors."""
    config, settings = config_for(app)
    db = open_database(config.db_path, create=False)
    counts = archive_queue.counts_by_state(db)
    errors = archive_queue.last_errors(db)
    keys = _client(settings).has_credentials
    if as_json:
        click.echo(printable_json({"counts": counts, "keys_configured": keys, "save_endpoint": settings.endpoints.save,
                                   "last_errors": [asdict(request) for request in errors]}))
        return
    click.echo(queue_line(counts))
    click.echo(f"archive.org keys: {'set' if keys else 'not set (only existing captures are recorded)'}; "
               f"submitting to {settings.endpoints.save}")
    if errors:
        click.echo("Last errors:")
        for request in errors:
            click.echo(printable(f"  #{request.id} {request.state:<17} {request.updated_at}  {request.url}\n"
                                 f"      attempts {request.attempts}: {request.last_error}"))


@archive.command()
@pass_app
def retry(app: App) -> None:
    """Queue failed and needs-credentials requests again, with fresh attempts."""
    config, _ = config_for(app)
    requeued, skipped = archive_queue.retry_failed(open_database(config.db_path, create=False))
    note = f" ({skipped} skipped: their URL is already queued)" if skipped else ""
    click.echo(f"Queued again: {requeued}{note}. `docwatch archive run` works them now.")


def _client(settings: ArchiveSettings) -> WaybackClient:
    try:
        return wayback_client(settings)
    except ValueError as error:  # one key without the other
        raise BadInput(str(error)) from None


def _describe(request: ArchiveRequest) -> str:
    if request.state == "done":
        kind = ("existing capture: the Wayback Machine already had a recent copy"
                if request.capture_kind == EXISTING_CAPTURE else "new capture")
        return f"{request.wayback_url}\n({kind}, taken {request.wayback_timestamp} UTC)"
    if request.state == "queued" and request.job_id:
        return (f"Not archived yet: capture job {request.job_id} has not finished; "
                "`docwatch archive run` follows it up.")
    if request.state == "queued":
        return (f"Not archived yet: queued for attempt {request.attempts + 1} at {request.next_attempt_at}; "
                f"last error: {request.last_error or 'none'}")
    if request.state == "in_progress":
        return f"Not archived yet: being worked by {request.leased_by}."
    label = "needs credentials" if request.state == "needs_credentials" else "failed"
    return f"Not archived ({label}): {request.last_error}"
