"""A crawled database for the workbench tests, and `docwatch serve` on it as a real process."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from http.cookiejar import CookieJar
from pathlib import Path

from crawler.demo import SITE_DIR, edit_site, write_watchlist
from crawler.demo.localsite import LocalSite
from tests.test_changes_e2e import TERM_PAGE, crawl, edit
from tests.test_digest_e2e import TEXT_IMG, TEXT_SCRIPT, html_escaped, plant_script_in_title

# In the raw HTML (the sandboxed frame must run and fetch none of it) and as the page's text.
RAW_SCRIPT = "<script>document.title='XSS-RAW'; fetch('http://127.0.0.1:9/leak')</script>"
RAW_IMAGE = "<img src=\"http://127.0.0.1:9/tracker.png\">"
JS_LINK = "<a href=\"javascript:document.title='XSS-LINK'\">javascript: link</a>"


@dataclass
class Data:
    db: Path
    base_url: str  # the crawled site's


def crawled_site(root: Path) -> Data:
    """The demo site crawled twice: between the crawls the demo's own edit (the quota revised
    20859人 → 21859人, 激发内生动力 added, a scanned 附件 linked) and hostile payloads in a page's
    title, text, links and raw HTML."""
    site_root = Path(shutil.copytree(SITE_DIR, root / "site"))
    with LocalSite(site_root) as site:
        site.root = site_root
        watchlist = write_watchlist(root, site.base_url)
        db = root / "dw.db"
        crawl(db, watchlist)
        edit_site(site_root)
        plant_script_in_title(site_root)
        edit(site, TERM_PAGE, "马兴瑞、吴政隆参加调研。",
             f"李强强调，要引导各族群众转变就业观念{html_escaped(TEXT_SCRIPT + TEXT_IMG)}。{JS_LINK}{RAW_SCRIPT}{RAW_IMAGE}"
             "</p><p>马兴瑞、吴政隆参加调研。")
        crawl(db, watchlist)
        return Data(db, site.base_url)


@contextlib.contextmanager
def serving(db: Path, *args: str, env: dict | None = None):
    """`docwatch serve --port 0` in a child process; yields its base URL and the process."""
    process = subprocess.Popen(
        [sys.executable, "-m", "crawler", "--db", str(db), "serve", "--port", "0", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})},
        cwd=db.parent)  # no watchlist there: the data directory is the database's folder
    try:
        line = process.stdout.readline()
        found = re.search(r"http://[^/\s]+", line)
        assert found, f"no address in {line!r}; stderr: {process.stderr.read() if process.poll() is not None else ''}"
        yield found.group(), process
    finally:
        process.terminate()
        process.wait(timeout=10)


class Browser:
    """A cookie-keeping HTTP client that does not follow redirects, to see each answer."""

    def __init__(self) -> None:
        self.cookies = CookieJar()

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies), NoRedirect)

    def request(self, url: str, data: dict | None = None, headers: dict | None = None):
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            with self.opener.open(urllib.request.Request(url, data=body, headers=headers or {}), timeout=30) as answer:
                return answer.status, dict(answer.headers), answer.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read().decode("utf-8", "replace")


