"""Issue 12's acceptance, in one flow of real crawls: a local site of real pages with a source
that redirects (301) to an article the listing also links, a GB2312 page sent gzip-encoded in
chunks, a listing that drops an article, and an article edited inside the archive window. Every
URL is accounted for, every WARC file passes `warcio check`, pywb replays the redirect and the
byte-identical page, the edited article's citation names a capture taken after the edit, and the
digest quotes the page's own `，`."""

from __future__ import annotations

import json
import sqlite3

import pytest

from crawler.demo import DEMO_KEYS, EDITED_ARTICLE, edit_site, write_watchlist
from crawler.demo.fake_wayback import FakeWayback
from storage.archive_queue import wayback_time
from tests.conftest import run_docwatch
from tests.test_changes_e2e import LISTING, edit
from tests.test_fetch_fidelity import gzip_site, pywb_replaying, replay, watch
from tests.test_listings_e2e import DELETED_ITEM
from tests.warc_check import assert_warcs_pass_warcio_check

pytestmark = pytest.mark.e2e


def test_every_url_accounted_for_records_as_exchanged_and_citations_of_the_version(tmp_path, site):
    zipped, sent = gzip_site(site)  # also serves /old/report.shtml as a 301 to the edited article
    moved, article = f"{site.base_url}/old/report.shtml", site.base_url + "/" + EDITED_ARTICLE.lstrip("/")
    watchlist = watch(write_watchlist(tmp_path, site.base_url), {"moved": moved, "zipped": zipped})
    db = tmp_path / "dw.db"
    with FakeWayback(*DEMO_KEYS) as wayback:
        env = {"DOCWATCH_WAYBACK_URL": wayback.base_url, "DOCWATCH_IA_ACCESS_KEY": DEMO_KEYS[0],
               "DOCWATCH_IA_SECRET_KEY": DEMO_KEYS[1], "DOCWATCH_ARCHIVE_POLL_INTERVAL": "0.1",
               "DOCWATCH_ARCHIVE_CAPTURES_PER_MINUTE": "60"}

        def docwatch(*args: str) -> str:
            result = run_docwatch(*args, db=db, watchlist=watchlist, env=env)
            assert result.returncode == 0, result.stdout + result.stderr
            return result.stdout

        docwatch("crawl")
        docwatch("archive", "run")
        edit_site(site.root)  # 20859人 → 21859人, inside if_not_archived_within of its first capture
        edit(site, LISTING, DELETED_ITEM, "")
        docwatch("crawl")
        docwatch("archive", "run")
        digest = json.loads(docwatch("digest", "--since", "1d", "--format", "json"))
        markdown = docwatch("digest", "--since", "1d", "--format", "md")

    con = sqlite3.connect(db)
    # Every URL each crawl set out to fetch has its row; the redirecting source is its own page.
    assert [unaccounted for (unaccounted,) in con.execute("SELECT requests_unaccounted FROM runs")] == [0, 0]
    assert con.execute("SELECT DISTINCT final_url FROM fetches WHERE url = ?", [moved]).fetchall() == [(article,)]
    assert {url for (url,) in con.execute("SELECT url FROM pages")} >= {moved, article, zipped}

    # Every WARC file reads back; pywb replays the redirect, then the page, and the gzip answer as sent.
    warc_files = assert_warcs_pass_warcio_check(tmp_path / "warc")
    [(moved_at,)] = con.execute(
        "SELECT replace(replace(replace(substr(fetched_at, 1, 19), '-', ''), 'T', ''), ':', '') FROM snapshots s"
        " JOIN pages p ON p.id = s.page_id WHERE p.url = ? ORDER BY s.id LIMIT 1", [moved]).fetchall()
    [(zipped_at,)] = con.execute(
        "SELECT replace(replace(replace(substr(fetched_at, 1, 19), '-', ''), 'T', ''), ':', '') FROM snapshots s"
        " JOIN pages p ON p.id = s.page_id WHERE p.url = ?", [zipped]).fetchall()
    with pywb_replaying(warc_files, tmp_path / "pywb") as address:
        status, headers, _ = replay(address, f"/evidence/{moved_at}id_/{moved}")
        assert status == 301 and headers["Location"].endswith(EDITED_ARTICLE)
        status, headers, body = replay(address, f"/evidence/{zipped_at}id_/{zipped}", {"Accept-Encoding": "gzip"})
        assert status == 200 and headers["Content-Encoding"] == "gzip" and body == sent

    # The listing dropped an article: the delisted event names the list page's copies before and after.
    [delisted] = [e for e in digest["events"] if e["type"] == "delisted"]
    [(detail,)] = con.execute("SELECT detail FROM events WHERE type = 'delisted'").fetchall()
    before, after = json.loads(detail)["listing_snapshot_before"], json.loads(detail)["listing_snapshot_after"]
    assert before is not None and after is not None and before != after, detail
    assert delisted["url"].endswith("7c2e4d6f8a0b4c1d9e3f5a7b9c1d3e5f.shtml")

    # The edited article's citation names a capture taken after the edit, of that version.
    [changed] = [e for e in digest["events"] if e["type"] == "changed" and e["url"] == article]
    [(fetched_at,)] = con.execute("SELECT fetched_at FROM snapshots WHERE id = (SELECT max(s.id) FROM snapshots s"
                                  " JOIN pages p ON p.id = s.page_id WHERE p.url = ?)", [article]).fetchall()
    assert changed["archive"]["status"] == "archived", changed["archive"]
    assert changed["archive"]["wayback_timestamp"] >= wayback_time(fetched_at)
    assert changed["archive"]["wayback_url"] in changed["citation"]

    # Quotes in the page's own characters: every sentence the digest quotes stands in the page as
    # written, its ASCII "," (this CMS page mixes them) and its full-width "，" alike.
    page = (site.root / EDITED_ARTICLE.lstrip("/")).read_text("utf-8")
    quoted = changed["diff"]["added"] + [c["new"] for c in changed["diff"]["changed"]]
    assert quoted and all(sentence in page for sentence in quoted), changed["diff"]
    assert "各地要激发内生动力，加强思想工作，转变就业观念。" in changed["diff"]["added"]
    assert "各地要激发内生动力，加强思想工作，转变就业观念。" in markdown
