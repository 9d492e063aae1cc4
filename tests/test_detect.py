"""What a fetch means, and what is new since the last version: pure rules on real report text."""

from pathlib import Path

import pytest

from crawler.compare.keywords import KeywordMatcher, KeywordSet
from crawler.compare.versions import Version, compare_versions
from crawler.fetch.verdict import Verdict, classify_response, is_error_page

REPORT = (Path(__file__).parent / "files" / "text" / "xinjiang_tibet_labor_transfer_excerpts.md").read_text("utf-8")
# 天山网 2018-01-09, two real sentences of the report
QUOTA = "2017年全区整建制转移内地企业就业20859人，完成年度目标任务的104%。"
CONTEXT = "农村富余劳动力转移就业是我区就业工作的重中之重。"
MATCHER = KeywordMatcher({
    "labor_transfer": KeywordSet(terms=["转移就业", "转移内地"]),
    "coercion": KeywordSet(terms=["内生动力"]),
})


@pytest.mark.parametrize("status, url, final_url, body, verdict", [
    (404, "http://a.gov.cn/x/202401/1.shtml", "http://a.gov.cn/x/202401/1.shtml", b"", Verdict.GONE),
    (410, "http://a.gov.cn/x/202401/1.shtml", "http://a.gov.cn/x/202401/1.shtml", b"", Verdict.GONE),
    (503, "http://a.gov.cn/x/202401/1.shtml", "http://a.gov.cn/x/202401/1.shtml", b"", Verdict.ERROR),
    (521, "http://a.gov.cn/x/202401/1.shtml", "http://a.gov.cn/x/202401/1.shtml", b"<script>", Verdict.ERROR),
    (200, "http://a.gov.cn/x/202401/1.shtml", "http://a.gov.cn/x/202401/1.shtml",
     b"<html><script>document.cookie='__jsl_clearance=1';location.reload()</script></html>", Verdict.ERROR),
    (200, "http://a.gov.cn/xjrst/c1/202401/1.shtml", "http://a.gov.cn/", b"<html>home</html>", Verdict.GONE),
    (200, "http://a.gov.cn/xjrst/c1/202401/1.shtml", "http://a.gov.cn/xjrst/index.shtml", b"<html>home</html>", Verdict.GONE),
    (200, "http://a.gov.cn/xjrst/c1/202401/1.shtml", "https://a.gov.cn/xjrst/c1/202401/1.shtml", b"<html>article</html>", Verdict.OK),
    (200, "http://a.gov.cn/", "http://a.gov.cn/index.html", b"<html>home</html>", Verdict.OK),
])
def test_classify_response(status, url, final_url, body, verdict):
    assert classify_response(status, url, final_url, body)[0] is verdict


def test_error_pages_are_recognised_but_articles_mentioning_404_are_not():
    assert is_error_page("404 - 页面不存在", "对不起，您访问的页面不存在或已被删除。")
    assert is_error_page("４０４", "对不起,出错了。")  # titles are kept as the page writes them
    assert not is_error_page("【2017·亮点】农村富余劳动力转移就业275万人次", REPORT)


@pytest.mark.parametrize("title, text", [
    ("404 Not Found", ""),
    ("404错误", "返回首页"),
    ("页面不存在", "请检查网址"),
    ("404", "返回首页"),
    ("404 - 皮山县人民政府", "返回首页"),
    ("皮山县人民政府", "错误 404：您要找的内容暂时无法显示"),
    ("Error", "HTTP 404. The requested resource was not found."),
])
def test_short_not_found_pages_are_soft_404s(title, text):
    assert is_error_page(title, text)


# Short real-looking articles whose figures contain "404": a quota is never a "page not found".
@pytest.mark.parametrize("title, text", [
    ("皮山县转移就业2404人", "2023年皮山县农村富余劳动力转移就业2404人，完成年度目标任务的101%。"),
    ("皮山县转移就业1404人次", "今年以来全县转移就业1404人次。"),
    ("墨玉县技能培训404人", "墨玉县开展职业技能培训404人，其中有组织转移就业180人。"),
    ("和田地区转移就业情况", "全地区转移就业404.5万人次，同比增长3%。"),
    ("叶城县劳务输出", "叶城县实现劳务输出404 人，转移就业3,404人。"),
    ("于田县", "404户脱贫户实现稳定就业，转移就业４０４人。"),
])
def test_figures_containing_404_never_make_an_error_page(title, text):
    assert not is_error_page(title, text)


def test_first_version_flags_every_hit_and_figure():
    report = compare_versions(None, Version(CONTEXT + QUOTA, "2018-01-09"), MATCHER)
    assert {h.term for h in report.new_hits} == {"转移就业", "转移内地"}
    assert [(f.value, f.unit) for f in report.new_figures] == [(20859, "人")]


def test_only_what_is_new_is_flagged():
    old = Version(CONTEXT + QUOTA, "2018-01-09")
    new = Version(CONTEXT + QUOTA.replace("20859", "21859") + "要激发内生动力。", "2018-01-09")
    report = compare_versions(old, new, MATCHER)
    assert [(h.term, h.sentence) for h in report.new_hits if h.term == "内生动力"] == [("内生动力", "要激发内生动力。")]
    assert "转移就业" not in {h.term for h in report.new_hits}  # its sentence was there before
    assert "转移内地" not in {h.term for h in report.new_hits}  # its sentence was only edited (the figure)
    assert [(f.value, f.unit) for f in report.new_figures] == [(21859, "人")]
    assert [(f.value, f.unit) for f in report.removed_figures] == [(20859, "人")]
    assert report.silent_edit  # body edited, stated publication date unchanged


def test_a_term_that_disappears_is_scrubbed():
    report = compare_versions(Version(CONTEXT + "要激发内生动力。", None), Version(CONTEXT, None), MATCHER)
    assert [h.term for h in report.scrubbed_hits] == ["内生动力"]
    assert not report.new_hits and not report.silent_edit
