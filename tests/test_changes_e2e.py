"""Issue 3, end to end: the real `docwatch` crawls a local site of real pages, the site is edited
between crawls, and `docwatch events/hits/figures/diff` report exactly what a researcher
should see: the new term, the new figure, the 503 as an error, the deletion only once confirmed."""

import json
from datetime import datetime, timezone


from storage import since_bound
from tests.conftest import run_docwatch

LISTING = "/xjrst/c112676/index.shtml"
COUNTER_PAGE = "/xjrst/c112676/201801/5b1f3c2a9e8d4f6a8c7b1e2d3f4a5b6c.shtml"  # only its visitor counter moves
FIGURE_PAGE = "/xjrst/c112676/202308/7215380191c5400397df5d7d0b5fd06b.shtml"  # 培训人员402人次 → 502人次
TERM_PAGE = "/politics/leaders/20240509/3dd6e33cc6d749fbaae01fea337ff400/c.html"  # gains 转变就业观念
DELETED_PAGE = "/xjrst/c112676/201907/7c2e4d6f8a0b4c1d9e3f5a7b9c1d3e5f.shtml"  # 404 from the second crawl on
FAILING_PAGE = "/xjrst/c112676/202005/a1b2c3d4e5f60718293a4b5c6d7e8f90.shtml"  # 503 from the second crawl on
OLDEST_PAGE = "/xjrst/c112676/201206/25340717a6b54c3d8e9f0a1b2c3d4e5f.shtml"  # last item of the listing


def edit(site, path: str, old: str, new: str) -> None:
    file = site.root / path.lstrip("/")
    html = file.read_text("utf-8")
    assert html.count(old) == 1, f"{old!r} not found once in {path}"
    file.write_text(html.replace(old, new), "utf-8")


def answer_with_status(site, path: str, status: int) -> None:
    manifest_file = site.root / "_site.json"
    manifest = json.loads(manifest_file.read_text("utf-8"))
    manifest.setdefault(path, {})["status"] = status
    manifest_file.write_text(json.dumps(manifest), "utf-8")


def crawl(db, watchlist) -> str:
    """Crawl once: returns the `--since` that covers this crawl only (times are stored to the
    millisecond, and the crawl's child process starts well after this one)."""
    started = since_bound(datetime.now(timezone.utc))
    result = run_docwatch("crawl", db=db, watchlist=watchlist)
    assert result.returncode == 0, result.stderr
    return started


def report(db, watchlist, *args: str) -> list[dict]:
    result = run_docwatch(*args, "--json", db=db, watchlist=watchlist)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def types_by_page(events: list[dict], base_url: str) -> dict[str, list[str]]:
    by_page: dict[str, list[str]] = {}
    for event in events:
        by_page.setdefault(event["url"].removeprefix(base_url), []).append(event["type"])
    return by_page


def test_edits_between_crawls_are_reported_exactly(tmp_path, site, demo_watchlist):
    db = tmp_path / "dw.db"
    crawl(db, demo_watchlist)

    edit(site, TERM_PAGE, "马兴瑞、吴政隆参加调研。", "李强强调，要引导各族群众转变就业观念。</p><p>马兴瑞、吴政隆参加调研。")
    edit(site, FIGURE_PAGE, "培训人员402人次", "培训人员502人次")
    edit(site, COUNTER_PAGE, ">1024<", ">1187<")
    (site.root / DELETED_PAGE.lstrip("/")).unlink()
    answer_with_status(site, FAILING_PAGE, 503)
    second = crawl(db, demo_watchlist)

    events = report(db, demo_watchlist, "events", "--since", second)
    assert types_by_page(events, site.base_url) == {
        TERM_PAGE: ["changed"],
        FIGURE_PAGE: ["changed"],
        FAILING_PAGE: ["fetch_error"],  # an error is never a change; the 404 is not `removed` yet
    }
    (error,) = [e for e in events if e["type"] == "fetch_error"]
    assert error["http_status"] == 503

    hits = report(db, demo_watchlist, "hits", "--since", second)
    assert [(h["kind"], h["set_name"], h["term"], h["url"].removeprefix(site.base_url)) for h in hits] == [
        ("new", "coercion", "转变就业观念", TERM_PAGE)
    ]
    assert "要引导各族群众转变就业观念" in hits[0]["context"]
    assert report(db, demo_watchlist, "hits", "--since", second, "--new-only") == hits

    figures = report(db, demo_watchlist, "figures", "--since", second)
    assert [(f["value"], f["unit"], f["terms"], f["new"], f["url"].removeprefix(site.base_url)) for f in figures] == [
        (502, "人次", ["培训"], True, FIGURE_PAGE)
    ]

    diff = run_docwatch("diff", site.base_url + FIGURE_PAGE, db=db, watchlist=demo_watchlist)
    assert diff.returncode == 0, diff.stderr
    assert "培训人员[-402-]{+502+}人次" in diff.stdout and "\x1b[" not in diff.stdout

    third = crawl(db, demo_watchlist)
    events = report(db, demo_watchlist, "events", "--since", third)
    assert types_by_page(events, site.base_url) == {DELETED_PAGE: ["removed"]}  # the second 404 in a row
    assert events[0]["detail"]["reason"] == "HTTP 404"
    everything = report(db, demo_watchlist, "events", "--type", "removed", "--type", "fetch_error")
    assert types_by_page(everything, site.base_url) == {FAILING_PAGE: ["fetch_error"], DELETED_PAGE: ["removed"]}


def test_an_article_the_listing_stops_linking_is_delisted(tmp_path, site, demo_watchlist):
    db = tmp_path / "dw.db"
    crawl(db, demo_watchlist)
    # 201907 is dropped from the middle of the listing; the oldest item merely ages off the end
    edit(site, LISTING, f'<li><a href="{DELETED_PAGE}" target="_blank">新疆上半年转移就业农村富余劳动力175.62万人次</a><span>2019-07-19</span></li>', "")
    edit(site, "/xjrst/c112676/index_1.shtml", f'<li><a href="{OLDEST_PAGE}" target="_blank">话剧《约定无期限》河北各市巡演结束</a><span>2012-06-04</span></li>', "")
    second = crawl(db, demo_watchlist)

    events = report(db, demo_watchlist, "events", "--since", second, "--source", "demo-rst-work-news")
    assert types_by_page(events, site.base_url) == {DELETED_PAGE: ["delisted"]}


def test_revising_a_quota_flags_the_figure_not_the_terms_around_it(tmp_path, site, demo_watchlist):
    db = tmp_path / "dw.db"
    crawl(db, demo_watchlist)
    edit(site, COUNTER_PAGE, "整建制转移内地企业就业20859人", "整建制转移内地企业就业21859人")
    second = crawl(db, demo_watchlist)

    figures = report(db, demo_watchlist, "figures", "--since", second)
    assert [(f["value"], f["unit"], f["terms"], f["new"]) for f in figures] == [(21859, "人", ["转移内地", "整建制转移"], True)]
    # 整建制转移 and 转移内地 were in that sentence before the edit: nothing new to flag
    assert report(db, demo_watchlist, "hits", "--since", second, "--new-only") == []
