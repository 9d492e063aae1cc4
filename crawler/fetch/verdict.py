"""The verdict on an HTTP answer, before anything is extracted: ok, gone, or an error.

Pure functions over status codes and bytes, so every rule is tested without Scrapy or SQLite.
An error (5xx, timeout, anti-bot challenge) is never a change; only 404/410, a redirect to the
site's home page or an error page count towards "removed".
"""

from __future__ import annotations

import enum
import re
from urllib.parse import urlsplit

from crawler.compare.normalise import fold_width

GONE_STATUSES = frozenset({404, 410})
BLOCKED_STATUSES = frozenset({403, 451})  # never a removal on their own: the page may be there for others
# Anti-bot pages answer 200 (or 521) with a script that sets a cookie and reloads.
_CHALLENGE = re.compile(
    rb"__jsl_clearance|acw_sc__v2|document\.cookie\s*=|challenge-platform|"
    rb"please enable javascript|\xe8\xaf\xb7\xe5\xbc\x80\xe5\x90\xaf javascript",  # 请开启 javascript
    re.I,
)
CHALLENGE_MAX_BYTES = 20_000
# "404" alone is no evidence: quotas are numbers (转移就业2404人, 404人次, 404.5万). It counts only
# as a whole number next to an error word ("404 Not Found", "404错误", "错误 404", "HTTP 404"),
# or as the whole title ("404", "404 - 某某县人民政府").
_404 = r"(?<!\d)(?<!\d[.,，．])404(?!\d|[.,，．]\d|\s*[人万亿户名次元个家项%％])"
_ERROR_PAGE = re.compile(
    rf"{_404}\s*(?:not\s*found|error|错误|页面|找不到|未找到)|(?:error|错误|http|状态码|代码)\s*[:：]?\s*{_404}|"
    r"页面不存在|页面未找到|您访问的页面不存在|找不到(该|您要的)?页面|信息已删除|文章已删除|已被删除|page not found",
    re.I,
)
_ERROR_TITLE = re.compile(rf"\s*{_404}\s*(?:[-–—|｜_:：]\s*\S.*)?", re.I)
ERROR_PAGE_MAX_CHARS = 600
_HOME_PATH = re.compile(r"^/([^/]+/)?((index|default|home)\.(s?html?|aspx?|jsp|php))?$", re.I)


class Verdict(enum.Enum):
    OK = "ok"
    GONE = "gone"  # counts towards "removed"
    ERROR = "error"  # says nothing about the page


def classify_response(status: int, url: str, final_url: str, body: bytes) -> tuple[Verdict, str]:
    """Judge an HTTP answer before extraction; the reason is shown to the user."""
    if status in GONE_STATUSES:
        return Verdict.GONE, f"HTTP {status}"
    if status == 521:
        return Verdict.ERROR, "HTTP 521 (anti-bot challenge)"
    if status in BLOCKED_STATUSES:
        return Verdict.ERROR, f"HTTP {status} (forbidden or geo-blocked: says nothing about whether the page exists)"
    if status >= 400:
        return Verdict.ERROR, f"HTTP {status}"
    if len(body) <= CHALLENGE_MAX_BYTES and _CHALLENGE.search(body):
        return Verdict.ERROR, "anti-bot JavaScript challenge page"
    if final_url != url and redirected_home(url, final_url):
        return Verdict.GONE, f"redirected to the site's home page {final_url}"
    return Verdict.OK, ""


def removal_kind(http_status: int | None, reason: str) -> str:
    """How a page went, for `removed` events: deleted (404, 410), redirected_home, or
    not_found_page (a 200 answer that is a "page not found" page)."""
    if http_status in GONE_STATUSES:
        return "deleted"
    return "redirected_home" if "home page" in reason else "not_found_page"


def redirected_home(url: str, final_url: str) -> bool:
    """An article URL that now redirects to `/` or `/<site>/index.shtml` was taken down."""
    before, after = urlsplit(url), urlsplit(final_url)
    return bool(_HOME_PATH.match(after.path or "/")) and not _HOME_PATH.match(before.path or "/")


def is_error_page(title: str, text: str) -> bool:
    """A 200 answer that is really a "page not found" page (soft 404). The title is as the page
    writes it (４０４ reads as 404), the text normalised."""
    if len(text) > ERROR_PAGE_MAX_CHARS:
        return False
    title = fold_width(title)
    return bool(_ERROR_TITLE.fullmatch(title) or _ERROR_PAGE.search(title) or _ERROR_PAGE.search(text[:200]))
