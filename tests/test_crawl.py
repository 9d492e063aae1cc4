"""Real crawls: the `docwatch` command in a subprocess, Scrapy, a local site of real pages, SQLite."""

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.conftest import run_docwatch

ARTICLES = {
    "/xjrst/c112676/201801/5b1f3c2a9e8d4f6a8c7b1e2d3f4a5b6c.shtml": ("【2017·亮点】农村富余劳动力转移就业275万人次", "累计转移就业275万人次"),
    # GBK bytes, no charset in the header or the page
    "/xjrst/c112676/201907/7c2e4d6f8a0b4c1d9e3f5a7b9c1d3e5f.shtml": ("新疆上半年转移就业农村富余劳动力175.62万人次", "转移就业农村富余劳动力175.62万人次"),
    # GBK bytes, header says iso-8859-1, meta says gb2312
    "/xjrst/c112676/202005/a1b2c3d4e5f60718293a4b5c6d7e8f90.shtml": ("西藏农牧民转移就业已完成年度目标的32.9%", "全区农牧民转移就业19.7万人"),
    "/xjrst/c112676/202308/7215380191c5400397df5d7d0b5fd06b.shtml": ("万载县2022年国民经济和社会发展统计公报", "全县经济运行呈现稳中向好的良好态势"),
    # the real raw-GB2312 Wayback replay, utf-8 declared first, gb2312 later
    "/xjrst/c112676/201206/25340717a6b54c3d8e9f0a1b2c3d4e5f.shtml": ("话剧《约定无期限》河北各市巡演结束", "我们的约定没有期限"),
}


def snapshots_by_path(db_path, base_url):
    con = sqlite3.connect(db_path)
    rows = con.execute(
        "SELECT p.url, s.title, s.text, s.encoding FROM snapshots s JOIN pages p ON p.id = s.page_id"
    ).fetchall()
    return {url.removeprefix(base_url): (title, text, encoding) for url, title, text, encoding in rows}


def test_crawl_stores_one_snapshot_per_article_with_correct_chinese(tmp_path, site, demo_watchlist):
    db = tmp_path / "dw.db"
    result = run_docwatch("crawl", db=db, watchlist=demo_watchlist)
    assert result.returncode == 0, result.stderr
    assert "6 pages fetched, 6 new, 0 changed, 0 unchanged, 0 failed, 0 gone" in result.stdout

    stored = snapshots_by_path(db, site.base_url)
    assert set(ARTICLES) <= set(stored)
    for path, (title, phrase) in ARTICLES.items():
        got_title, text, _ = stored[path]
        assert got_title == title, path
        assert phrase in text, path
    # navigation, footer and visitor counter are not part of the article text
    article_text = stored["/xjrst/c112676/201801/5b1f3c2a9e8d4f6a8c7b1e2d3f4a5b6c.shtml"][1]
    assert "版权所有" not in article_text and "浏览次数" not in article_text and "网站地图" not in article_text

    # both listing pages were read (pagination by 下一页), robots.txt was asked for
    assert "/xjrst/c112676/index_1.shtml" in site.requests
    assert "/robots.txt" in site.requests


def test_crawling_again_unchanged_adds_no_snapshot(tmp_path, site, demo_watchlist):
    db = tmp_path / "dw.db"
    assert run_docwatch("crawl", db=db, watchlist=demo_watchlist).returncode == 0
    second = run_docwatch("crawl", db=db, watchlist=demo_watchlist)
    assert second.returncode == 0, second.stderr
    assert "6 pages fetched, 0 new, 0 changed, 6 unchanged, 0 failed, 0 gone" in second.stdout
    con = sqlite3.connect(db)
    kept = con.execute("SELECT p.kind, count(*) FROM snapshots s JOIN pages p ON p.id = s.page_id GROUP BY p.kind")
    assert dict(kept.fetchall()) == {"article": 5, "page": 1, "listing": 2}  # the two list pages, once each
    assert con.execute("SELECT count(*) FROM fetches WHERE kind != 'listing'").fetchone()[0] == 12


def test_visitor_counter_change_is_not_a_new_snapshot(tmp_path, site, demo_watchlist):
    db = tmp_path / "dw.db"
    run_docwatch("crawl", db=db, watchlist=demo_watchlist)
    page = site.root / "xjrst/c112676/201801/5b1f3c2a9e8d4f6a8c7b1e2d3f4a5b6c.shtml"
    page.write_text(page.read_text("utf-8").replace(">1024<", ">1025<"), "utf-8")
    second = run_docwatch("crawl", db=db, watchlist=demo_watchlist)
    assert "0 changed" in second.stdout


def test_failed_pages_are_listed_and_the_run_still_exits_0(tmp_path, site, demo_watchlist):
    (site.root / "_site.json").write_text(json.dumps({
        "/xjrst/c112676/201801/5b1f3c2a9e8d4f6a8c7b1e2d3f4a5b6c.shtml": {"status": 503},
    }))
    (site.root / "xjrst/c112676/202308/7215380191c5400397df5d7d0b5fd06b.shtml").unlink()
    result = run_docwatch("crawl", db=tmp_path / "dw.db", watchlist=demo_watchlist)
    assert result.returncode == 0, result.stderr
    assert "1 failed, 1 gone" in result.stdout
    assert "201801/5b1f3c2a9e8d4f6a8c7b1e2d3f4a5b6c.shtml  HTTP 503" in result.stdout
    assert "202308/7215380191c5400397df5d7d0b5fd06b.shtml  HTTP 404" in result.stdout


def test_crawl_one_source_and_one_url(tmp_path, site, demo_watchlist):
    db = tmp_path / "dw.db"
    result = run_docwatch("crawl", "--source", "demo-xinhua-xinjiang", db=db, watchlist=demo_watchlist)
    assert "1 pages fetched, 1 new" in result.stdout
    url = f"{site.base_url}/index.html"
    result = run_docwatch("crawl", "--url", url, db=db, watchlist=demo_watchlist)
    assert "1 pages fetched, 1 new" in result.stdout, result.stderr
    assert url in run_docwatch("pages", db=db, watchlist=demo_watchlist).stdout


def test_unknown_source_is_bad_input(tmp_path, demo_watchlist):
    result = run_docwatch("crawl", "--source", "nope", db=tmp_path / "dw.db", watchlist=demo_watchlist)
    assert result.returncode == 2
    assert "no source 'nope'" in result.stderr
    assert "demo-rst-work-news" in result.stderr


def test_a_broken_watchlist_stops_a_crawl_with_exit_2(tmp_path):
    bad = tmp_path / "w.yaml"
    bad.write_text("sources:\n  - id: a\n    url: http://127.0.0.1:9/\n    type: page\n    folow: x\n")
    result = run_docwatch("crawl", db=tmp_path / "dw.db", watchlist=bad)
    assert result.returncode == 2
    assert "folow" in result.stderr
    assert not (tmp_path / "dw.db").exists()


def test_robots_txt_is_obeyed_unless_the_source_opts_out(tmp_path, site, demo_watchlist):
    (site.root / "robots.txt").write_text("User-agent: *\nDisallow: /politics/\n")
    db = tmp_path / "dw.db"
    result = run_docwatch("crawl", "--source", "demo-xinhua-xinjiang", db=db, watchlist=demo_watchlist)
    assert "0 failed, 0 gone; 1 skipped" in result.stdout and "Forbidden by robots.txt" in result.stdout
    assert not any(path.startswith("/politics/") for path in site.requests)

    opted_out = demo_watchlist.read_text("utf-8").replace(
        "    type: page\n", "    type: page\n    obey_robots: false\n")
    demo_watchlist.write_text(opted_out, "utf-8")
    result = run_docwatch("crawl", "--source", "demo-xinhua-xinjiang", db=db, watchlist=demo_watchlist)
    assert "1 pages fetched, 1 new" in result.stdout, result.stdout + result.stderr


def test_pages_over_the_size_cap_are_fetch_errors_not_evidence(tmp_path, site, demo_watchlist):
    result = run_docwatch("crawl", db=tmp_path / "dw.db", watchlist=demo_watchlist,
                          env={"DOCWATCH_MAX_PAGE_BYTES": "60000"})
    assert result.returncode == 0
    # the two real pages above 60 kB (the county article, the Xinhua article) are refused
    assert "4 new, 0 changed, 0 unchanged, 2 failed" in result.stdout, result.stdout
    con = sqlite3.connect(tmp_path / "dw.db")
    assert con.execute("SELECT max(body_size) FROM snapshots").fetchone()[0] <= 60000


def test_scrapy_command_works_from_the_repository_root(tmp_path, site, demo_watchlist):
    root = Path(__file__).resolve().parent.parent
    scrapy = [sys.executable, "-m", "scrapy"]
    env = {**os.environ, "DOCWATCH_ENV": "local", "DOCWATCH_WATCHLIST": str(demo_watchlist)}
    listed = subprocess.run(scrapy + ["list"], cwd=root, capture_output=True, text=True, env=env)
    assert listed.stdout.split() == ["listing", "page"], listed.stderr
    db = tmp_path / "scrapy.db"
    crawled = subprocess.run(scrapy + ["crawl", "listing", "-a", "source=demo-rst-work-news", "-s", f"DOCWATCH_DB={db}"],
                             cwd=root, capture_output=True, text=True, env=env, timeout=120)
    assert crawled.returncode == 0, crawled.stderr
    con = sqlite3.connect(db)
    kept = con.execute("SELECT p.kind, count(*) FROM snapshots s JOIN pages p ON p.id = s.page_id GROUP BY p.kind")
    assert dict(kept.fetchall()) == {"article": 5, "listing": 2}
    assert con.execute("SELECT trigger, status FROM runs").fetchall() == [("scrapy", "done")]


def test_changing_a_sources_extraction_settings_reads_unchanged_pages_again(tmp_path, site, demo_watchlist):
    """Re-crawls skip extraction for byte-identical pages, but not after `ignore` changed."""
    db = tmp_path / "dw.db"
    run_docwatch("crawl", "--source", "demo-xinhua-xinjiang", db=db, watchlist=demo_watchlist)
    same = run_docwatch("crawl", "--source", "demo-xinhua-xinjiang", db=db, watchlist=demo_watchlist)
    assert "1 unchanged" in same.stdout
    demo_watchlist.write_text(demo_watchlist.read_text("utf-8").replace(
        "    type: page\n", "    type: page\n    ignore: ['re:马兴瑞、吴政隆参加调研。']\n"), "utf-8")
    reread = run_docwatch("crawl", "--source", "demo-xinhua-xinjiang", db=db, watchlist=demo_watchlist)
    assert "1 changed" in reread.stdout, reread.stdout + reread.stderr


def test_a_page_that_moved_by_meta_refresh_is_followed_to_its_new_address(tmp_path, site, demo_watchlist):
    article = "/xjrst/c112676/201801/5b1f3c2a9e8d4f6a8c7b1e2d3f4a5b6c.shtml"
    (site.root / "moved.html").write_text(
        f'<html><head><META HTTP-EQUIV="Refresh" CONTENT="0; URL={article}"></head><body>已迁移</body></html>', "utf-8")
    db = tmp_path / "dw.db"
    result = run_docwatch("crawl", "--url", f"{site.base_url}/moved.html", db=db, watchlist=demo_watchlist)
    assert result.returncode == 0, result.stderr
    con = sqlite3.connect(db)
    [(final_url, title)] = con.execute("SELECT final_url, title FROM snapshots").fetchall()
    assert (final_url, title) == (site.base_url + article, ARTICLES[article][0])
