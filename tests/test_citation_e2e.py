"""Issue 12, item 4: a citation cites the version it describes. The demo's flow over real
servers: the real `docwatch` crawls the demo site, archives through the local fake of the
Wayback Machine (SPN2's wire format, on 127.0.0.1), the article's quota is revised
(20859人 → 21859人), it crawls and archives again inside `if_not_archived_within`."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import feedparser
import pytest
import requests

from crawler.demo import DEMO_KEYS, EDITED_ARTICLE, edit_site, write_watchlist
from crawler.demo.fake_wayback import FakeWayback
from tests.wayback import save_requests
from storage.archive_queue import wayback_time
from tests.conftest import run_docwatch
from tests.test_changes_e2e import crawl

EARLIER_WORDING = "archived copy shows an earlier version"


@dataclass
class Flow:
    db: Path
    watchlist: Path
    url: str  # the edited article
    fake: FakeWayback
    env: dict

    def run(self, *args: str) -> str:
        result = run_docwatch(*args, db=self.db, watchlist=self.watchlist, env=self.env)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def changed_event(self) -> dict:
        events = json.loads(self.run("digest", "--since", "1d", "--format", "json"))["events"]
        [event] = [e for e in events if e["type"] == "changed"]
        assert event["url"] == self.url
        return event

    def snapshots(self) -> list[tuple[int, str, str | None]]:
        """The article's (snapshot id, fetched_at, wayback_timestamp), oldest first."""
        with sqlite3.connect(self.db) as con:
            return con.execute(
                "SELECT s.id, s.fetched_at, s.wayback_timestamp FROM snapshots s JOIN pages p ON p.id = s.page_id"
                " WHERE p.url = ? ORDER BY s.id", [self.url]).fetchall()


def demo_flow(tmp_path: Path, site, fake: FakeWayback, before_second_archive=lambda fake: None) -> Flow:
    """Crawl, archive, edit the article as the demo does, crawl again, archive again."""
    flow = Flow(tmp_path / "dw.db", write_watchlist(tmp_path, site.base_url), f"{site.base_url}/{EDITED_ARTICLE}",
                fake, {"DOCWATCH_WAYBACK_URL": fake.base_url, "DOCWATCH_IA_ACCESS_KEY": DEMO_KEYS[0],
                       "DOCWATCH_IA_SECRET_KEY": DEMO_KEYS[1], "DOCWATCH_ARCHIVE_POLL_INTERVAL": "0.1",
                       "DOCWATCH_ARCHIVE_CAPTURES_PER_MINUTE": "60"})
    crawl(flow.db, flow.watchlist)
    assert "8 new capture(s)" in flow.run("archive", "run")  # six pages and the listing's two list pages
    edit_site(site.root)
    crawl(flow.db, flow.watchlist)  # from a fresh second on: after the first captures
    before_second_archive(fake)
    flow.run("archive", "run")
    return flow


@pytest.fixture
def fake() -> Iterator[FakeWayback]:
    with FakeWayback(*DEMO_KEYS) as running:
        yield running


def test_a_changed_page_is_captured_again_inside_the_window_and_cited_by_that_capture(tmp_path, site, fake):
    flow = demo_flow(tmp_path, site, fake)

    assert Counter(r.form["url"][0] for r in save_requests(fake))[flow.url] == 2  # submitted again
    (_, _, first_capture), (_, fetched_at, capture) = flow.snapshots()
    assert capture is not None and capture >= wayback_time(fetched_at) > first_capture
    event = flow.changed_event()
    assert event["archive"]["status"] == "archived" and event["archive"]["earlier_capture"] is None
    assert event["archive"]["wayback_timestamp"] == capture
    wayback_url = event["archive"]["wayback_url"]
    assert f"(archived {capture[:4]}-{capture[4:6]}-{capture[6:8]} at {wayback_url})" in event["citation"]
    # A reader who follows the citation sees the revised figure.
    replayed = requests.get(wayback_url, timeout=10).content.decode("utf-8")
    assert "21859人" in replayed and "20859人" not in replayed


@pytest.mark.parametrize("why", ["repeat_capture_limit", "daily_cap"])
def test_when_the_archive_only_has_the_earlier_version_nothing_says_archived(tmp_path, site, why):
    def refuse(fake: FakeWayback) -> None:
        if why == "daily_cap":
            fake.script(["refuse_daily_limit"])

    interval = "1h" if why == "repeat_capture_limit" else None
    with FakeWayback(*DEMO_KEYS, repeat_capture_interval=interval) as fake:
        flow = demo_flow(tmp_path, site, fake, refuse)
        (_, _, first_capture), (_, _, capture) = flow.snapshots()
        assert first_capture is not None and capture is None
        earlier_url = f"{fake.base_url}/web/{first_capture}/{flow.url}"
        assert "20859人" in requests.get(earlier_url, timeout=10).content.decode("utf-8")

        event = flow.changed_event()
        assert event["archive"]["status"] == "earlier_version"
        assert event["archive"]["wayback_url"] is None and event["archive"]["wayback_timestamp"] is None
        assert event["archive"]["earlier_capture"] == {"wayback_url": earlier_url, "wayback_timestamp": first_capture}
        day = f"{first_capture[:4]}-{first_capture[4:6]}-{first_capture[6:8]}"
        assert event["citation"].endswith(
            f"{flow.url} (not yet archived; the archived copy of {day} at {earlier_url} shows an earlier version).")

        markdown = flow.run("digest", "--since", "1d", "--format", "md")
        html = flow.run("digest", "--since", "1d", "--format", "html")
        atom = feedparser.parse(flow.run("digest", "--since", "1d", "--format", "atom"))
        for text, event_start in ((markdown, "\n#### "), (html, "<article")):
            # The article's two events (the revision first: it scores higher): its first version,
            # archived; its revision, not.
            blocks = [block for block in text.split(event_start) if f"{flow.url} (" in block]
            [revised] = [block for block in blocks if "21859" in block]
            [first] = [block for block in blocks if block is not revised]
            assert f"(archived {day} at {earlier_url})." in first and EARLIER_WORDING not in first
            assert f"{EARLIER_WORDING} (captured {day}): " in revised and "; this version queued" in revised
            assert "shows an earlier version)." in revised  # the citation
            assert f"archived {day} at" not in revised and "21859" in revised
        [entry] = [e for e in atom.entries if e.link == flow.url and "shows an earlier version" in e.summary]
        assert f"archived {day} at" not in entry.summary

        evidence = json.loads(flow.run("evidence", flow.url, "--json"))
        assert [copy["archive_status"] for copy in evidence] == ["archived", "earlier_version"]
        assert evidence[1]["wayback_url"] is None and evidence[1]["earlier_capture"]["wayback_url"] == earlier_url
        listing = flow.run("evidence", flow.url)
        assert f"not archived; {EARLIER_WORDING}: {earlier_url}" in listing
        assert "1 queued" in flow.run("archive", "status")  # this version is still to be captured
