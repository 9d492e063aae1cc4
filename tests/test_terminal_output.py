"""What a researcher sees at the terminal: a quiet crawl, with Scrapy's log in the data directory."""

import json

from tests.conftest import run_docwatch

THREE_SOURCES = """
keyword_sets:
  labor_transfer:
    terms: [转移就业]
sources:
  - id: listing
    url: "{site}/xjrst/c112676/index.shtml"
    type: listing
    follow: '/xjrst/c112676/\\d{{6}}/[0-9a-f]{{32}}\\.shtml$'
    pages: 2
  - id: xinhua
    url: "{site}/politics/leaders/20240509/3dd6e33cc6d749fbaae01fea337ff400/c.html"
    type: page
  - id: missing
    url: "{site}/no/such/page.html"
    type: page
"""


def test_a_production_crawl_prints_only_its_summary_and_logs_scrapy_to_the_data_directory(tmp_path, site):
    watchlist = tmp_path / "watchlist.yaml"
    watchlist.write_text(THREE_SOURCES.format(site=site.base_url), "utf-8")
    result = run_docwatch("crawl", db=tmp_path / "dw.db", watchlist=watchlist, env={"DOCWATCH_ENV": "production"})
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert len(lines) <= 10, result.stdout
    assert "7 pages fetched, 6 new" in lines[0]
    log = tmp_path / "logs" / "crawl.log"
    assert "Overridden settings" in log.read_text("utf-8")

    verbose = run_docwatch("crawl", "-v", "--source", "xinhua", db=tmp_path / "dw.db", watchlist=watchlist,
                           env={"DOCWATCH_ENV": "production"})
    assert verbose.returncode == 0, verbose.stderr
    assert "Spider opened" in verbose.stderr and "DEBUG" not in verbose.stderr
    very_verbose = run_docwatch("crawl", "-vv", "--source", "xinhua", db=tmp_path / "dw.db", watchlist=watchlist,
                                env={"DOCWATCH_ENV": "production"})
    assert "DEBUG: Crawled (200)" in very_verbose.stderr


def test_read_commands_need_only_the_database(tmp_path, site, demo_watchlist):
    db = tmp_path / "dw.db"
    assert run_docwatch("crawl", db=db, watchlist=demo_watchlist).returncode == 0
    elsewhere = tmp_path / "no-watchlist-here"
    elsewhere.mkdir()
    for command in (["pages"], ["status"], ["hits"], ["figures"], ["events"], ["digest", "--since", "7d"]):
        result = run_docwatch(*command, db=db, cwd=elsewhere)
        assert result.returncode == 0, (command, result.stderr)
    status = run_docwatch("status", db=db, cwd=elsewhere).stdout
    assert "demo-xinhua-xinjiang  (schedule unknown: no watchlist)" in status
    assert "run 1 (cli) done" in status

    recent = run_docwatch("events", "--since", "600s", db=db, cwd=elsewhere)
    assert recent.returncode == 0, recent.stderr
    assert "6 event(s)." in recent.stdout


def test_unknown_digest_suffix_is_refused_naming_the_known_ones(tmp_path, site, demo_watchlist):
    db = tmp_path / "dw.db"
    assert run_docwatch("crawl", db=db, watchlist=demo_watchlist).returncode == 0
    result = run_docwatch("digest", "--output", str(tmp_path / "x.docx"), db=db)
    assert result.returncode == 2
    assert "unknown suffix '.docx'" in result.stderr and ".md, .markdown, .html" in result.stderr
    assert not (tmp_path / "x.docx").exists()
    forced = run_docwatch("digest", "--output", str(tmp_path / "x.docx"), "--format", "html", db=db)
    assert forced.returncode == 0, forced.stderr
    assert (tmp_path / "x.docx").read_text("utf-8").startswith("<!DOCTYPE html>")


def test_each_hash_is_labelled_by_what_it_hashes_and_no_citation_reads_n_d_dot_dot(tmp_path, site, demo_watchlist):
    db = tmp_path / "dw.db"
    undated_page = f"{site.base_url}/index.html"
    assert run_docwatch("crawl", "--url", undated_page, db=db, watchlist=demo_watchlist).returncode == 0
    assert run_docwatch("crawl", db=db, watchlist=demo_watchlist).returncode == 0
    url = f"{site.base_url}/xjrst/c112676/201801/5b1f3c2a9e8d4f6a8c7b1e2d3f4a5b6c.shtml"
    assert "text SHA-256 " in run_docwatch("snapshots", url, db=db).stdout
    assert "body SHA-256 " in run_docwatch("evidence", url, db=db).stdout
    citations = [event["citation"] for event in json.loads(run_docwatch("digest", "--format", "json", db=db).stdout)["events"]]
    undated = [citation for citation in citations if citation.startswith("docwatch 演示站点 demo site.")]
    assert len(undated) == 1 and ", n.d. http" in undated[0]
    assert not any("n.d.." in citation for citation in citations)
