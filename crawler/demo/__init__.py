"""`docwatch demo`: the whole pipeline against a bundled site of real pages, on 127.0.0.1.

The site is copied into the demo's own data folder first, so the demo can edit pages between
crawls without touching the installed package, and every run of the demo starts afresh.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import click

from crawler.config import resolve
from crawler.digest import write_demo_digest
from crawler.evidence.fake_wayback import FakeWayback
from crawler.localsite import LocalSite
from crawler.runner import crawl_in_subprocess
from crawler.watchlist import load_watchlist

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


# The edit the demo makes between its two crawls: a quota revised upwards and a new sentence
# with mobilization vocabulary, in the 2018 report on labor transfer.
EDITED_ARTICLE = "xjrst/c112676/201801/5b1f3c2a9e8d4f6a8c7b1e2d3f4a5b6c.shtml"
EDITS = (
    ("整建制转移内地企业就业20859人", "整建制转移内地企业就业21859人"),
    ("</p>\n</div>", "</p>\n<p>各地要激发内生动力，加强思想工作，转变就业观念。</p>\n</div>"),
)


def edit_site(site_copy: Path) -> Path:
    page = site_copy / EDITED_ARTICLE
    html = page.read_text("utf-8")
    for old, new in EDITS:
        html = html.replace(old, new, 1)
    page.write_text(html.replace(">1024<", ">1187<"), "utf-8")  # and the visitor counter moves on
    return page


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
                           " the visitor counter bumped.")
            click.secho(f"\n== {attempt}", bold=True)
            started = time.monotonic()
            result = crawl_in_subprocess(config, [s.id for s in watchlist.sources], trigger="demo")
            click.echo(result.stdout.rstrip() or f"(no output; took {time.monotonic() - started:.1f}s)")
            if result.returncode != 0:
                click.echo(result.stderr, err=True)
                raise SystemExit(result.returncode)
        click.echo(f"\nHTML digest of what the demo found: {write_demo_digest(config.db_path, data_dir)}")
        base = f"docwatch --db {config.db_path} --watchlist {watchlist_file}"
        click.echo(
            "\nWhat to look at next:\n"
            f"  {base} events                # what happened: new pages, the change\n"
            f"  {base} hits --new-only       # new keyword hits, in context\n"
            f"  {base} figures               # labor-transfer figures, normalised\n"
            f"  {base} diff {site.base_url}/{EDITED_ARTICLE}\n"
            f"  {base} evidence {site.base_url}/{EDITED_ARTICLE} --verify\n"
            f"  {base} pages                 # every page found, with its snapshots\n"
            f"  {base} snapshots URL         # the snapshots of one page\n"
            f"  {base} show SNAPSHOT_ID      # a snapshot's extracted text\n"
            f"  sqlite3 {config.db_path} .schema"
        )
        if not keep_serving:
            click.echo("Run `docwatch demo --keep-serving` to keep the site up, edit its pages and crawl again.")
        else:
            click.echo(
                f"\nServing {site.base_url}/ until Ctrl-C. Edit the pages under {site_copy}, then:\n  {base} crawl"
            )
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
