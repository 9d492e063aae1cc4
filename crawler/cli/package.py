"""`docwatch export --wacz` (a signed evidence package of events, pages, sources or a period),
`docwatch verify PACKAGE.wacz` (checks one without any database) and `docwatch custody verify`."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import click

from crawler.archive import signing
from crawler.archive.wacz import PackagedSnapshot, verify_package, write_package
from crawler.archive.warc import WarcRecordRef, exchange_records
from crawler.cli.app import App, BadInput, pass_app
from crawler.cli.changes import Since, sources_option
from crawler.report.model import build_digest
from crawler.report.render import render_html, render_json
from crawler.safe_text import printable, printable_line
from storage import custody, packages, utcnow

MAX_PROBLEMS_SHOWN = 20


@click.command()
@click.option("--wacz", "output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Write the evidence package to this .wacz file.")
@click.option("--event", "event_ids", multiple=True, type=click.IntRange(min=1, max=2**63 - 1), metavar="ID",
              help="This event's version and the one before it (repeatable).")
@click.option("--url", "urls", multiple=True, metavar="URL", help="Every stored version of this page (repeatable).")
@sources_option
@click.option("--since", type=Since(), help="Only versions fetched since then (30m, 24h, 7d, an ISO date/time).")
@click.option("--until", type=Since(), help="Only versions fetched before then.")
@pass_app
def export(app: App, output: Path, event_ids: tuple[int, ...], urls: tuple[str, ...], source_ids: tuple[str, ...],
           since: str | None, until: str | None) -> None:
    """Package the stored versions of events, pages, sources or a period as a signed WACZ file
    (WARC records, index, docwatch's events as JSON and HTML, custody entries) that anyone can
    check with `docwatch verify` and replay in ReplayWeb.page or pywb."""
    if output.suffix.lower() != ".wacz":
        raise BadInput(f"--wacz {output}: name the package with the .wacz suffix replay tools expect")
    if not output.parent.is_dir():
        raise BadInput(f"--wacz {output}: the folder {output.parent} does not exist")
    db = app.database(source_ids)
    selection = packages.Selection(event_ids, urls, source_ids, since, until)
    unknown = packages.unknown_parts(db, selection)
    if unknown:
        raise BadInput(f"not in {app.config.db_path}: {', '.join(unknown)}. `docwatch events` and `docwatch pages`"
                       " list what there is.")
    snapshots = packages.selected_snapshots(db, selection)
    if not snapshots:
        raise BadInput("no stored version matches this selection: nothing to package")
    packaged, problems, held_elsewhere = [], [], []
    for snapshot in snapshots:
        if snapshot["warc_file"] is None and snapshot["origin"] != "crawl":
            held_elsewhere.append(snapshot)  # history read from the Wayback Machine or a WARC file
            continue
        if snapshot["warc_file"] is None:
            problems.append(f"snapshot {snapshot['id']} ({snapshot['url']}) has no WARC record")
            continue
        ref = WarcRecordRef(snapshot["warc_file"], snapshot["warc_offset"], snapshot["warc_length"],
                            snapshot["body_sha256"])
        try:
            packaged.append(PackagedSnapshot(snapshot, exchange_records(app.config.warc_dir, ref)))
        except (OSError, ValueError) as error:
            problems.append(f"snapshot {snapshot['id']} ({snapshot['url']}): its WARC records cannot be read: {error}")
    if problems:
        _fail(f"no package written: {len(problems)} of the selected versions cannot be packaged whole", problems)
    if not packaged:
        raise BadInput("every selected version is history held elsewhere (backfilled or imported, no WARC record"
                       " here): cite its capture (`docwatch snapshots URL`), nothing to package")
    snapshot_ids = [item.snapshot["id"] for item in packaged]
    created = datetime.now(timezone.utc).replace(microsecond=0)
    digest = build_digest(db, None, utcnow(created), event_ids=packages.events_of(db, selection, snapshot_ids))
    evidence = {"generated_at": utcnow(created), "selection": selection.as_json(),
                "digest": json.loads(render_json(digest)),
                "custody": {"entries": custody.entries(db, snapshot_ids), "head": custody.head(db)},
                # versions docwatch did not fetch and holds no WARC record of: named with where they are
                "history_not_packaged": [
                    {key: snapshot[key] for key in ("id", "url", "fetched_at", "http_status", "body_sha256", "origin",
                                                    "origin_ref")} for snapshot in held_elsewhere]}
    try:
        key = signing.signing_key(app.config.data_dir)
    except ValueError as error:
        raise BadInput(str(error)) from None
    written = write_package(output, packaged, evidence, render_html(digest), key, created,
                            app.config.timestamp_authorities)
    custody.append(db, "export", {"package": output.name, "datapackage_sha256": written.manifest_sha256,
                                  "snapshot_ids": snapshot_ids, "event_ids": [e.event_id for e in digest.events]})
    click.echo(f"Wrote {output}: {len(packaged)} version(s) of {len({p.snapshot['url'] for p in packaged})} page(s),"
               f" {len(digest.events)} event(s); signed by key {signing.fingerprint(signing.public_key_text(key))};"
               f" {len(written.timestamps)} timestamp(s).")
    if held_elsewhere:
        click.echo(f"{len(held_elsewhere)} history version(s) not packaged (no WARC record here: read from the Wayback"
                   " Machine or a WARC file); docwatch/evidence.json names each with where it is"
                   " (history_not_packaged).")
    for failure in written.timestamp_failures:
        click.echo(printable_line(f"docwatch: no timestamp from {failure} (the package is signed without it)", 500),
                   err=True)


@click.command()
@click.argument("package", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def verify(package: Path) -> None:
    """Check an evidence package on its own (no database): every file's SHA-256, the signature,
    the timestamps, every WARC record's digests and each version's body SHA-256. Exit 1 naming
    each failure."""
    found = verify_package(package)
    if found.failures:
        _fail(f"{package}: FAILED, {len(found.failures)} problem(s)", found.failures)
    click.echo(printable(f"{package}: {found.summary}"))


@click.group("custody")
def custody_group() -> None:
    """The custody log: every snapshot, WARC record, Wayback capture and export, hash-chained."""


@custody_group.command("verify")
@pass_app
def custody_verify(app: App) -> None:
    """Walk the custody log from its first entry: exit 1 naming each broken link or edited entry."""
    db = app.database()
    report = custody.verify_chain(db)
    if report.problems:
        _fail(f"the custody log of {app.config.db_path} is broken: {len(report.problems)} problem(s)", report.problems)
    head = custody.head(db)
    before = (f"; {report.snapshots_without_entry} snapshot(s) were stored before the database had a custody log"
              if report.snapshots_without_entry else "")
    click.echo(f"Custody log OK: {report.entries} entries, each linked to the one before"
               + (f"; head {head['entry_sha256']} (entry {head['id']}, {head['recorded_at']})" if head else "")
               + before + ".")


def _fail(headline: str, problems: list[str]) -> None:
    click.echo(printable_line(f"docwatch: {headline}:", 500), err=True)
    for problem in problems[:MAX_PROBLEMS_SHOWN]:
        click.echo(printable_line(f"  {problem}", 1000), err=True)
    if len(problems) > MAX_PROBLEMS_SHOWN:
        click.echo(f"  … and {len(problems) - MAX_PROBLEMS_SHOWN} more", err=True)
    raise SystemExit(1)
