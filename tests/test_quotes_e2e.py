"""Issue 12, items 5 and 6, end to end: after real crawls of a local site of real pages, every
quote a researcher reads (hit context, figure sentence and text, diff, digest, `show`) is the
page's own characters (，（：, full-width digits), a page that only switched between full-width
and half-width forms is unchanged, and a figure stated near several terms is listed once."""

import json
import re

from tests.conftest import run_docwatch
from tests.test_changes_e2e import crawl, edit, report

# 天山网's report on 2017 (real text). The demo copy has half-width punctuation in its body; the
# page as published writes ，（）： and the test restores that, plus full-width digits in its
# title and first figure.
ARTICLE = "/xjrst/c112676/201801/5b1f3c2a9e8d4f6a8c7b1e2d3f4a5b6c.shtml"
BODY_SENTENCE = "农村富余劳动力累计转移就业２７５万人次，完成年度目标的106%。"
QUOTA_SENTENCE = "2017年全区整建制转移内地企业就业20859人，完成年度目标任务的104%。"
PARAGRAPH = re.compile(r"<p>(.*?)</p>", re.S)


def publish_in_full_width(site) -> None:
    """The article's paragraphs with the punctuation the page really uses."""
    file = site.root / ARTICLE.lstrip("/")
    html = file.read_text("utf-8")
    full_width = str.maketrans({",": "，", "(": "（", ")": "）", ":": "："})
    html = PARAGRAPH.sub(lambda p: "<p>" + p.group(1).translate(full_width) + "</p>", html)
    file.write_text(html.replace("转移就业275万人次", "转移就业２７５万人次"), "utf-8")


def test_quotes_are_the_pages_own_characters_and_a_figure_is_listed_once(tmp_path, site, demo_watchlist):
    db = tmp_path / "dw.db"
    publish_in_full_width(site)
    crawl(db, demo_watchlist)
    url = site.base_url + ARTICLE

    hits = [h for h in report(db, demo_watchlist, "hits") if h["url"] == url]
    assert any(BODY_SENTENCE in h["sentence"] for h in hits)
    assert any("累计转移就业２７５万人次，完成" in h["context"] for h in hits)
    assert any("新疆日报讯（记者李春霞 实习生韩霜报道）记者" in h["context"] for h in hits)
    assert not any(",完成" in h["context"] or "275万人次,完成" in h["sentence"] for h in hits)

    # The headline (劳动力转移就业275万人次) and the body (转移就业２７５万人次) state one figure.
    figures = [f for f in report(db, demo_watchlist, "figures") if f["url"] == url]
    [quota] = [f for f in figures if f["value"] == 2750000]
    assert quota["terms"] == ["转移就业", "劳动力转移就业"]
    assert (quota["text"], quota["rate"]) == ("２７５万人次", 106)
    assert quota["sentence"].endswith(BODY_SENTENCE)
    assert len(figures) == len({(f["value"], f["unit"]) for f in figures})
    listing = run_docwatch("figures", db=db, watchlist=demo_watchlist)
    assert listing.stdout.count("2,750,000 人次") == 1
    assert "(转移就业, 劳动力转移就业: ２７５万人次)" in listing.stdout

    show = run_docwatch("show", str(hits[0]["snapshot_id"]), db=db, watchlist=demo_watchlist)
    assert show.stdout.startswith("【2017·亮点】农村富余劳动力转移就业２７５万人次\n")
    assert BODY_SENTENCE in show.stdout and QUOTA_SENTENCE in show.stdout

    edit(site, ARTICLE, "整建制转移内地企业就业20859人", "整建制转移内地企业就业21859人")
    second = crawl(db, demo_watchlist)

    diff = run_docwatch("diff", url, db=db, watchlist=demo_watchlist)
    assert "~ 2017年全区整建制转移内地企业就业[-20859-]{+21859+}人，完成年度目标任务的104%。" in diff.stdout
    [revised] = report(db, demo_watchlist, "figures", "--since", second)
    assert (revised["value"], revised["sentence"]) == (21859, QUOTA_SENTENCE.replace("20859", "21859"))

    digest = run_docwatch("digest", "--since", second, "--format", "json", db=db, watchlist=demo_watchlist)
    assert digest.returncode == 0, digest.stderr
    [event] = [e for e in json.loads(digest.stdout)["events"] if e["url"] == url]
    assert event["title"] == "【2017·亮点】农村富余劳动力转移就业２７５万人次"
    assert event["citation"].startswith("【2017·亮点】农村富余劳动力转移就业２７５万人次. ")
    assert [f["context"] for f in event["figures"]] == [QUOTA_SENTENCE.replace("20859", "21859")]
    [change] = event["diff"]["changed"]
    assert (change["old"], change["new"]) == (QUOTA_SENTENCE, QUOTA_SENTENCE.replace("20859", "21859"))
    markdown = run_docwatch("digest", "--since", second, "--format", "md", db=db, watchlist=demo_watchlist)
    assert "人，完成年度目标任务的104%" in markdown.stdout and "人,完成" not in markdown.stdout

    # Only the width of the digits changes: the page reads the same, so it is unchanged.
    edit(site, ARTICLE, "累计转移就业２７５万人次", "累计转移就业275万人次")
    third = crawl(db, demo_watchlist)
    assert [e for e in report(db, demo_watchlist, "events", "--since", third) if e["url"] == url] == []
