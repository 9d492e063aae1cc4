"""What a researcher sees at the terminal: a quiet crawl, with Scrapy's log in the data directory."""

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
