"""English pages (the watchlist has ILO, OHCHR and US pages): the title without the site's
name, the publication date from the page's markup through htmldate when no CMS meta or byline
gives one, and no invented date on a Chinese index page.

The two English pages are byte copies from htmldate's public evaluation set
(adbar/htmldate @b8952828329abaeeb3be21387b526f2be614ce67: tests/eval/harpers.org.justice.html,
tests/cache/blog.wikimedia.interactivemaps.html); its expected dates are 2020-07-07 and 2018-06-28.
"""

from pathlib import Path

from crawler.extract.article import decode_html, extract

PAGES = Path(__file__).parent / "files" / "pages"


def extracted(name: str, url: str):
    html = decode_html((PAGES / name).read_bytes()).text
    return extract(html, url)


def test_og_title_loses_the_site_name_the_page_confirms():
    page = extracted("harpers.org.justice.html", "https://harpers.org/a-letter-on-justice-and-open-debate/")
    assert page.title == "A Letter on Justice and Open Debate"  # og:title: "… | Harper's Magazine"
    assert page.published.startswith("2020-07-07")


def test_a_date_only_the_markup_states_comes_from_htmldate():
    page = extracted("blog.wikimedia.interactivemaps.html",
                     "https://blog.wikimedia.org/2018/06/28/interactive-maps-now-in-your-language/")
    assert page.title == "Interactive maps, now in your language"  # <title>: "… – Wikimedia Blog"
    assert page.published == "2018-06-28"


def test_a_chinese_index_page_gets_no_date_from_its_news_list_or_generation_time():
    page = extracted("yichun.gov.cn_homepage_saved-as-stat.php.html", "http://www.yichun.gov.cn/")
    assert page.published is None
