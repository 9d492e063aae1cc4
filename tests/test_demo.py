"""The README's first command: `docwatch demo` works offline and says what to do next."""

import sqlite3

from crawler.demo import EDITED_ARTICLE
from storage.archive_queue import wayback_time
from tests.conftest import run_docwatch


def test_demo_crawls_the_bundled_site_twice_with_an_edit_in_between(tmp_path):
    result = run_docwatch("--data-dir", str(tmp_path), "demo", env={"DOCWATCH_ENV": "production"})
    assert result.returncode == 0, result.stderr
    assert "6 pages fetched, 6 new, 0 changed, 0 unchanged, 0 failed, 0 gone" in result.stdout
    assert "6 pages fetched, 0 new, 1 changed, 5 unchanged, 0 failed, 0 gone" in result.stdout
    assert "What to look at next" in result.stdout
    digest = tmp_path / "demo" / "digest.html"
    assert f"HTML digest of what the demo found: {digest}" in result.stdout
    assert "内生动力" in digest.read_text("utf-8")
    con = sqlite3.connect(tmp_path / "demo" / "docwatch.db")
    titles = {row[0] for row in con.execute("SELECT title FROM snapshots")}
    assert "新疆上半年转移就业农村富余劳动力175.62万人次" in titles
    new_terms = {row[0] for row in con.execute(
        "SELECT f.term FROM hit_flags f JOIN events e ON e.id = f.event_id WHERE e.type = 'changed' AND f.kind = 'new'")}
    assert "内生动力" in new_terms
    # The revised report is cited by a capture of the revision, not by the one taken before it.
    (_, first), (fetched_at, revised) = con.execute(
        "SELECT s.fetched_at, s.wayback_timestamp FROM snapshots s JOIN pages p ON p.id = s.page_id"
        " WHERE p.url LIKE ? ORDER BY s.id", [f"%/{EDITED_ARTICLE}"]).fetchall()
    assert first < revised and revised >= wayback_time(fetched_at)
    assert "archived copy shows an earlier version" not in digest.read_text("utf-8")
