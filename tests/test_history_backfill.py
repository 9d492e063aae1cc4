"""`docwatch backfill` against the local fake of the Wayback Machine (CDX search paged by
resume keys, `id_` playback), with the real command line in a child process."""

from __future__ import annotations

import json

import pytest

from crawler.demo import write_watchlist
from crawler.demo.fake_wayback import FakeWayback
from crawler.demo.history import load_history
from tests.conftest import run_docwatch

ARTICLE = "https://rst.xinjiang.gov.cn/xjrst/c112676/201801/5b1f3c2a9e8d4f6a8c7b1e2d3f4a5b6c.shtml"


@pytest.fixture
def wayback():
    with FakeWayback() as fake:
        load_history(fake, ARTICLE)
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
