"""The workbench in Debian's Chromium (Playwright drives it; nothing is downloaded): a researcher
goes through the queue, opens the edited quota, copies its citation, marks it reviewed,
searches a Chinese phrase and its traditional spelling, and opens the page's history; pages
with <script>, onerror= and javascript: payloads run nothing and fetch nothing. Screenshots
are kept in the test's artefact folder (printed)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from crawler.demo import EDITED_ARTICLE
from tests.test_changes_e2e import TERM_PAGE
from tests.workbench_server import crawled_site, serving

pytestmark = pytest.mark.e2e
playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def workbench(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (setup.sh --test installs it)")
    data = crawled_site(tmp_path_factory.mktemp("workbench-browser"))
    with serving(data.db) as (base, _):
        yield base


@pytest.fixture
def page(workbench, tmp_path_factory):
    shots = tmp_path_factory.mktemp("workbench-screenshots")
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=workbench)
        tab = context.new_page()
        tab.requests, tab.blocked, tab.dialogs = [], [], []
        tab.on("request", lambda request: tab.requests.append(request.url))
        tab.on("requestfailed", lambda request: request.failure == "csp" and tab.blocked.append(request.url))
        tab.on("dialog", lambda dialog: (tab.dialogs.append(dialog.message), dialog.dismiss()))
        tab.base, tab.shots = workbench, shots
        yield tab
        print(f"screenshots in {shots}")
        browser.close()


def left_the_machine(tab) -> list[str]:
    """Requests to anywhere but the workbench that the browser did not block before sending."""
    return [url for url in tab.requests if not url.startswith(tab.base) and url not in tab.blocked]


def shoot(tab, name: str) -> None:
    tab.screenshot(path=str(tab.shots / f"{name}.png"), full_page=True)


def test_a_researcher_triages_the_edited_quota(page):
    page.goto(page.base + "/")
    shoot(page, "1-queue")
    page.keyboard.press("j")  # the first event: the quota a page revised without a new date
    assert EDITED_ARTICLE in page.locator("tr.event-row.current").inner_text()
    page.keyboard.press("o")
    page.wait_for_url("**/events/*")
    event_url = page.url
    assert page.locator(".side-by-side del").first.inner_text() == "20859"
    assert page.locator(".side-by-side ins").first.inner_text() == "21859"
    shoot(page, "2-event")

    page.click("button.copy")
    playwright.expect(page.locator("button.copy")).to_have_text("Copied")
    citation = page.evaluate("navigator.clipboard.readText()")
    assert citation == page.locator("#citation").inner_text() and citation.endswith(").") and EDITED_ARTICLE in citation

    page.fill("input[name=tags]", "quota silent-edit")
    page.fill("textarea[name=note]", "20859人 → 21859人")
    page.click("text=Save tags and note")
    playwright.expect(page.locator("p.review")).to_contain_text("quota silent-edit")
    page.click("text=Mark reviewed")
    page.wait_for_url(event_url)
    playwright.expect(page.locator("button", has_text="Mark unreviewed")).to_have_count(1)
    page.goto(page.base + "/")
    event_id = event_url.rsplit("/", 1)[1]
    playwright.expect(page.locator("tr.event-row").first).to_be_visible()
    assert page.locator(f"tr[data-event='{event_id}']").count() == 0  # out of the unreviewed queue
    page.goto(page.base + "/?reviewed=yes&tag=quota")
    playwright.expect(page.locator("tr.event-row")).to_have_count(1)

    page.goto(event_url)
    page.click("text=Page history")
    page.wait_for_url("**/pages?url=**")
    playwright.expect(page.locator("ol.timeline > li")).to_have_count(2)
    page.click("text=Diff")
    page.wait_for_url("**&from=**")
    playwright.expect(page.locator(".side-by-side del").first).to_have_text("20859")
    shoot(page, "3-history")
    page.locator("ol.timeline a", has_text="original HTML").first.click()
    assert page.frame_locator("iframe.original").locator("body").inner_text()  # the page as fetched, sandboxed
    shoot(page, "4-original")
    assert left_the_machine(page) == []


def test_search_finds_a_phrase_in_simplified_and_traditional_characters(page):
    found = {}
    for query in ("转移就业", "轉移就業"):
        page.goto(page.base + "/")
        page.fill("header input[name=q]", query)
        page.keyboard.press("Enter")
        page.wait_for_url("**/search?q=*")
        playwright.expect(page.locator("ol.results > li").first).to_be_visible()
        found[query] = page.locator("ol.results > li").all_inner_texts()
        assert found[query] and all("转移就业" in result for result in found[query])
        shoot(page, f"5-search-{len(found)}")
    assert found["转移就业"] == found["轉移就業"]
    page.goto(page.base + "/search?q=20859人")
    gone = page.locator("ol.results > li.gone")
    playwright.expect(gone).to_have_count(1)
    assert "no longer says it" in gone.inner_text()


def test_hostile_pages_run_nothing_and_fetch_nothing(page):
    page.goto(page.base + "/search?q=转变就业观念")
    page.locator("ol.results a", has_text="<script>").first.click()  # the title, shown as text
    for snapshot_link in ("text", "original HTML (sandboxed)"):
        page.locator("ol.timeline a", has_text=snapshot_link).first.click()
        page.wait_for_load_state("load")
        shoot(page, f"6-hostile-{snapshot_link[:4]}")
        page.go_back()
    page.goto(page.base + "/?reviewed=all")
    page.locator("a.open", has_text="<script>").first.click()
    assert "<script>" in page.locator("article.event h4").inner_text()  # the payload, as text
    links = page.locator("a[href^='javascript:']")
    assert links.count() == 0
    shoot(page, "7-hostile-event")
    page.wait_for_timeout(300)
    assert not page.title().startswith("XSS") and page.dialogs == []
    assert left_the_machine(page) == [] and "http://127.0.0.1:9/tracker.png" in page.blocked  # the planted image too
    assert TERM_PAGE in page.content()
