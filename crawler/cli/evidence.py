"""`docwatch evidence URL`: a page's stored copies, and proof that the WARC records still hold them."""

from __future__ import annotations

from pathlib import Path

import click

from crawler.cli.app import App, BadInput, json_option, pass_app
from crawler.cli.archive import config_for
from crawler.archive.warc import WarcRecordRef, replay_problem
from crawler.report.model import export_command
from crawler.safe_text import printable, printable_json
from storage import archive_queue, open_database


@click.command()
@click.argument("url")
@click.option("--verify", is_flag=True,
              help="Re-read every WARC record and check its SHA-256 (exit 1 if any fails).")
@json_option
@pass_app
def evidence(app: App, url: str, verify: bool, as_json: bool) -> None:
    """List the stored copies of URL: hashes, local WARC records, Wayback captures."""
    config, _ = config_for(app)
    copies = archive_queue.snapshot_evidence(open_database(config.db_path, create=False), url)
    if not copies:
        raise BadInput(f"no snapshots of {url} in {config.db_path}. `docwatch pages` lists known URLs.")
    if verify:
        for copy in copies:
            copy["replay"] = _replay(config.warc_dir, copy)
    if as_json:
        click.echo(printable_json(copies))
    else:
        for copy in copies:
            click.echo(printable(_describe(copy)))
        click.echo(printable(f"Package these copies as signed evidence: {export_command(url=url)}"))
    failed = [c for c in copies if verify and c["warc_file"] and c["replay"] != "OK"]
    if failed:
        click.echo(f"{len(failed)} of {len(copies)} WARC record(s) failed the replay check "
                   f"(records in {config.warc_dir}).", err=True)
        raise SystemExit(1)


def _replay(warc_dir: Path, copy: dict) -> str:
    if copy["warc_file"] is None:
        return "no WARC record"
    ref = WarcRecordRef(copy["warc_file"], copy["warc_offset"], copy["warc_length"], copy["body_sha256"])
    return replay_problem(warc_dir, ref) or "OK"


def _describe(copy: dict) -> str:
    warc = (f"{copy['warc_file']} @ {copy['warc_offset']} ({copy['warc_length']} bytes)"
            if copy["warc_file"] else "no WARC record")
    if "replay" in copy and copy["warc_file"]:
        warc += f"  replay: {copy['replay']}"
    earlier = copy["earlier_capture"]
    if copy["wayback_url"]:
        wayback = copy["wayback_url"]
    elif earlier:
        wayback = (f"not archived; archived copy shows an earlier version: {earlier['wayback_url']} "
                   f"(captured {earlier['wayback_timestamp']}, before this copy was fetched)")
    else:
        wayback = "not archived (see `docwatch archive status`)"
    return (f"#{copy['id']:<5} {copy['fetched_at']}  HTTP {copy['http_status']}  {copy['body_size']} bytes\n"
            f"       body SHA-256 {copy['body_sha256']}\n"
            f"       WARC         {warc}\n"
            f"       Wayback      {wayback}")
