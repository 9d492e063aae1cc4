"""Issue 11, hostile and bad input: figures that contain "404", broken bytes in a GB page,
control characters in page text, and every kind of bad watchlist, option or database path.
Real crawls over a local site, the real command line in a subprocess."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crawler.demo.localsite import LocalSite
from tests.conftest import run_docwatch

pytestmark = pytest.mark.e2e  # every test here runs the real command line in child processes

ARTICLE = """<!DOCTYPE html>
<html><head><meta charset="{charset}"><title>{title}_皮山县人民政府网</title>
<meta name="ArticleTitle" content="{title}"><meta name="PubDate" content="2023-10-12 10:30"></head>
<body><div class="nav"><a href="/">首页</a></div>
<div id="zoom"><p>{text}</p></div>
<div class="footer">主办：皮山县人民政府</div></body></html>
"""


def write_article(root: Path, path: str, title: str, text: str, charset: str = "utf-8") -> None:
    file = root / path.lstrip("/")
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_bytes(ARTICLE.format(charset=charset, title=title, text=text).encode(charset))


def write_watchlist(folder: Path, base_url: str, paths: list[str]) -> Path:
    sources = "".join(
        f"  - id: article-{number}\n    url: {base_url}{path}\n    type: page\n" for number, path in enumerate(paths)
    )
    watchlist = folder / "watchlist.yaml"
    watchlist.write_text(
        "keyword_sets:\n  labor_transfer:\n    terms: [转移就业]\nsources:\n" + sources, "utf-8"
    )
    return watchlist


def json_of(*args: str, db: Path, watchlist: Path) -> list | dict:
    result = run_docwatch(*args, "--json", db=db, watchlist=watchlist)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


QUOTA_PAGE = "/phx/c114304/202310/f44ac40812424a1c9bcb113ab2b88936.shtml"
REVISED_PAGE = "/phx/c114304/202310/9e76fed6d19400687e7f818a31be240a.shtml"


def test_a_figure_containing_404_is_never_a_page_not_found(tmp_path):
    root = tmp_path / "site"
    write_article(root, QUOTA_PAGE, "皮山县转移就业2404人", "今年以来，皮山县农村富余劳动力转移就业2404人，完成年度目标任务的101%。")
    write_article(root, REVISED_PAGE, "皮山县技能培训情况", "全县开展职业技能培训2404人次，转移就业2404人。")
    db = tmp_path / "dw.db"
    with LocalSite(root) as site:
        watchlist = write_watchlist(tmp_path, site.base_url, [QUOTA_PAGE, REVISED_PAGE])
        for _ in range(3):  # removal needs two confirmations: a figure must never start one
            assert run_docwatch("crawl", db=db, watchlist=watchlist).returncode == 0
            write_article(root, REVISED_PAGE, "皮山县技能培训情况", "全县开展职业技能培训1404人次，转移就业1404人。")
        events = json_of("events", db=db, watchlist=watchlist)
        pages = {page["url"].removeprefix(site.base_url): page for page in json_of("pages", db=db, watchlist=watchlist)}
    by_page: dict[str, list[str]] = {}
    for event in events:
        by_page.setdefault(event["url"].removeprefix(site.base_url), []).append(event["type"])
    assert by_page == {QUOTA_PAGE: ["new_page"], REVISED_PAGE: ["new_page", "changed"]}
    assert {path: (page["snapshots"], page["state"]) for path, page in pages.items()} == {
        QUOTA_PAGE: (1, "live"), REVISED_PAGE: (2, "live"),
    }


HOSTILE_PAGE = "/phx/c114304/202311/0b5c1a2d3e4f40718293a4b5c6d7e8f9.shtml"
# ESC sequences that clear the screen and set the window title, BEL, and bidi overrides/isolates.
TERMINAL_ATTACKS = ("\x1b[2J", "\x1b]0;pwned\x07", "\x07", "\u202e", "\u2066", "\x9b")


def crawl_hostile_page(tmp_path) -> tuple[Path, Path, str]:
    root = tmp_path / "site"
    write_article(
        root, HOSTILE_PAGE, "皮山县\x1b[2J转移就业\x1b]0;pwned\x07情况\u202e",
        "全县\x07转移就业1404人\u2066，完成年度目标任务的\x9b101%。",
    )
    db = tmp_path / "dw.db"
    with LocalSite(root) as site:
        watchlist = write_watchlist(tmp_path, site.base_url, [HOSTILE_PAGE])
        assert run_docwatch("crawl", db=db, watchlist=watchlist).returncode == 0
        return db, watchlist, site.base_url + HOSTILE_PAGE


def test_control_and_bidi_characters_never_reach_the_terminal(tmp_path):
    db, watchlist, url = crawl_hostile_page(tmp_path)
    (snapshot,) = json_of("snapshots", url, db=db, watchlist=watchlist)
    assert "\x1b" in snapshot["title"]  # stored as the page has it: evidence is not rewritten
    for command in (["pages"], ["snapshots", url], ["show", str(snapshot["id"])], ["hits"], ["figures"]):
        result = run_docwatch(*command, db=db, watchlist=watchlist)
        assert result.returncode == 0, result.stderr
        assert "转移就业" in result.stdout  # the page's text is there, made safe
        assert not [attack for attack in TERMINAL_ATTACKS if attack in result.stdout], command
    shown = run_docwatch("show", str(snapshot["id"]), db=db, watchlist=watchlist).stdout
    assert "皮山县\ufffd[2J转移就业" in shown  # replaced, visibly, not silently dropped
    for command in (["pages", "--json"], ["snapshots", url, "--json"], ["hits", "--json"]):
        result = run_docwatch(*command, db=db, watchlist=watchlist)
        assert not [attack for attack in TERMINAL_ATTACKS if attack in result.stdout], command
        assert "\u202e" in json.loads(result.stdout)[0]["title"]  # escaped as \\u202e: the data is whole


def test_show_raw_writes_bytes_to_a_pipe_but_refuses_a_terminal(tmp_path):
    import os
    import pty
    import subprocess
    import sys

    db, watchlist, url = crawl_hostile_page(tmp_path)
    (snapshot,) = json_of("snapshots", url, db=db, watchlist=watchlist)
    piped = subprocess.run(
        [sys.executable, "-m", "crawler", "--db", str(db), "--watchlist", str(watchlist), "show", "--raw", str(snapshot["id"])],
        capture_output=True, timeout=60,
    )
    assert piped.returncode == 0 and piped.stdout == (tmp_path / "site" / HOSTILE_PAGE.lstrip("/")).read_bytes()

    controller, terminal = pty.openpty()
    with subprocess.Popen(
        [sys.executable, "-m", "crawler", "--db", str(db), "--watchlist", str(watchlist), "show", "--raw", str(snapshot["id"])],
        stdout=terminal, stderr=subprocess.PIPE,
    ) as on_terminal:
        os.close(terminal)
        seen = b""
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        stderr = on_terminal.stderr.read().decode()
    os.close(controller)
    assert on_terminal.returncode == 2
    assert b"\x1b" not in seen and "not to a terminal" in stderr and "Traceback" not in stderr


BROKEN_GB_PAGE = "/phx/c114304/202312/3c9d1e2f4a5b46c7d8e9f0a1b2c3d4e5.shtml"


def test_a_gb2312_page_with_broken_bytes_keeps_its_text_and_says_how_many_bytes_were_bad(tmp_path):
    from tests.test_extract import broken_gb2312_page

    body, text = broken_gb2312_page()
    root = tmp_path / "site"
    (root / BROKEN_GB_PAGE.lstrip("/")).parent.mkdir(parents=True)
    (root / BROKEN_GB_PAGE.lstrip("/")).write_bytes(body)
    (root / "_site.json").write_text(json.dumps({BROKEN_GB_PAGE: {"content_type": "text/html; charset=gb2312"}}))
    db = tmp_path / "dw.db"
    with LocalSite(root) as site:
        watchlist = write_watchlist(tmp_path, site.base_url, [BROKEN_GB_PAGE])
        assert run_docwatch("crawl", db=db, watchlist=watchlist).returncode == 0
        url = site.base_url + BROKEN_GB_PAGE
        (snapshot,) = json_of("snapshots", url, db=db, watchlist=watchlist)
        listed = run_docwatch("snapshots", url, db=db, watchlist=watchlist).stdout
        shown = run_docwatch("show", str(snapshot["id"]), db=db, watchlist=watchlist).stdout
    assert (snapshot["encoding"], snapshot["undecodable_bytes"]) == ("gb18030", 5)
    assert "gb18030 (5 undecodable bytes" in listed
    assert "全县\ufffd累计转移就业2404人" in shown and shown.count("\ufffd") == 5


READ_COMMANDS = [["pages"], ["snapshots", "http://a.gov.cn/x.shtml"], ["show", "1"], ["events"], ["hits"], ["figures"],
                 ["diff", "http://a.gov.cn/x.shtml"], ["status"], ["evidence", "http://a.gov.cn/x.shtml"],
                 ["archive", "status"], ["digest"]]


def a_watchlist(tmp_path: Path) -> Path:
    return write_watchlist(tmp_path, "http://127.0.0.1:9", [QUOTA_PAGE])


def test_read_commands_on_a_missing_database_say_so_and_create_nothing(tmp_path):
    watchlist, db = a_watchlist(tmp_path), tmp_path / "typo.db"
    for command in READ_COMMANDS:
        result = run_docwatch(*command, db=db, watchlist=watchlist)
        assert (result.returncode, result.stdout) == (2, ""), (command, result)
        assert f"no database at {db} yet: run `docwatch crawl` first" in result.stderr, command
        assert not db.exists(), command


def test_a_file_that_is_not_a_database_is_bad_input(tmp_path):
    watchlist, db = a_watchlist(tmp_path), tmp_path / "notes.txt"
    db.write_text("转移就业 notes, not a database\n" * 100)
    for command in (["crawl"], ["events"], ["status"], ["pages"]):
        result = run_docwatch(*command, db=db, watchlist=watchlist)
        assert result.returncode == 2, (command, result)
        assert f"{db} is not a docwatch database" in result.stderr and "Traceback" not in result.stderr, command
    assert db.read_text().startswith("转移就业 notes")


def test_a_read_only_database_is_bad_input(tmp_path):
    """Run as another user would (without root's power to write anything), on a database and a
    folder that are not writable."""
    import os
    import stat
    import subprocess
    import sys

    from storage import open_database

    watchlist, folder = a_watchlist(tmp_path), tmp_path / "archive-copy"
    folder.mkdir()
    db = folder / "docwatch.db"
    open_database(db).close()
    db.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    without_root_powers = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"] if os.geteuid() == 0 else []
    try:
        for command in (["crawl"], ["events"], ["status"]):
            result = subprocess.run(
                [*without_root_powers, sys.executable, "-m", "crawler", "--db", str(db), "--watchlist", str(watchlist), *command],
                capture_output=True, text=True, timeout=120, env={**os.environ, "DOCWATCH_ENV": "local"},
            )
            assert result.returncode == 2, (command, result)
            assert f"the database {db} is read-only" in result.stderr and "Traceback" not in result.stderr, command
    finally:
        folder.chmod(stat.S_IRWXU)


def test_an_unusable_setting_in_the_environment_is_bad_input(tmp_path):
    watchlist = a_watchlist(tmp_path)
    for variable, value in (("DOCWATCH_DOWNLOAD_TIMEOUT", "abc"), ("DOCWATCH_MAX_PAGE_BYTES", "99999999999999999999")):
        result = run_docwatch("crawl", db=tmp_path / "dw.db", watchlist=watchlist, env={variable: value})
        assert result.returncode == 2 and f"{variable}={value!r}: give a whole number" in result.stderr, result


def test_a_duration_reaching_before_year_one_is_bad_input(tmp_path):
    watchlist, db = a_watchlist(tmp_path), tmp_path / "dw.db"
    assert run_docwatch("crawl", db=db, watchlist=watchlist).returncode == 0
    result = run_docwatch("events", "--since", "99999999999d", db=db, watchlist=watchlist)
    assert result.returncode == 2 and "reaches back before the year 1" in result.stderr, result


def test_an_unexpected_error_prints_one_line_and_logs_the_traceback_in_the_data_directory(tmp_path):
    """The backstop, shown on the real entry point with a command that fails as a bug would."""
    import os
    import subprocess
    import sys

    failing_command = (
        "from crawler.cli.main import main\n"
        "@main.command()\n"
        "def broken():\n"
        "    {}['missing key']\n"
        "main()\n"
    )
    result = subprocess.run([sys.executable, "-c", failing_command, "--data-dir", str(tmp_path / "data"), "broken"],
                            capture_output=True, text=True, timeout=60, env=dict(os.environ))
    log = tmp_path / "data" / "logs" / "docwatch.log"
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        "docwatch: unexpected error: KeyError: 'missing key'",
        f"docwatch: the details are in {log}; please report it with that file.",
    ]
    assert "Traceback" in log.read_text() and "KeyError: 'missing key'" in log.read_text()


def test_numbers_of_seconds_out_of_range_are_bad_input(tmp_path):
    watchlist = a_watchlist(tmp_path)
    for command in (["daemon", "--time-limit", "inf"], ["daemon", "--grace", "nan"], ["daemon", "--archive-every", "1e400"],
                    ["archive", "run", "--max-seconds", "-1"], ["review", "99999999999999999999"]):
        result = run_docwatch(*command, db=tmp_path / "dw.db", watchlist=watchlist)
        assert result.returncode == 2 and "Invalid value for" in result.stderr, (command, result)
