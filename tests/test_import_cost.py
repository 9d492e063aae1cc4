"""A command imports only what it uses: `docwatch events` on a two-year database has about
300 ms to answer, and importing the crawler, the Wayback client or the evidence packages costs
more than that on a busy machine (issue 19). Checked by the modules each command's import
loads, in a fresh interpreter, not by time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# What the group and one command's module load: as `docwatch COMMAND` does before running it.
LOADED_BY_COMMAND = """
import json, sys
import click
from crawler.cli.main import main
with click.Context(main) as ctx:
    assert main.get_command(ctx, sys.argv[1]) is not None, sys.argv[1]
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""

CRAWLING = {"scrapy", "twisted", "trafilatura", "parsel", "lxml"}  # fetching and extracting pages
NETWORK = {"requests", "urllib3", "waybackpy"}  # the Wayback client
PACKAGING = {"cdxj_indexer", "pkg_resources", "pyamf", "cryptography", "rfc3161ng"}  # evidence packages, signing
SCHEDULING = {"apscheduler", "asyncio"}  # the daemon's scheduler
HEAVY = CRAWLING | NETWORK | PACKAGING | SCHEDULING

READING_COMMANDS = ["events", "hits", "figures", "diff", "pages", "status", "digest", "review", "search", "snapshots"]


def loaded_by(command: str) -> set[str]:
    result = subprocess.run([sys.executable, "-c", LOADED_BY_COMMAND, command], capture_output=True, text=True,
                            cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout))


@pytest.mark.parametrize("command", READING_COMMANDS)
def test_a_command_that_reads_the_database_loads_no_crawler_network_packaging_or_scheduler(command):
    assert loaded_by(command) & HEAVY == set()


@pytest.mark.parametrize("command", READING_COMMANDS)
def test_a_command_loads_no_sqlite_utils_or_yaml(command):
    """storage.connection stands in for sqlite-utils (≈ 50 ms to import), and PyYAML is loaded
    only to parse a watchlist not checked before (crawler/config/watchlist_cache.py)."""
    assert loaded_by(command) & {"sqlite_utils", "dateutil", "pluggy", "yaml"} == set()


def test_the_digest_command_loads_templates_and_email_only_when_it_uses_them():
    """Jinja (≈ 15 ms) for Markdown, HTML and Atom, the email package to send one: a JSON digest needs neither."""
    assert loaded_by("digest") & {"jinja2", "email", "smtplib"} == set()


def test_the_check_sees_what_a_command_loads():
    """The probe is not blind: commands that do use the heavy parts load them when they run."""
    assert NETWORK <= loaded_by("archive")
    assert {"cryptography", "rfc3161ng"} <= loaded_by("export")
    assert "trafilatura" in loaded_by("backfill")


def test_every_command_is_listed_and_loads():
    """The lazy group names each command once, and each name leads to a command."""
    listing = subprocess.run([sys.executable, "-m", "crawler", "--help"], capture_output=True, text=True, cwd=ROOT,
                             timeout=120)
    assert listing.returncode == 0, listing.stderr
    names = [line.split()[0] for line in listing.stdout.split("Commands:\n", 1)[1].splitlines() if line.strip()]
    assert len(names) == len(set(names)) and {"events", "digest", "crawl", "import", "custody"} <= set(names)
    loads = subprocess.run(
        [sys.executable, "-c", "import click, sys\nfrom crawler.cli.main import main\n"
         "with click.Context(main) as ctx:\n"
         "    print([n for n in sys.argv[1:] if not isinstance(main.get_command(ctx, n), click.Command)])",
         *names], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert loads.stdout.strip() == "[]", loads.stderr


# Renders an empty digest in each format, as a fresh `docwatch digest` process does.
RENDER_ALL = """
import json
import os
from crawler.config.digest_settings import FORMATS
from crawler.report.model import Digest
from crawler.report.render import render
empty = Digest(generated_at="2026-12-01T08:00:00+00:00", since=None, events=())
print(json.dumps({name: render(empty, name) for name in FORMATS}))
"""


def rendered_with_tmpdir(tmpdir: Path) -> dict[str, str]:
    result = subprocess.run([sys.executable, "-c", RENDER_ALL], capture_output=True, text=True, cwd=ROOT, timeout=120,
                            env={**os.environ, "TMPDIR": str(tmpdir)})
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    return json.loads(result.stdout)


def test_digest_templates_are_compiled_once_and_an_unusable_cache_changes_nothing(tmp_path):
    """Compiled templates are kept between runs (compiling cost each digest 30–80 ms); the
    second run reads them, and where the cache cannot be used the digest is the same."""
    usable, unusable = tmp_path / "usable", tmp_path / "unusable"
    usable.mkdir()
    unusable.mkdir()
    (unusable / f"_jinja2-cache-{os.getuid()}").write_text("a file where the cache directory would be")

    first, second = rendered_with_tmpdir(usable), rendered_with_tmpdir(usable)
    without_cache = rendered_with_tmpdir(unusable)

    cached = list((usable / f"_jinja2-cache-{os.getuid()}").iterdir())
    assert len(cached) >= 2  # the Markdown and HTML digests' templates
    assert first == second == without_cache
    assert "Nothing changed in this period." in first["html"]


# Runs the real command line in this process and writes, at exit, the packages it loaded.
RUN_AND_LIST = """
import atexit, json, sys
listing = sys.argv[1]
atexit.register(lambda: open(listing, "w").write(json.dumps(sorted({name.split(".")[0] for name in sys.modules}))))
sys.argv = ["docwatch", *sys.argv[2:]]
from crawler.cli.main import main
main()
"""

RUNS = [["events", "--since", "1d"], ["hits", "--new-only", "--since", "7d"], ["figures"], ["pages"], ["status"],
        ["digest", "--since", "1d"], ["digest", "--since", "1d", "--format", "json"], ["search", "转移就业"]]


@pytest.mark.e2e
def test_a_reading_command_loads_no_heavy_part_while_it_runs_either(tmp_path):
    """Imports inside a command's function count too (`status` once loaded Scrapy to say when
    each source is due)."""
    from storage import open_database

    open_database(tmp_path / "dw.db").conn.close()
    watchlist = tmp_path / "watchlist.yaml"
    watchlist.write_text("sources:\n  - id: rst\n    url: https://rst.xinjiang.gov.cn/\n    type: page\n    interval: 6h\n", "utf-8")
    loaded = {}
    for command in RUNS:
        listing = tmp_path / "modules.json"
        result = subprocess.run([sys.executable, "-c", RUN_AND_LIST, str(listing), "--db", str(tmp_path / "dw.db"),
                                 "--watchlist", str(watchlist), "--data-dir", str(tmp_path / "data"), *command],
                                capture_output=True, text=True, cwd=ROOT, timeout=120)
        assert result.returncode == 0, (command, result.stderr)
        loaded[" ".join(command)] = set(json.loads(listing.read_text())) & HEAVY
    assert loaded == {" ".join(command): set() for command in RUNS}
