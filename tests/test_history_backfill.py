"""`docwatch backfill` against the local fake of the Wayback Machine (CDX search paged by
resume keys, `id_` playback), with the real command line in a child process."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest
import requests
import yaml

from crawler.archive.wayback import WaybackClient, WaybackEndpoints
from crawler.demo import EDITED_ARTICLE, SITE_DIR, write_watchlist
from crawler.demo.fake_wayback import FakeWayback
from crawler.demo.history import load_history
from tests.conftest import run_docwatch
from tests.wayback import add_capture

REAL_ARTICLE = (SITE_DIR / EDITED_ARTICLE).read_text("utf-8")  # the demo site's real report

# A real recorded CDX search paged by resume keys (edgi-govdata-archiving/wayback, its test cassettes).
RECORDED_PAGES = Path(__file__).parent / "files" / "wayback" / "edgi-wayback_test_search_multipage.yaml"
ARTICLE = "https://rst.xinjiang.gov.cn/xjrst/c112676/201801/5b1f3c2a9e8d4f6a8c7b1e2d3f4a5b6c.shtml"


@pytest.fixture
def wayback():
    with FakeWayback() as fake:
        load_history(fake, ARTICLE, REAL_ARTICLE)
        yield fake


def backfill(tmp_path, wayback, *args):
    watchlist = write_watchlist(tmp_path, "http://127.0.0.1:9")  # nothing is crawled: the watchlist gives keyword sets
    env = {"DOCWATCH_WAYBACK_URL": wayback.base_url, "DOCWATCH_BACKFILL_DELAY": "0", "DOCWATCH_BACKFILL_BACKOFF": "0.1"}
    return run_docwatch("backfill", "--url", ARTICLE, *args, db=tmp_path / "d.db", watchlist=watchlist, env=env)


def read(tmp_path, *args):
    done = run_docwatch(*args, "--json", db=tmp_path / "d.db")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.e2e
def test_four_captures_make_three_snapshots_and_the_history_events_in_time_order(tmp_path, wayback):
    done = backfill(tmp_path, wayback)
    assert done.returncode == 0, done.stderr
    assert "3 new snapshot(s)" in done.stdout and "1 showing the page gone" in done.stdout

    snapshots = read(tmp_path, "snapshots", ARTICLE)
    assert [s["fetched_at"][:10] for s in snapshots] == ["2019-03-15", "2020-06-11", "2021-09-02"]

    events = [e for e in read(tmp_path, "events") if e["url"] == ARTICLE]
    assert [(e["type"], e["detected_at"][:4]) for e in events] == [
        ("new_page", "2019"), ("changed", "2020"), ("changed", "2021"), ("removed", "2022")]
    assert all(e["detail"]["historical"] and e["detail"]["origin"] == "wayback" for e in events)
    assert events[0]["detail"]["capture"] == f"{wayback.base_url}/web/20190315083000/{ARTICLE}"
    removed = events[-1]
    assert removed["http_status"] == 404 and removed["detail"]["kind"] == "deleted"
    assert removed["snapshot_id"] == snapshots[-1]["id"]  # the last good copy
    assert removed["detail"]["last_capture"]["wayback_url"] == f"{wayback.base_url}/web/20210902064500/{ARTICLE}"

    figures = {(f["value"], f["unit"]): f for f in read(tmp_path, "figures")}
    assert figures[(150000, "人次")]["first_seen"][:10] == "2020-06-11" and figures[(150000, "人次")]["new"]
    assert figures[(120000, "人次")]["first_seen"][:4] == "2019" and not figures[(120000, "人次")]["present"]

    scrubbed = [h for h in read(tmp_path, "hits") if h["kind"] == "scrubbed" and h["term"] == "转移就业"]
    assert [h["detected_at"][:10] for h in scrubbed] == ["2021-09-02"]

    pages = [p for p in read(tmp_path, "pages") if p["url"] == ARTICLE]
    assert pages[0]["state"] == "removed"

    assert len(read(tmp_path, "events", "--historical")) == 4 and read(tmp_path, "events", "--no-historical") == []
    assert read(tmp_path, "hits", "--no-historical") == [] and read(tmp_path, "figures", "--no-historical") == []
    digest = run_docwatch("digest", "--since", "1h", "--format", "md", db=tmp_path / "d.db")
    assert digest.returncode == 0, digest.stderr
    history = digest.stdout.split("## History found by backfill")[1]
    assert "## " not in history.replace("### ", "").replace("#### ", "")  # its own section, the last
    assert [line.split("`")[1] for line in history.splitlines() if line.startswith("#### ")] == [
        "new_page", "changed", "changed", "removed"]  # in time order
    assert f"<{wayback.base_url}/web/20200611120000/{ARTICLE}>" in history

    again = backfill(tmp_path, wayback)
    assert again.returncode == 0, again.stderr
    assert "0 new snapshot(s)" in again.stdout and "4 imported before" in again.stdout
    assert len(read(tmp_path, "snapshots", ARTICLE)) == 3
    assert len([e for e in read(tmp_path, "events") if e["url"] == ARTICLE]) == 4
    playbacks = [r for r in wayback.requests if r.path.startswith("/web/")]
    assert len(playbacks) == 4  # the second run fetched no capture again


def test_the_fake_pages_a_cdx_answer_as_the_real_index_does_and_the_client_reads_every_page():
    recorded = yaml.safe_load(RECORDED_PAGES.read_text("utf-8"))["interactions"]
    real_page = gzip.decompress(recorded[0]["response"]["body"]["string"]).decode()
    with FakeWayback() as fake:
        load_history(fake, ARTICLE, REAL_ARTICLE)
        add_capture(fake, ARTICLE.replace("201801", "201802"), b"<html>another page</html>", "20200101000000")
        answer = requests.get(f"{fake.base_url}/cdx/search/cdx", params={
            "url": ARTICLE, "limit": "2", "showResumeKey": "true"}, timeout=10).text
        client = WaybackClient(WaybackEndpoints.from_base(fake.base_url), timeout=10)
        captures = client.captures(ARTICLE, page_size=2)
        recent = client.captures(ARTICLE, start="2020", end="2021", page_size=2)
    # Lines, a blank line, then the key to resume from: form-quoted, past the last line's key.
    shape = re.compile(r"(?:\S+ \d{14} \S+ \S+ \d{3} [A-Z2-7]{32} \d+\n)+\n(\S+)\n")
    real_key = shape.search(real_page).group(1)
    fake_key = shape.fullmatch(answer).group(1)
    assert re.fullmatch(r"[^ ]+\+\d{13}%3A", real_key) and re.fullmatch(r"[^ ]+\+\d{13}.", fake_key.replace("%3A", ":"))
    assert [c.timestamp for c in captures] == ["20190315083000", "20200611120000", "20210902064500", "20220120101500"]
    assert [c.status_code for c in captures] == [200, 200, 200, 404]
    assert [c.timestamp for c in recent] == ["20200611120000", "20210902064500"]
    resumed = [r for r in fake.requests if r.path == "/cdx/search/cdx" and "resumeKey" in r.query]
    assert len(resumed) == 1  # four captures in two pages of two: the second asked for with the key the first gave


@pytest.mark.e2e
def test_a_busy_wayback_machine_is_waited_for_and_an_unfinished_backfill_resumes(tmp_path, wayback):
    second = f"/web/20200611120000id_/{ARTICLE}"
    wayback.script(["502"], path="/cdx/search/cdx")  # once: waited for, then answered
    wayback.script(["502"] * 5, path=second)  # five times: the URL is left for the next run
    first = backfill(tmp_path, wayback)
    assert first.returncode == 1
    assert f"unfinished {ARTICLE}" in first.stderr and "HTTP 502" in first.stderr and "run the same command again" in first.stderr
    assert "1 new snapshot(s)" in first.stdout
    assert len(read(tmp_path, "snapshots", ARTICLE)) == 1

    resumed = backfill(tmp_path, wayback)
    assert resumed.returncode == 0, resumed.stderr
    assert "2 new snapshot(s)" in resumed.stdout and "1 imported before" in resumed.stdout
    events = [e for e in read(tmp_path, "events") if e["url"] == ARTICLE]
    assert [e["type"] for e in events] == ["new_page", "changed", "changed", "removed"]
    fetched = [r.path for r in wayback.requests if r.path.startswith("/web/")]
    assert fetched.count(f"/web/20190315083000id_/{ARTICLE}") == 1  # not fetched again


@pytest.mark.e2e
def test_a_listing_is_backfilled_through_the_articles_its_captures_linked(tmp_path, wayback):
    listing = "https://rst.xinjiang.gov.cn/xjrst/c112676/index.shtml"
    add_capture(wayback, listing, (SITE_DIR / "xjrst/c112676/index.shtml").read_bytes(), "20190101000000")
    watchlist = write_watchlist(tmp_path, "https://rst.xinjiang.gov.cn")  # the demo listing, at the real site's address
    env = {"DOCWATCH_WAYBACK_URL": wayback.base_url, "DOCWATCH_BACKFILL_DELAY": "0"}
    done = run_docwatch("backfill", "--source", "demo-rst-work-news", db=tmp_path / "d.db", watchlist=watchlist, env=env)
    assert done.returncode == 0, done.stderr
    assert "3 URL(s)" in done.stdout and "3 new snapshot(s)" in done.stdout  # the list page's three articles
    events = [e for e in read(tmp_path, "events") if e["url"] == ARTICLE]
    assert [e["type"] for e in events] == ["new_page", "changed", "changed", "removed"]
    assert {e["source_id"] for e in events} == {"demo-rst-work-news"}

    again = run_docwatch("backfill", "--source", "demo-rst-work-news", db=tmp_path / "d.db", watchlist=watchlist, env=env)
    assert again.returncode == 0, again.stderr
    assert "0 new snapshot(s)" in again.stdout and "4 imported before" in again.stdout
