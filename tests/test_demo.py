"""The README's first command: `docwatch demo` works offline and says what to do next."""

import os
import re
import sqlite3
import subprocess
import urllib.request

import pytest

from crawler.demo import EDITED_ARTICLE
from storage.archive_queue import wayback_time
from tests.conftest import run_docwatch

pytestmark = pytest.mark.e2e  # the real demo, crawls in child processes


def test_demo_crawls_the_bundled_site_twice_with_an_edit_in_between(tmp_path):
    result = run_docwatch("--data-dir", str(tmp_path), "demo", env={"DOCWATCH_ENV": "production"})
    assert result.returncode == 0, result.stderr
    assert "6 pages fetched, 6 new, 0 changed, 0 unchanged, 0 failed, 0 gone" in result.stdout
    assert "7 pages fetched, 1 new, 1 changed, 5 unchanged, 0 failed, 0 gone" in result.stdout  # and a scanned 附件
    assert "What to look at next" in result.stdout
    # The report's earlier versions, backfilled from the fake Wayback Machine: history, in its own section.
    assert "3 new snapshot(s)" in result.stdout.partition("== backfill")[2]
    digest = tmp_path / "demo" / "digest.html"
    assert "<h2>History found by backfill</h2>" in digest.read_text("utf-8")
    assert f"HTML digest of what the demo found: {digest}" in result.stdout
    assert "内生动力" in digest.read_text("utf-8")
    # The scanned 附件 (a JPEG) is read by OCR: its quota is in the digest, marked as OCR's reading.
    scan_card = digest.read_text("utf-8").partition("W020180109553142613775.jpg</span>")[2].partition("</dl>")[0]
    assert "text read by OCR (confidence" in scan_card
    assert "<b>67万多人次</b> = <span class=\"num\">670,000 人次</span> · <span class=\"ocr\">read by OCR" in scan_card
    con = sqlite3.connect(tmp_path / "demo" / "docwatch.db")
    titles = {row[0] for row in con.execute("SELECT title FROM snapshots")}
    assert "新疆上半年转移就业农村富余劳动力175.62万人次" in titles
    new_terms = {row[0] for row in con.execute(
        "SELECT f.term FROM hit_flags f JOIN events e ON e.id = f.event_id WHERE e.type = 'changed' AND f.kind = 'new'")}
    assert "内生动力" in new_terms
    # The revised report is cited by a capture of the revision, not by the one taken before it.
    (_, first), (fetched_at, revised) = con.execute(
        "SELECT s.fetched_at, s.wayback_timestamp FROM snapshots s JOIN pages p ON p.id = s.page_id"
        " WHERE p.url LIKE ? AND s.origin = 'crawl' ORDER BY s.id", [f"%/{EDITED_ARTICLE}"]).fetchall()
    assert first < revised and revised >= wayback_time(fetched_at)
    assert "archived copy shows an earlier version" not in digest.read_text("utf-8")


def test_every_command_the_demo_prints_runs_as_printed(tmp_path):
    result = run_docwatch("--data-dir", str(tmp_path), "demo")
    assert result.returncode == 0, result.stderr
    suggested = result.stdout.partition("What to look at next")[2].splitlines()[1:]
    commands = [line.strip() for line in suggested if line.startswith("  ")]
    assert commands[0] == f"export DOCWATCH_DATA_DIR={tmp_path / 'demo'} DOCWATCH_WATCHLIST={tmp_path / 'demo' / 'watchlist.yaml'}"
    assert len(commands) >= 9 and not any("--db" in command or "URL" in command or "SNAPSHOT_ID" in command
                                          for command in commands)
    fresh_shell = {k: v for k, v in os.environ.items() if not k.startswith("DOCWATCH_")}
    workbench = commands.pop()  # the last line: the workbench, which serves until stopped
    assert workbench.split("#")[0].split()[1:] == ["serve"] and result.stdout.rstrip().endswith(workbench)
    with subprocess.Popen(["bash", "-c", f"{commands[0]} && exec {workbench.split('#')[0]} --port 0"],
                          stdout=subprocess.PIPE, text=True, env=fresh_shell) as served:
        try:
            address = re.search(r"http://127\.0\.0\.1:\d+/", served.stdout.readline()).group()
            with urllib.request.urlopen(address, timeout=30) as queue:
                event = re.search(r'href="(/events/\d+)"', queue.read().decode()).group(1)  # the first: the edited quota
            with urllib.request.urlopen(address.rstrip("/") + event, timeout=30) as page:
                html = page.read().decode()
            assert EDITED_ARTICLE in html and "<del>20859</del>" in html and "<ins>21859</ins>" in html
        finally:
            served.terminate()
    outputs = {}
    for command in commands[1:]:
        ran = subprocess.run(["bash", "-c", f"{commands[0]} && {command}"], capture_output=True, text=True,
                             env=fresh_shell, timeout=120)
        assert ran.returncode == 0, (command, ran.stderr)
        assert ran.stdout.strip(), command
        outputs[command.split("#")[0].split()[1]] = ran.stdout

    # `hits --new-only`: a two-line header per page, then one line per term on that page
    lines = outputs["hits"].splitlines()
    pages = [line for line in lines if line.startswith("[demo-")]
    hit_lines = [line for line in lines if line.startswith("  NEW ")]
    assert len(lines) == 2 * len(pages) + len(hit_lines) + 1, outputs["hits"]
    assert len(pages) == len(set(pages)) == 4  # three reports and the scanned 附件 read by OCR
    assert 10 <= len(hit_lines) <= 25
    assert lines[-1].startswith(f"{len(hit_lines)} hit(s) by page and term, 96 flagged occurrence(s)")
    # overlapping terms: one hit under the longest, naming the other
    inner = [line for line in hit_lines if "内生动力" in line.split("…")[0]]
    assert len(inner) == 1 and "激发内生动力 (coercion) [also 内生动力]" in inner[0]
    # a pattern hit: the text it matched and the pattern's name, not the regex
    assert any("«转移就业275万人次» (pattern transfer figure, labor_transfer)" in line for line in hit_lines)
    assert not any("\\d" in line for line in hit_lines)
    # the scanned 附件's quota, read by OCR, says so
    assert any(line.startswith("OCR ") and "670,000 人次" in line and "(转移: 67万多人次)" in line
               for line in outputs["figures"].splitlines()), outputs["figures"]
