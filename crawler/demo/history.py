"""The history a fake Wayback Machine holds for the demo and the tests: four captures of a real
report (天山网 2018-01-09, the demo site's `xjrst/c112676/201801/…` article, EDITED_ARTICLE) as
it could have been edited over the years: 2019 stating 转移就业12万人次, 2020 15万人次, 2021
with every sentence that says 转移就业 taken out, 2022 gone (404). The page's other text is the
real report's."""

from __future__ import annotations

import re

from crawler.demo.fake_wayback import FakeWayback, StoredCapture

NOT_FOUND_PAGE = "<html><head><title>404 Not Found</title></head><body><h1>404 Not Found</h1></body></html>"
_PARAGRAPH_SAYING = re.compile(r"<p>[^<]*转移就业[^<]*</p>\n?")


def article_versions(real: str) -> list[tuple[str, int, bytes]]:
    """(Wayback timestamp, HTTP status, body) of each capture, oldest first, made from the
    report's page as the demo site serves it (`real`)."""
    stating = {year: real.replace("275万人次", figure) for year, figure in (("2019", "12万人次"), ("2020", "15万人次"))}
    head, _, body = stating["2020"].partition("<body")
    scrubbed = head.replace("农村富余劳动力转移就业15万人次", "就业惠民工作成效显著") + "<body" + _PARAGRAPH_SAYING.sub(
        "", body).replace("农村富余劳动力转移就业15万人次", "就业惠民工作成效显著")
    return [
        ("20190315083000", 200, stating["2019"].encode()),
        ("20200611120000", 200, stating["2020"].encode()),
        ("20210902064500", 200, scrubbed.encode()),
        ("20220120101500", 404, NOT_FOUND_PAGE.encode()),
    ]


def load_history(wayback: FakeWayback, url: str, real: str, until: str = "9999") -> None:
    """Give the fake Wayback Machine the article's captures up to the year `until`, filed under `url`."""
    for timestamp, status, body in article_versions(real):
        if timestamp[:4] > until:
            continue
        wayback.keep(StoredCapture(url, timestamp, body, "text/html", status))
