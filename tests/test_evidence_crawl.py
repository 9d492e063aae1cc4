"""Evidence from a real crawl: a WARC record per snapshot, an archive request per new version,
and, with keys and a (local fake) Wayback Machine, confirmed captures carried by removal events."""

import json
import sqlite3

from crawler.demo.fake_wayback import FakeWayback
from crawler.archive.warc import WarcRecordRef, verify
from tests.conftest import run_docwatch
from tests.warc_check import assert_warcs_pass_warcio_check

SECRET = "s3cret-never-printed-7f3a"
EDITED = "xjrst/c112676/201801/5b1f3c2a9e8d4f6a8c7b1e2d3f4a5b6c.shtml"


def test_every_snapshot_has_a_warc_record_whose_sha256_matches(tmp_path, site, demo_watchlist):
    db = tmp_path / "dw.db"
    assert run_docwatch("crawl", db=db, watchlist=demo_watchlist).returncode == 0
    page = site.root / EDITED
    page.write_text(page.read_text("utf-8").replace("20859人", "21859人"), "utf-8")
    assert run_docwatch("crawl", db=db, watchlist=demo_watchlist).returncode == 0

    con = sqlite3.connect(db)
    rows = con.execute("SELECT warc_file, warc_offset, warc_length, body_sha256 FROM snapshots").fetchall()
    assert len(rows) == 9  # 6 pages, the edited one's second version, the 2 list pages
    for warc_file, offset, length, sha256 in rows:
        assert warc_file, "snapshot without a WARC record"
        assert verify(tmp_path / "warc", WarcRecordRef(warc_file, offset, length, sha256))
    assert_warcs_pass_warcio_check(tmp_path / "warc")
    reasons = con.execute("SELECT reason, count(*) FROM archive_requests GROUP BY reason").fetchall()
    # the edited page's request was still open: pointed at its new snapshot
    assert dict(reasons) == {"new_page": 6, "listing_changed": 2}
    evidence = run_docwatch("evidence", f"{site.base_url}/{EDITED}", "--verify", db=db, watchlist=demo_watchlist)
    assert evidence.returncode == 0, evidence.stdout + evidence.stderr
    assert evidence.stdout.count("OK") >= 2


def test_captures_are_confirmed_and_a_removed_page_carries_its_last_capture(tmp_path, site, demo_watchlist):
    db = tmp_path / "dw.db"
    with FakeWayback("ak", SECRET, polls_until_done=1) as fake:
        env = {"DOCWATCH_WAYBACK_URL": fake.base_url, "DOCWATCH_IA_ACCESS_KEY": "ak", "DOCWATCH_IA_SECRET_KEY": SECRET,
               "DOCWATCH_ARCHIVE_WORK_AFTER_CRAWL": "1", "DOCWATCH_ARCHIVE_POLL_INTERVAL": "0.1",
               "DOCWATCH_ARCHIVE_CAPTURES_PER_MINUTE": "60"}
        first = run_docwatch("crawl", db=db, watchlist=demo_watchlist, env=env)
        assert first.returncode == 0, first.stderr
        con = sqlite3.connect(db)
        archived = con.execute("SELECT count(*) FROM snapshots WHERE wayback_url LIKE ?", [f"{fake.base_url}/web/%"])
        assert archived.fetchone()[0] == 8, first.stdout + first.stderr  # 6 pages, 2 list pages
        assert SECRET not in first.stdout + first.stderr

        (site.root / EDITED).unlink()
        for _ in range(2):
            run_docwatch("crawl", db=db, watchlist=demo_watchlist, env=env)
    detail = json.loads(con.execute("SELECT detail FROM events WHERE type = 'removed'").fetchone()[0])
    assert detail["last_capture"]["wayback_url"].startswith(f"{fake.base_url}/web/")
    assert detail["last_capture"]["warc_file"].endswith(".warc.gz")
