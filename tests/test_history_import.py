"""`docwatch import`: WARC files another tool wrote, read as history, with the real command
line in a child process. Records are verified against their digests; a broken one is
reported and skipped, the rest imported."""

from __future__ import annotations

import json
from io import BytesIO

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from crawler.demo import EDITED_ARTICLE, SITE_DIR, write_watchlist
from crawler.demo.history import article_versions
from tests.conftest import run_docwatch

REAL_ARTICLE = (SITE_DIR / EDITED_ARTICLE).read_text("utf-8")  # the demo site's real report

SITE = "http://127.0.0.1:9"  # nothing is fetched
WATCHED = f"{SITE}/politics/leaders/20240509/3dd6e33cc6d749fbaae01fea337ff400/c.html"  # a page source of the demo watchlist
OTHER = "https://www.example.gov.cn/other/article.shtml"
VERSIONS = [body for _, _, body in article_versions(REAL_ARTICLE)]


def write_warc(path, records, gzip=True) -> None:
    with path.open("wb") as stream:
        writer = WARCWriter(stream, gzip=gzip)
        for url, date, body in records:
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(url, "response", payload=BytesIO(body), http_headers=http,
                                                          warc_headers_dict={"WARC-Date": date}))


@pytest.mark.e2e
def test_a_warc_from_another_tool_is_history_and_a_broken_record_is_skipped(tmp_path):
    watchlist = write_watchlist(tmp_path, SITE)
    first = tmp_path / "browsertrix.warc.gz"
    write_warc(first, [(WATCHED, "2019-03-15T08:30:00Z", VERSIONS[0]), (OTHER, "2019-04-01T00:00:00Z", VERSIONS[1])])
    second = tmp_path / "wget.warc"
    write_warc(second, [(WATCHED, "2020-06-11T12:00:00Z", VERSIONS[1]), (WATCHED, "2021-09-02T06:45:00Z", VERSIONS[2])],
               gzip=False)
    # One byte of the 2020 record changed after it was written: its digests no longer match.
    second.write_bytes(second.read_bytes().replace("15万人次".encode(), "16万人次".encode(), 1))

    done = run_docwatch("import", str(first), str(second), db=tmp_path / "d.db", watchlist=watchlist)
    assert done.returncode == 0, done.stderr
    assert "skipped a broken record" in done.stderr and WATCHED in done.stderr and "digest" in done.stderr
    assert "1 broken record(s) skipped" in done.stdout

    listed = run_docwatch("snapshots", WATCHED, "--json", db=tmp_path / "d.db")
    assert [s["fetched_at"][:10] for s in json.loads(listed.stdout)] == ["2019-03-15", "2021-09-02"]
    events = json.loads(run_docwatch("events", "--json", db=tmp_path / "d.db").stdout)
    assert [(e["type"], e["detail"]["origin"]) for e in events] == [("new_page", "warc-import"), ("changed", "warc-import")]
    assert events[0]["detail"]["capture"].startswith("browsertrix.warc.gz <urn:uuid:")
    assert OTHER not in listed.stdout + json.dumps(events)  # not a URL docwatch knows

    again = run_docwatch("import", "--all", str(first), str(second), db=tmp_path / "d.db", watchlist=watchlist)
    assert again.returncode == 0, again.stderr
    assert "1 new" in again.stdout and "2 already imported" in again.stdout  # --all: the other page, once
    assert len(json.loads(run_docwatch("snapshots", WATCHED, "--json", db=tmp_path / "d.db").stdout)) == 2


@pytest.mark.e2e
def test_a_file_that_is_not_a_warc_is_reported_not_a_traceback(tmp_path):
    watchlist = write_watchlist(tmp_path, SITE)
    junk = tmp_path / "notes.warc"
    junk.write_text("these are my notes, not a WARC file\n")
    done = run_docwatch("import", str(junk), db=tmp_path / "d.db", watchlist=watchlist)
    assert done.returncode == 0 and "Traceback" not in done.stderr
    assert f"skipped a broken record in {junk}" in done.stderr and "not" in done.stderr
