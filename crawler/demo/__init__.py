"""`docwatch demo`: the whole pipeline against a bundled site of real pages, on 127.0.0.1.

The site is copied into the demo's own data folder first, so the demo can edit pages between
crawls without touching the installed package, and every run of the demo starts afresh.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
import time
from pathlib import Path

import click

from crawler.config.settings import Config, resolve
from crawler.report.deliver import write_demo_digest
from crawler.demo.fake_wayback import FakeWayback
from crawler.demo.localsite import LocalSite
from crawler.demo.history import load_history
from crawler.run.runner import crawl_in_subprocess, docwatch_in_subprocess
from crawler.config.watchlist import load_watchlist
from storage import open_database, queries

DEMO_DIR = Path(__file__).parent
DEMO_KEYS = ("demo-access-key", "demo-secret-key")  # only valid for the demo's local fake
SITE_DIR = DEMO_DIR / "site"


def prepare(data_dir: Path) -> Path:
    """A fresh demo folder holding a copy of the site; returns the site copy."""
    shutil.rmtree(data_dir, ignore_errors=True)
    data_dir.mkdir(parents=True)
    return Path(shutil.copytree(SITE_DIR, data_dir / "site"))


def write_watchlist(data_dir: Path, base_url: str) -> Path:
    path = data_dir / "watchlist.yaml"
    path.write_text((DEMO_DIR / "watchlist.yaml").read_text("utf-8").replace("{site}", base_url), "utf-8")
    return path


# The edit the demo makes between its two crawls: a quota revised upwards, a new sentence
# with mobilization vocabulary, and a scanned 附件 linked (a JPEG, read by OCR), in the 2018
# report on labor transfer.
EDITED_ARTICLE = "xjrst/c112676/201801/5b1f3c2a9e8d4f6a8c7b1e2d3f4a5b6c.shtml"
EDITS = (
    ("整建制转移内地企业就业20859人", "整建制转移内地企业就业21859人"),
    ("</p>\n</div>", "</p>\n<p>各地要激发内生动力，加强思想工作，转变就业观念。</p>\n</div>"),
    ('<div class="related">', '<div class="attachment">附件：<a href="/xjrst/c112676/201801/W020180109553142613775.jpg">'
                              '附件1：新疆三年转移300多万农业富余劳动力（扫描件）</a></div>\n<div class="related">'),
)


def edit_site(site_copy: Path) -> Path:
    page = site_copy / EDITED_ARTICLE
    html = page.read_text("utf-8")
    for old, new in EDITS:
        html = html.replace(old, new, 1)
    page.write_text(html.replace(">1024<", ">1187<"), "utf-8")  # and the visitor counter moves on
    return page


def docwatch_command() -> str:
    """How to run this docwatch from the user's shell: `docwatch` when that name on the PATH
    is this installation (setup.sh links it into ~/.local/bin), else the installed script's path."""
    installed = Path(sys.executable).parent / "docwatch"
    if not installed.exists():
        return f"{shlex.quote(sys.executable)} -m crawler"
    on_path = shutil.which("docwatch")
    if on_path and Path(on_path).resolve() == installed.resolve():
        return "docwatch"
    relative = os.path.relpath(installed)
    return shlex.quote(relative if not relative.startswith("..") else str(installed))


def next_steps(config: Config, watchlist_file: Path, edited_url: str, edited_snapshot: int) -> list[str]:
    """The commands the demo suggests, runnable as printed: one export line points docwatch at
    the demo's data and watchlist, so each command after it is short."""
    docwatch = docwatch_command()
    lines = [
        f"export DOCWATCH_DATA_DIR={shlex.quote(str(config.data_dir))}"
        f" DOCWATCH_WATCHLIST={shlex.quote(str(watchlist_file))}",
        f"{docwatch} events                # what happened: new pages, the change",
        f"{docwatch} hits --new-only --no-historical  # new keyword hits docwatch saw itself, in context",
        f"{docwatch} events --historical   # the report's history, backfilled from the fake Wayback Machine",
        f"{docwatch} figures               # labor-transfer figures, normalised",
        f"{docwatch} diff {edited_url}",
        f"{docwatch} evidence {edited_url} --verify",
        f"{docwatch} pages                 # every page found, with its snapshots",
        f"{docwatch} snapshots {edited_url}",
        f"{docwatch} show {edited_snapshot}                # a snapshot's extracted text",
    ]
    if shutil.which("sqlite3"):
        lines.append(f"sqlite3 {shlex.quote(str(config.db_path))} .schema")
    return lines


def workbench_line() -> str:
    """The demo's last words: where to review what it found."""
    return (f"\nReview what the demo found in the workbench, in this shell after the export line above:"
            f"\n  {docwatch_command()} serve                # then open http://127.0.0.1:8600/")


def backfill_history(config: Config, wayback: FakeWayback, article_url: str, listing_id: str) -> None:
    """The report's earlier versions, as the fake Wayback Machine holds them (2019: 12万人次,
    2020: 15万人次, 2021: 转移就业 taken out), backfilled for the listing's articles."""
    load_history(wayback, article_url, (SITE_DIR / EDITED_ARTICLE).read_text("utf-8"), until="2021")
    click.secho("\n== backfill: the listing's articles' earlier captures from the fake Wayback Machine", bold=True)
    result = docwatch_in_subprocess(config, ["backfill", "--source", listing_id, "--delay", "0"])
    click.echo(result.stdout.rstrip())
    if result.returncode != 0:
        click.echo(result.stderr, err=True)
        raise SystemExit(result.returncode)


def run_demo(data_dir: Path, port: int = 0, keep_serving: bool = False) -> None:
    site_copy = prepare(data_dir)
    # A local fake of the Wayback Machine, driven by the real client: captures are confirmed
    # the way Save Page Now 2 confirms them, without the network.
    with LocalSite(site_copy, port) as site, FakeWayback(DEMO_KEYS[0], DEMO_KEYS[1], polls_until_done=1) as wayback:
        os.environ.update({
            "DOCWATCH_WAYBACK_URL": wayback.base_url, "DOCWATCH_IA_ACCESS_KEY": DEMO_KEYS[0],
            "DOCWATCH_IA_SECRET_KEY": DEMO_KEYS[1], "DOCWATCH_ARCHIVE_WORK_AFTER_CRAWL": "1",
            "DOCWATCH_ARCHIVE_POLL_INTERVAL": "0.2", "DOCWATCH_ARCHIVE_CAPTURES_PER_MINUTE": "60",
        })
        watchlist_file = write_watchlist(data_dir, site.base_url)
        watchlist = load_watchlist(watchlist_file)
        config = resolve(
            {"db": str(data_dir / "docwatch.db"), "watchlist": str(watchlist_file),
             "data_dir": str(data_dir), "profile": "local"},
            watchlist.settings,
        )
        click.echo(f"Demo site of real pages serving at {site.base_url}/ (from {site_copy})")
        click.echo(f"Local fake of the Wayback Machine at {wayback.base_url}/")
        for attempt in ("first crawl", "second crawl, after editing a page"):
            if attempt.startswith("second"):
                click.echo(f"\nEditing {edit_site(site_copy)}: 20859人 → 21859人, a sentence with 激发内生动力 added,"
                           " a scanned 附件 linked (a JPEG: its text is read by OCR), the visitor counter bumped.")
            click.secho(f"\n== {attempt}", bold=True)
            started = time.monotonic()
            result = crawl_in_subprocess(config, [s.id for s in watchlist.sources], trigger="demo")
            click.echo(result.stdout.rstrip() or f"(no output; took {time.monotonic() - started:.1f}s)")
            if result.returncode != 0:
                click.echo(result.stderr, err=True)
                raise SystemExit(result.returncode)
        edited_url = f"{site.base_url}/{EDITED_ARTICLE}"
        backfill_history(config, wayback, edited_url, watchlist.sources[0].id)
        click.echo(f"\nHTML digest of what the demo found: {write_demo_digest(config.db_path, data_dir)}")
        db = open_database(config.db_path)
        edited_snapshot = queries.page_snapshots(db, edited_url)[-1]["id"]
        db.close()
        steps = next_steps(config, watchlist_file, edited_url, edited_snapshot)
        click.echo("\nWhat to look at next (in this shell; the first line points docwatch at the demo's data):")
        click.echo("\n".join(f"  {line}" for line in steps))
        if not keep_serving:
            click.echo(f"Run `{docwatch_command()} demo --keep-serving` to keep the site up, edit its pages and crawl again.")
            click.echo(workbench_line())
        else:
            click.echo(
                f"\nServing {site.base_url}/ until Ctrl-C. Edit the pages under {site_copy}, then, after the"
                f" export line above:\n  {docwatch_command()} crawl"
            )
            click.echo(workbench_line())
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
