"""Digests beyond the command line: the watchlist's `digest:` settings, the daemon's scheduled
digest (to a folder and by email), the demo's HTML digest, and citations of archived copies."""

from __future__ import annotations

import email
import email.policy
import json
import sqlite3

import pytest
import yaml

from crawler.config.settings import resolve
from crawler.config.watchlist import load_watchlist
from crawler.config.digest_settings import DigestSettingsError, parse_digest_section
from crawler.report.deliver import new_digest_path, send_scheduled_digest, write_demo_digest
from storage import archive_queue, open_database
from tests.conftest import run_docwatch
from tests.test_changes_e2e import DELETED_PAGE, FIGURE_PAGE, crawl
from tests.test_digest_e2e import smtp_server  # noqa: F401 (fixture)

VALID_SECTION = """
when: "0 7 * * mon-fri"
format: html
output_dir: {output_dir}
email:
  host: 127.0.0.1
  port: {port}
  from: docwatch@example.org
  to: [analyst@example.org]
  starttls: false
"""


def test_a_valid_digest_section_is_read_from_the_watchlist(tmp_path):
    watchlist = tmp_path / "watchlist.yaml"
    section = yaml.safe_load(VALID_SECTION.format(output_dir=tmp_path / "digests", port=2525))
    source = {"id": "xj-rst", "url": "https://rst.xinjiang.gov.cn/", "type": "page"}
    watchlist.write_text(yaml.safe_dump({"sources": [source], "digest": section}), "utf-8")
    settings = load_watchlist(watchlist).digest
    assert (settings.when, settings.format, settings.output_dir) == ("0 7 * * mon-fri", "html", tmp_path / "digests")
    assert (settings.email.host, settings.email.port, settings.email.recipients, settings.email.starttls) == (
        "127.0.0.1", 2525, ("analyst@example.org",), False)
    assert settings.email.user is None


def test_every_problem_in_a_digest_section_is_reported_at_once():
    section = yaml.safe_load("""
when: "0 25 * * *"
format: pdf
unreviewed: yes please
daily: true
email:
  host: smtp.example.org
  port: "587"
  from: docwatch
  to: analyst@example.org
""")
    with pytest.raises(DigestSettingsError) as raised:
        parse_digest_section(section)
    problems = {problem.key: problem for problem in raised.value.problems}
    assert set(problems) == {"when", "format", "unreviewed", "daily", "email.from", "email.to", "email.port"}
    assert "not a valid crontab expression" in problems["when"].message
    assert problems["email.to"].hint == "write it as a list: [analyst@example.org]"
    assert "digest.format: 'pdf' is not one of md, html, json, atom" in str(raised.value)


def test_a_digest_section_must_say_where_the_digest_goes():
    with pytest.raises(DigestSettingsError, match="neither where to write the digest nor whom to send it"):
        parse_digest_section({"when": "0 7 * * *"})


@pytest.fixture
def crawled(tmp_path, demo_watchlist):
    db = tmp_path / "dw.db"
    crawl(db, demo_watchlist)
    return db


def test_scheduled_digest_is_written_and_emailed_then_continues_where_it_left_off(
    tmp_path, crawled, demo_watchlist, smtp_server  # noqa: F811 (fixture)
):
    section = yaml.safe_load(VALID_SECTION.format(output_dir=tmp_path / "digests", port=smtp_server.port))
    settings = parse_digest_section(section)
    config = resolve({"db": str(crawled), "watchlist": str(demo_watchlist), "data_dir": str(tmp_path)})
    with sqlite3.connect(crawled) as con:
        events = con.execute("SELECT count(*) FROM events").fetchone()[0]

    done = send_scheduled_digest(config, settings)
    (written,) = (tmp_path / "digests").glob("docwatch-digest-*.html")
    assert f"wrote {written}" in done and "emailed analyst@example.org" in done
    assert f"{events} event(s)" in written.read_text("utf-8")
    (envelope,) = smtp_server.received
    message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
    assert message["Subject"] == f"docwatch digest: {events} event(s), 0 removed, 4 with new figures/hits"
    assert message.get_body(("html",)).get_content().startswith("<!DOCTYPE html>")

    crawl(crawled, demo_watchlist)  # nothing changed on the site
    again = send_scheduled_digest(config, settings)
    assert again.count("no changes") == 2
    assert len(list((tmp_path / "digests").glob("docwatch-digest-*.html"))) == 2
    second_message = email.message_from_bytes(smtp_server.received[1].original_content, policy=email.policy.default)
    assert second_message["Subject"] == "docwatch digest: no changes"


def test_digests_of_one_second_are_written_beside_each_other_never_over(tmp_path):
    """The daemon's digests are named by the second: a faster second one once replaced the first."""
    names = []
    for moment, text in (("2026-12-01T20:30:36.120+00:00", "first"), ("2026-12-01T20:30:36.870+00:00", "second"),
                         ("2026-12-01T20:30:36.990+00:00", "third")):
        path = new_digest_path(tmp_path, moment, "html")
        path.write_text(text, "utf-8")
        names.append(path.name)
    assert names == ["docwatch-digest-20261201T203036Z.html", "docwatch-digest-20261201T203036Z-2.html",
                     "docwatch-digest-20261201T203036Z-3.html"]
    assert [(tmp_path / name).read_text("utf-8") for name in names] == ["first", "second", "third"]


def test_demo_digest_is_one_html_file_of_everything_found(tmp_path, crawled):
    path = write_demo_digest(crawled, tmp_path)
    html = path.read_text("utf-8")
    assert path == tmp_path / "digest.html"
    assert "【2017·亮点】农村富余劳动力转移就业275万人次" in html and "<mark>转移就业</mark>" in html
    with sqlite3.connect(crawled) as con:
        assert con.execute("SELECT format, event_count FROM digests").fetchall() == [
            ("html", con.execute("SELECT count(*) FROM events").fetchone()[0])]


def test_citation_of_a_removed_page_points_to_its_confirmed_capture(tmp_path, site, demo_watchlist):
    db_path = tmp_path / "dw.db"
    crawl(db_path, demo_watchlist)  # every new page is queued for the Wayback Machine
    removed_url, figure_url = site.base_url + DELETED_PAGE, site.base_url + FIGURE_PAGE
    db = open_database(db_path)
    (snapshot_id,) = db.execute("SELECT latest_snapshot_id FROM pages WHERE url = ?", [removed_url]).fetchone()
    request = archive_queue.claim(db, "test-worker", lease_seconds=60,
                                  only=archive_queue.enqueue(db, removed_url, "new_page", snapshot_id))
    wayback_url = f"https://web.archive.org/web/20240509123456/{removed_url}"
    archive_queue.complete(db, request.id, wayback_url, "20240509123456", "new")  # what the archive worker records
    warc = db.execute("SELECT warc_file, warc_offset, warc_length, body_sha256 FROM snapshots WHERE id = ?",
                      [snapshot_id]).fetchone()
    db.close()
    (site.root / DELETED_PAGE.lstrip("/")).unlink()
    second = crawl(db_path, demo_watchlist)
    crawl(db_path, demo_watchlist)

    result = run_docwatch("digest", "--since", "2000-01-01", "--format", "json", db=db_path, watchlist=demo_watchlist)
    assert result.returncode == 0, result.stderr
    events = {(e["type"], e["url"]): e for e in json.loads(result.stdout)["events"]}
    removed = events[("removed", removed_url)]
    assert removed["detected_at"] > second
    assert warc[0] and removed["archive"] == {
        "status": "archived", "wayback_url": wayback_url, "wayback_timestamp": "20240509123456",
        "warc": {"file": warc[0], "offset": warc[1], "length": warc[2]}, "sha256": warc[3], "earlier_capture": None,
    }
    assert removed["citation"].endswith(f"{removed_url} (archived 2024-05-09 at {wayback_url}).")
    queued = events[("new_page", figure_url)]
    assert queued["archive"]["status"] == "queued" and queued["archive"]["wayback_url"] is None
    assert queued["citation"].endswith("(not yet archived).")

    markdown = run_docwatch("digest", "--since", "2000-01-01", "--source", "demo-rst-work-news", db=db_path,
                            watchlist=demo_watchlist).stdout
    assert "Wayback: not yet archived (queued)" in markdown
    assert f"Wayback: <{wayback_url}>" in markdown


def test_the_daemon_s_digest_command_writes_the_scheduled_digest_and_refuses_without_a_digest_section(
    tmp_path, crawled, demo_watchlist
):
    """The daemon makes its scheduled digest as it works the archive queue: `docwatch digest
    --scheduled` in a child process, with the daemon's copy of the watchlist."""
    scheduled = tmp_path / "scheduled.yaml"
    out = tmp_path / "digests"
    scheduled.write_text(demo_watchlist.read_text("utf-8") + f'\ndigest:\n  when: "0 7 * * *"\n  format: html\n'
                         f"  output_dir: {out}\n", "utf-8")

    first = run_docwatch("digest", "--scheduled", db=crawled, watchlist=scheduled)
    assert first.returncode == 0, first.stderr
    (written,) = out.glob("docwatch-digest-*.html")
    assert first.stdout.startswith(f"wrote {written}") and "event(s)" in first.stdout
    second = run_docwatch("digest", "--scheduled", db=crawled, watchlist=scheduled)
    assert second.returncode == 0 and "no changes" in second.stdout

    refused = run_docwatch("digest", "--scheduled", db=crawled, watchlist=demo_watchlist)
    assert refused.returncode == 2
    assert "no `digest:` section" in refused.stderr and "Traceback" not in refused.stderr
    mixed = run_docwatch("digest", "--scheduled", "--format", "md", db=crawled, watchlist=scheduled)
    assert mixed.returncode == 2 and "--scheduled" in mixed.stderr
