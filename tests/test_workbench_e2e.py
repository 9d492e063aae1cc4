"""`docwatch serve` as a real process on 127.0.0.1: what it refuses (another host without a
token, a request without the token, a state change without its CSRF token, a foreign Host
header), and what it shows of a real crawl."""

from __future__ import annotations

import json
import re
import socket
import sqlite3

import pytest

from crawler.demo import EDITED_ARTICLE
from crawler.workbench import make_app
from tests.conftest import run_docwatch
from tests.workbench_server import Browser, crawled_site, serving

pytestmark = pytest.mark.e2e
TOKEN = "correct-horse-battery-staple-42"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return crawled_site(tmp_path_factory.mktemp("workbench"))


@pytest.fixture(scope="module")
def server(data):
    with serving(data.db) as (base, _):
        yield base


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def reviewed_at(db, event_id: int):
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT reviewed_at FROM events WHERE id = ?", [event_id]).fetchone()[0]


def test_the_queue_leads_with_the_edited_quota_and_its_event_shows_the_diff(server, data):
    client = Browser()
    status, _, html = client.request(server + "/")
    assert status == 200
    first = re.search(r'href="/events/(\d+)[^"]*">([^<]+)</a><br><span class="meta">([^<]+)', html)
    assert first.group(3).endswith(EDITED_ARTICLE)  # what a page took back (a silent edit, a figure gone) first
    status, _, event = client.request(f"{server}/events/{first.group(1)}")
    assert status == 200 and "<del>20859</del>" in event and "<ins>21859</ins>" in event
    assert "Figures no longer stated" in event and "激发内生动力" in event


def test_a_state_change_without_its_csrf_token_is_refused(server, data):
    client = Browser()
    _, _, html = client.request(server + "/")
    event_id = int(re.search(r'name="event_id" value="(\d+)"', html).group(1))
    for form in ({"event_id": event_id, "action": "reviewed"},
                 {"event_id": event_id, "action": "reviewed", "csrf": "guessed"}):
        assert client.request(server + "/review", form)[0] == 403
    stranger = Browser()  # another site's form: the browser sends no token the attacker could know
    assert stranger.request(server + "/review", {"event_id": event_id, "action": "reviewed", "csrf": csrf_of(html)})[0] == 403
    assert reviewed_at(data.db, event_id) is None

    status, headers, _ = client.request(server + "/review", {"event_id": event_id, "action": "reviewed", "csrf": csrf_of(html),
                                                             "next": "https://evil.example/"})
    assert status == 303 and headers["location"] == "/" and reviewed_at(data.db, event_id) is not None
    client.request(server + "/review", {"event_id": event_id, "action": "unreviewed", "csrf": csrf_of(html)})
    assert reviewed_at(data.db, event_id) is None


def test_every_route_that_changes_state_checks_the_csrf_token(server):
    posting = [route.path for route in make_app("unused.db", "unused").routes if "POST" in getattr(route, "methods", ())]
    assert posting == ["/review", "/events/{event_id:int}/work"]
    client = Browser()
    client.request(server + "/")
    for path in ("/review", "/events/1/work"):
        assert client.request(server + path, {"action": "reviewed", "tags": "x", "note": "y"})[0] == 403


def test_page_html_only_in_a_sandbox_that_runs_and_fetches_nothing(server, data):
    client = Browser()
    with sqlite3.connect(data.db) as conn:
        snapshot_id = conn.execute("SELECT max(id) FROM snapshots").fetchone()[0]
    status, headers, _ = client.request(f"{server}/snapshots/{snapshot_id}/html")
    policy = headers["content-security-policy"]
    assert status == 200 and "default-src 'none'" in policy and "sandbox" in policy
    status, headers, frame = client.request(f"{server}/snapshots/{snapshot_id}/original")
    assert f'<iframe class="original" sandbox src="/snapshots/{snapshot_id}/html"' in frame
    assert "script-src 'self'" in headers["content-security-policy"] and "frame-ancestors 'none'" in headers["content-security-policy"]


def test_a_foreign_host_header_is_refused(server):
    """DNS rebinding: a page on evil.example whose name now points at 127.0.0.1 reads nothing."""
    assert Browser().request(server + "/", headers={"Host": "evil.example"})[0] == 400


def test_another_host_needs_a_token_and_the_token_guards_every_page(data):
    refused = run_docwatch("--db", str(data.db), "serve", "--host", "0.0.0.0", "--port", "0",
                           env={"DOCWATCH_SERVE_TOKEN": ""})
    assert refused.returncode == 2 and "DOCWATCH_SERVE_TOKEN" in refused.stderr and "Traceback" not in refused.stderr
    short = run_docwatch("--db", str(data.db), "serve", "--host", "0.0.0.0", env={"DOCWATCH_SERVE_TOKEN": "abc"})
    assert short.returncode == 2 and "at least 16" in short.stderr

    with serving(data.db, env={"DOCWATCH_SERVE_TOKEN": TOKEN}) as (base, process):
        client = Browser()
        assert client.request(base + "/")[0] == 401
        assert client.request(base + "/search?q=x")[0] == 401
        assert client.request(base + "/?token=wrong")[0] == 401
        status, headers, _ = client.request(base + "/search?q=%E8%BD%AC&token=" + TOKEN)
        assert status == 303 and headers["location"] == "/search?q=%E8%BD%AC"
        assert client.request(base + "/")[0] == 200  # the cookie carries it from now on
    assert TOKEN not in process.stdout.read() + process.stderr.read()  # a secret is never shown


def test_a_port_in_use_or_a_missing_database_is_bad_input(tmp_path, data):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = run_docwatch("--db", str(data.db), "serve", "--port", str(port))
    assert busy.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in busy.stderr
    missing = run_docwatch("--db", str(tmp_path / "none.db"), "serve")
    assert missing.returncode == 2 and "no database" in missing.stderr


def test_search_from_the_command_line_finds_what_the_page_no_longer_says(data):
    found = run_docwatch("--db", str(data.db), "search", "20859人")
    assert found.returncode == 0 and "NO LONGER SAYS IT" in found.stdout and "[20859人]" in found.stdout
    traditional = run_docwatch("--db", str(data.db), "search", "轉移就業", "--json")
    assert traditional.returncode == 0 and EDITED_ARTICLE in traditional.stdout
    empty = run_docwatch("--db", str(data.db), "search", "  ")
    assert empty.returncode == 2 and "give some text" in empty.stderr


def test_bad_requests_get_a_clear_page_not_a_traceback(server):
    client = Browser()
    for path, status, says in (("/?page=abc", 400, "page: give a whole number"), ("/?since=yesterday", 400, "YYYY-MM-DD"),
                               ("/?page=99999999999", 400, "from 1 to"), ("/events/999999", 404, "no event 999999"),
                               ("/pages?url=http://nowhere.example/", 404, "no page with that URL"),
                               ("/snapshots/999999/html", 404, "no snapshot"), ("/export.exe", 404, "csv, json or md")):
        got, _, html = client.request(server + path)
        assert (got, says in html, "Traceback" in html) == (status, True, False), path


def test_bulk_review_of_a_filtered_list_and_its_exports(server, data):
    client = Browser()
    _, _, html = client.request(server + "/?type=new_page")
    with sqlite3.connect(data.db) as conn:
        new_pages = {row[0] for row in conn.execute("SELECT id FROM events WHERE type = 'new_page'")}
    status, headers, csv_text = client.request(server + "/export.csv?type=new_page")
    assert status == 200 and headers["content-type"].startswith("text/csv")
    assert {int(line.split(",")[0]) for line in csv_text.splitlines()[1:]} == new_pages
    status, _, exported = client.request(server + "/export.json?type=new_page")
    document = json.loads(exported)
    assert document["schema"] == "docwatch-digest/1" and {e["event_id"] for e in document["events"]} == new_pages
    assert client.request(server + "/export.md?type=new_page")[2].count("`new_page`") == len(new_pages)

    status, _, _ = client.request(server + "/review", {"type": "new_page", "reviewed": "no", "action": "reviewed",
                                                        "csrf": csrf_of(html), "next": "/?type=new_page"})
    with sqlite3.connect(data.db) as conn:
        marked = {row[0] for row in conn.execute("SELECT id FROM events WHERE reviewed_at IS NOT NULL")}
    assert status == 303 and marked == new_pages  # those, and no other event
    assert "Nothing to review here." in client.request(server + "/?type=new_page")[2]
    client.request(server + "/review", {"type": "new_page", "reviewed": "yes", "action": "unreviewed", "csrf": csrf_of(html)})
    with sqlite3.connect(data.db) as conn:
        assert conn.execute("SELECT count(*) FROM events WHERE reviewed_at IS NOT NULL").fetchone()[0] == 0


def test_an_unexpected_error_shows_a_plain_page_and_logs_its_traceback(data, tmp_path):
    db = tmp_path / "dw.db"
    db.write_bytes(data.db.read_bytes())
    with serving(db) as (base, process):
        with sqlite3.connect(db) as conn:  # the queue's table gone under the running server
            conn.executescript("DROP VIEW event_ranking; DROP TRIGGER event_triage_on_event; DROP TABLE event_triage;")
        status, _, page = Browser().request(base + "/")
    stderr = process.stderr.read()
    assert status == 500 and "unexpected error" in page and "Traceback" not in page + stderr
    log = tmp_path / "logs" / "workbench.log"
    assert f"details in {log}" in stderr and "Traceback" in log.read_text() and "event_triage" in log.read_text()
