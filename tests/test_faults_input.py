"""Issue 11, hostile and bad input: figures that contain "404", broken bytes in a GB page,
control characters in page text, and every kind of bad watchlist, option or database path.
Real crawls over a local site, the real command line in a subprocess."""

from __future__ import annotations

import json
from pathlib import Path

from crawler.localsite import LocalSite
from tests.conftest import run_docwatch

ARTICLE = """<!DOCTYPE html>
<html><head><meta charset="{charset}"><title>{title}_皮山县人民政府网</title>
<meta name="ArticleTitle" content="{title}"><meta name="PubDate" content="2023-10-12 10:30"></head>
<body><div class="nav"><a href="/">首页</a></div>
<div id="zoom"><p>{text}</p></div>
<div class="footer">主办：皮山县人民政府</div></body></html>
"""


def write_article(root: Path, path: str, title: str, text: str, charset: str = "utf-8") -> None:
    file = root / path.lstrip("/")
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_bytes(ARTICLE.format(charset=charset, title=title, text=text).encode(charset))


def write_watchlist(folder: Path, base_url: str, paths: list[str]) -> Path:
    sources = "".join(
        f"  - id: article-{number}\n    url: {base_url}{path}\n    type: page\n" for number, path in enumerate(paths)
    )
    watchlist = folder / "watchlist.yaml"
    watchlist.write_text(
        "keyword_sets:\n  labor_transfer:\n    terms: [转移就业]\nsources:\n" + sources, "utf-8"
    )
    return watchlist


def json_of(*args: str, db: Path, watchlist: Path) -> list | dict:
    result = run_docwatch(*args, "--json", db=db, watchlist=watchlist)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


QUOTA_PAGE = "/phx/c114304/202310/f44ac40812424a1c9bcb113ab2b88936.shtml"
REVISED_PAGE = "/phx/c114304/202310/9e76fed6d19400687e7f818a31be240a.shtml"


def test_a_figure_containing_404_is_never_a_page_not_found(tmp_path):
    root = tmp_path / "site"
    write_article(root, QUOTA_PAGE, "皮山县转移就业2404人", "今年以来，皮山县农村富余劳动力转移就业2404人，完成年度目标任务的101%。")
    write_article(root, REVISED_PAGE, "皮山县技能培训情况", "全县开展职业技能培训2404人次，转移就业2404人。")
    db = tmp_path / "dw.db"
    with LocalSite(root) as site:
        watchlist = write_watchlist(tmp_path, site.base_url, [QUOTA_PAGE, REVISED_PAGE])
        for _ in range(3):  # removal needs two confirmations: a figure must never start one
            assert run_docwatch("crawl", db=db, watchlist=watchlist).returncode == 0
            write_article(root, REVISED_PAGE, "皮山县技能培训情况", "全县开展职业技能培训1404人次，转移就业1404人。")
        events = json_of("events", db=db, watchlist=watchlist)
        pages = {page["url"].removeprefix(site.base_url): page for page in json_of("pages", db=db, watchlist=watchlist)}
    by_page: dict[str, list[str]] = {}
    for event in events:
        by_page.setdefault(event["url"].removeprefix(site.base_url), []).append(event["type"])
    assert by_page == {QUOTA_PAGE: ["new_page"], REVISED_PAGE: ["new_page", "changed"]}
    assert {path: (page["snapshots"], page["state"]) for path, page in pages.items()} == {
        QUOTA_PAGE: (1, "live"), REVISED_PAGE: (2, "live"),
    }
