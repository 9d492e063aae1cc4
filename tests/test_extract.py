"""Decoding and extraction on real pages (tests/files/pages: byte copies of the shared corpus)."""

import json
import re
from pathlib import Path

import pytest
from opencc import OpenCC

from crawler.extract.article import MAX_HTML_CHARS, Link, decode_html, extract

PAGES = Path(__file__).parent / "files" / "pages"

WANZAI = "wanzai.gov.cn_tjgb2022_article.html"
WANZAI_URL = "http://www.wanzai.gov.cn/wzxrmzf/tjsja/202305/7215380191c5400397df5d7d0b5fd06b.shtml"
YICHUN_ARTICLE = "yichun.gov.cn_tjgb2022_article.html"
YICHUN_HOME = "yichun.gov.cn_homepage_saved-as-stat.php.html"
WAYBACK_GB2312 = "wayback_he.xinhuanet.com_article_gb2312.html"
NEWS_CN_XINJIANG = "www.news.cn_article__14b709df543c9c22a524bd7e4989c463a5613d7c7b402b19ffc2826156a73b72.html"
HE_NEWS_CN = "he.news.cn_article__090704b0cb2e2ae4e435507f38afe591b641a672afa133d7065f48992a444d9b.html"
KEPU = "www.kepu.gov.cn_article__4e55eac42f97a6d97d14795891d2e24b715bec8c057c592a81c3d7ca08aafa10.html"
FINANCE_PEOPLE = (
    "finance.people.com.cn_article_meta-gb2312__1e20e0271231de85fba26cef6db2bedebf916402368a4602c5adb5b2acf722e1.html"
)
PEOPLE = "people.com.cn_article_meta-gb2312_stored-utf8.html"
QQ = "qq.com_article_meta-gb2312_source.html"
GMW = "gmw.cn_article_source.html"
SHANXI = "shanxi.gov.cn_article.html"
FGW_ZJ = "fgw.zj.gov.cn_article.html"
THEPAPER = "thepaper.cn_article_2.html"
XINHUANET_WUHAN = "xinhuanet.com_article_c_1125597921.html"
CHINANEWS = "chinanews.com_article.html"

ARTICLES = [
    WANZAI, YICHUN_ARTICLE, WAYBACK_GB2312, NEWS_CN_XINJIANG, HE_NEWS_CN, KEPU, FINANCE_PEOPLE, PEOPLE,
    QQ, GMW, SHANXI, FGW_ZJ, THEPAPER, XINHUANET_WUHAN, CHINANEWS,
]  # fmt: skip


def page_bytes(name: str) -> bytes:
    return (PAGES / name).read_bytes()


def page_html(name: str) -> str:
    return decode_html(page_bytes(name))[0]


# ---- decoding ------------------------------------------------------------------------------

META_CHARSET = re.compile(r"<meta[^>]*charset[^>]*>", re.IGNORECASE)


def as_gbk_page(name: str, meta: str) -> tuple[bytes, str]:
    """A UTF-8 corpus page turned into the GBK page a Chinese server would send:
    its charset metas say gb2312 (``meta="gb2312"``) or are gone (``meta="none"``).
    Returns the bytes and the text a reader should see."""
    html = (PAGES / name).read_text(encoding="utf-8")
    if meta == "gb2312":
        html = re.sub(r"charset=([\"']?)utf-8", r"charset=\1gb2312", html, flags=re.IGNORECASE)
    else:
        html = META_CHARSET.sub("", html)
    body = html.encode("gbk", errors="ignore")
    return body, body.decode("gbk")


@pytest.mark.parametrize("header", [None, "iso-8859-1", "utf-8"])
@pytest.mark.parametrize("meta", ["gb2312", "none"])
@pytest.mark.parametrize("name", [WANZAI, YICHUN_ARTICLE, NEWS_CN_XINJIANG, HE_NEWS_CN, KEPU, SHANXI])
def test_gbk_page_decodes_whatever_the_header_says(name: str, meta: str, header: str | None) -> None:
    body, expected = as_gbk_page(name, meta)
    assert decode_html(body, header_charset=header) == (expected, "gb18030", 0)


def test_utf16_meta_on_ascii_compatible_bytes_is_ignored() -> None:
    body = b'<html><head><meta charset="utf-16"><title>Reports 2023</title></head></html>'
    body.decode("utf-16")  # no error, only nonsense: the label cannot be right without a BOM
    assert decode_html(body) == (body.decode("ascii"), "utf-8", 0)


def test_gb2312_label_is_read_as_gb18030_so_gbk_only_characters_survive() -> None:
    body, _ = as_gbk_page(NEWS_CN_XINJIANG, "gb2312")
    with pytest.raises(UnicodeEncodeError):
        "頔".encode("gb2312")
    text, codec, _ = decode_html(body, header_charset="gb2312")
    assert "责任编辑:王頔" in text
    assert codec == "gb18030"


def test_big5_page_follows_its_meta_although_gb18030_would_decode_it_too() -> None:
    html = OpenCC("s2t").convert((PAGES / KEPU).read_text(encoding="utf-8"))  # Traditional, as Big5 needs
    html = re.sub(r"charset=([\"']?)utf-8", r"charset=\1big5", html, flags=re.IGNORECASE)
    body = html.encode("big5", errors="ignore")
    body.decode("gb18030")  # no error, only mojibake
    text, codec, _ = decode_html(body)
    assert (text, codec) == (body.decode("big5"), "big5hkscs")
    assert "習近平主持召開深入推進長三角一體化發展座談會" in text


@pytest.mark.parametrize("header", [None, "utf-8", "gb2312"])
def test_raw_gb2312_wayback_replay_decodes_despite_injected_utf8_declarations(header: str | None) -> None:
    text, codec, _ = decode_html(page_bytes(WAYBACK_GB2312), header_charset=header)
    assert codec == "gb18030"
    assert "<title>话剧《约定无期限》河北各市巡演结束</title>" in text
    assert "\ufffd" not in text


@pytest.mark.parametrize("header", [None, "gb2312", "GBK"])
@pytest.mark.parametrize("name", [PEOPLE, FINANCE_PEOPLE, QQ, GMW])
def test_utf8_bytes_win_over_a_gb2312_or_gbk_declaration(name: str, header: str | None) -> None:
    body = page_bytes(name)
    assert decode_html(body, header_charset=header) == (body.decode("utf-8"), "utf-8", 0)


def test_utf8_bytes_that_are_also_valid_gb18030_are_utf8() -> None:
    body = '<meta charset="gb2312"><p>对口援疆 转移就业</p>'.encode()
    body.decode("gb18030")  # mojibake, but no error: strictness alone cannot tell
    assert decode_html(body, header_charset="gbk") == (body.decode(), "utf-8", 0)


@pytest.mark.parametrize("bom_codec", ["utf-8-sig", "utf-16"])
def test_byte_order_mark_wins_over_header_and_meta(bom_codec: str) -> None:
    html = page_html(PEOPLE)  # meta gb2312
    text, _, _ = decode_html(html.encode(bom_codec), header_charset="gbk")
    assert text == html


def test_override_wins_even_over_the_bytes() -> None:
    body = page_bytes(WAYBACK_GB2312)
    text, codec, _ = decode_html(body, override="gbk")
    assert (codec, "话剧《约定无期限》" in text) == ("gb18030", True)
    text, codec, _ = decode_html(body, header_charset="gb2312", override="utf-8")
    assert codec == "utf-8"
    assert "话剧《约定无期限》" not in text and "\ufffd" in text


def test_unknown_override_is_reported_by_name() -> None:
    with pytest.raises(ValueError, match="'gbk2312'"):
        decode_html(b"<html></html>", override="gbk2312")


def test_body_cut_inside_a_character_decodes_without_replacement() -> None:
    body, expected = as_gbk_page(NEWS_CN_XINJIANG, "gb2312")
    cut = body.find("李强在新疆".encode("gbk")) + 1  # keeps only the first byte of 李
    text, codec, _ = decode_html(body[:cut])
    assert codec == "gb18030"
    assert text == expected[: expected.find("李强在新疆")]


@pytest.mark.parametrize(("name", "encoding"), [(NEWS_CN_XINJIANG, "gbk"), (PEOPLE, "utf-8")])
def test_one_corrupt_byte_does_not_throw_the_page_to_a_guesser(name: str, encoding: str) -> None:
    html = page_html(name)
    body = html.encode(encoding, errors="ignore")
    middle = len(body) // 2
    text, codec, _ = decode_html(body[:middle] + b"\xff" + body[middle:])
    assert codec == ("gb18030" if encoding == "gbk" else "utf-8")
    assert text.count("\ufffd") == 1
    assert extract(text, "http://example.cn/").title == extract(html, "http://example.cn/").title


def test_page_in_neither_utf8_nor_gb18030_goes_to_charset_normalizer() -> None:
    # a windows-1251 page: Cyrillic letters before spaces are invalid in GB18030
    russian = "<html><body><p>Программа трудовой миграции: переселение рабочих в другие регионы.</p></body></html>"
    assert decode_html(russian.encode("cp1251")) == (russian, "cp1251", 0)


# ---- titles and dates ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "title", "published"),
    [
        (WANZAI, "万载县2022年国民经济和社会发展统计公报", "2023-08-16T10:33:59"),  # TRS metas
        (YICHUN_ARTICLE, "宜春市2022年国民经济和社会发展统计公报", "2023-05-16T12:34:05"),
        (SHANXI, "山西品牌丝路行（南美站）正式启动", "2019-09-18T06:23"),
        (FGW_ZJ, "1-10月德清县固定资产投资结构趋稳趋优", "2016-11-22T09:53"),  # "-" inside the title
        (NEWS_CN_XINJIANG, "李强在新疆调研时强调 彰显特色优势 提高开放水平 在高质量发展中增进民生福祉促进长治久安", "2024-05-09"),
        (HE_NEWS_CN, "新华视界｜河北遵化：数字农机服务助力农业生产", "2024-05-15"),  # "-新华网河北频道-新华网"
        (PEOPLE, "女儿出嫁，郑板桥画了几笔兰花当嫁妆", "2019-06-15"),  # "--文化--人民网"
        (GMW, "宇航员在太空中喝酒会怎么样？后果很严重", "2017-03-10"),  # " _探索者 _光明网"
        (WAYBACK_GB2312, "话剧《约定无期限》河北各市巡演结束", "2012-06-04T09:20:26"),  # byline "( 2012-06-04 09:20:26 )"
        (KEPU, "习近平主持召开深入推进长三角一体化发展座谈会", "2023-12-01T14:43"),  # byline
        (THEPAPER, "定了！广州南沙邮轮母港即将开通！地铁直达+无敌免...", "2019-08-13T14:07"),  # "2019-08-13 14:07来源"
        (QQ, "DeepMind新电脑已可利用记忆自学 人工智能迈上新台阶", "2016-10-14T07:17"),  # "2016年10月14日07:17"
        (XINHUANET_WUHAN, "武汉的声音：有英勇的你，才有英雄的城！", "2020-02-19T20:29:58"),
        (YICHUN_HOME, "中国宜春", None),  # an index page states no publication date
    ],
)
def test_title_and_publication_date(name: str, title: str, published: str | None) -> None:
    extracted = extract(page_html(name), "http://example.cn/")
    assert (extracted.title, extracted.published) == (title, published)


@pytest.mark.parametrize(
    ("name", "published"),
    [
        (FGW_ZJ, "2016-11-22"),  # "发布日期：2016-11-22"
        (PEOPLE, "2019-06-15T08:18"),  # "2019年06月15日08:18 来源：人民网-文化频道"
        (NEWS_CN_XINJIANG, "2024-05-09T22:27:02"),
        (HE_NEWS_CN, "2024-05-15T08:58:52"),
    ],
)
def test_byline_under_the_title_dates_a_page_without_date_metas(name: str, published: str) -> None:
    html = re.sub(r"<meta[^>]*(?:PubDate|publishdate)[^>]*>", "", page_html(name), flags=re.IGNORECASE)
    assert extract(html, "http://example.cn/").published == published


def test_empty_title_element_falls_back_to_the_longest_h1() -> None:
    html = re.sub(r"(<title[^>]*>).*?(</title>)", r"\1\2", page_html(HE_NEWS_CN), flags=re.DOTALL)
    assert extract(html, "http://www.he.news.cn/").title == "新华视界｜河北遵化：数字农机服务助力农业生产"


def test_title_that_is_only_the_site_name_falls_back_to_the_article_h1() -> None:
    html = re.sub(r'<meta name="ArticleTitle"[^>]*>', "", page_html(WANZAI))
    html = re.sub(r"<title>.*?</title>", "<title>万载县人民政府</title>", html, flags=re.DOTALL)
    assert extract(html, WANZAI_URL).title == "万载县2022年国民经济和社会发展统计公报"


# ---- main text -----------------------------------------------------------------------------


def ground_truth_sentences(content: str) -> list[str]:
    """Sentences of the magic-html ground truth with at least 8 Chinese characters (drops
    video-player and credit fragments such as "Play Video", "【纠错】")."""
    sentences = (" ".join(s.split()) for s in re.split(r"[。！？\n]", content))
    return [s for s in sentences if len(re.findall(r"[\u4e00-\u9fff]", s)) >= 8]


@pytest.mark.parametrize("key", json.loads((PAGES / "base.json.subset.json").read_text(encoding="utf-8")))
def test_main_text_matches_magic_html_ground_truth(key: str) -> None:
    truth = json.loads((PAGES / "base.json.subset.json").read_text(encoding="utf-8"))[key]
    name = next(PAGES.glob(f"*__{key}.html")).name
    text = extract(page_html(name), truth["url"]).text
    sentences = ground_truth_sentences(truth["content"])
    found = [s for s in sentences if s in text]
    assert len(found) >= 0.9 * len(sentences), set(sentences) - set(found)
    assert len(text) <= 1.3 * len(truth["content"])  # no navigation or related-news lists


@pytest.mark.parametrize("name", ARTICLES)
def test_site_chrome_stays_out_of_the_text(name: str) -> None:
    text = extract(page_html(name), "http://example.cn/").text
    assert text
    for chrome in ("版权所有", "网站地图", "浏览次数", "访问量", "ICP备", "Copyright", "关联稿件"):
        assert chrome not in text


def test_layout_wrapper_named_like_a_footer_is_kept() -> None:
    html = re.sub(r"(<body[^>]*>)", r'\1<div class="wrap-with-fixed-footer">', page_html(WANZAI), count=1)
    html = html.replace("</body>", "</div></body>")
    assert "全年实现生产总值(GDP)262.6亿元" in extract(html, WANZAI_URL).text


def test_statistics_bulletin_keeps_person_time_figures() -> None:
    text = extract(page_html(WANZAI), WANZAI_URL).text
    for figure in ("402人次", "823人次", "20万人次", "1480万人次"):
        assert figure in text


def test_selector_gives_the_text_of_its_matches() -> None:
    html = page_html(WANZAI)
    extracted = extract(html, WANZAI_URL, selector="#zoomcon")
    assert extracted.selector_matched is True
    assert extracted.text.startswith("万载县统计局 国家统计局万载调查队\n（2023年5月）\n2022年，万载全县上下")
    assert extract(html, WANZAI_URL, selector=".article-title, .llcs").text == "万载县2022年国民经济和社会发展统计公报\n访问量：1632"


def test_selector_matching_nothing_falls_back_and_says_so() -> None:
    html = page_html(WANZAI)
    extracted = extract(html, WANZAI_URL, selector=".no-such-content")
    assert extracted.selector_matched is False
    assert extracted.text == extract(html, WANZAI_URL).text
    assert extract(html, WANZAI_URL).selector_matched is None


def test_ignore_css_removes_a_visitor_counter_before_extraction() -> None:
    html = page_html(WANZAI)
    assert "访问量：1632" in extract(html, WANZAI_URL, selector=".xxgk-detail").text
    text = extract(html, WANZAI_URL, selector=".xxgk-detail", ignore_css=[".llcs"]).text
    assert "访问量" not in text and "1632" not in text
    assert "万载县2022年国民经济和社会发展统计公报" in text


@pytest.mark.parametrize(("selector", "ignore_css"), [("div[", ()), (None, ["p:nth-child(x)"])])
def test_invalid_css_is_reported(selector: str | None, ignore_css: list[str]) -> None:
    bad = selector or ignore_css[0]
    with pytest.raises(ValueError, match=re.escape(f"invalid CSS selector {bad!r}")):
        extract(page_html(WANZAI), WANZAI_URL, selector=selector, ignore_css=ignore_css)


def test_index_page_without_article_keeps_its_visible_text() -> None:
    text = extract(page_html(YICHUN_HOME), "https://www.yichun.gov.cn/").text
    assert "市委书记严允围绕“推动宜春锂电新能源产业高质量发展”这一课题" in text
    assert text.count("\n") > 50  # the news lists, one item per line


@pytest.mark.parametrize("html", ["", "   \n ", "<!-- only a comment -->"])
def test_empty_document_gives_empty_result(html: str) -> None:
    extracted = extract(html, "http://example.cn/")
    assert (extracted.title, extracted.text, extracted.published, extracted.links) == ("", "", None, ())


def test_content_past_the_size_bound_is_not_read() -> None:
    late = '<p class="late">转移就业</p></body>'
    html = page_html(WANZAI).replace("</body>", late)
    assert extract(html, WANZAI_URL, selector=".late").selector_matched is True
    padded = page_html(WANZAI).replace("</body>", "<script>" + " " * MAX_HTML_CHARS + "</script>" + late)
    extracted = extract(padded, WANZAI_URL, selector=".late")
    assert extracted.selector_matched is False
    assert extracted.title == "万载县2022年国民经济和社会发展统计公报"


# ---- links and attachments -----------------------------------------------------------------


def test_links_are_absolute_unique_and_without_fragments_or_scripts() -> None:
    links = extract(page_html(YICHUN_HOME), "https://www.yichun.gov.cn/").links
    urls = [link.url for link in links]
    assert len(urls) == len(set(urls)) > 250
    assert all(url.startswith(("http://", "https://")) and "#" not in url for url in urls)
    assert urls.count("https://www.yichun.gov.cn/ycsrmzf/index.shtml") == 1  # 5 anchors in the page
    assert "https://www.yichun.gov.cn/" not in urls  # href="#page2" … "#page5" stay on the page
    assert Link("https://www.yichun.gov.cn/ycsrmzf/index.shtml", "首页") in links
    # three anchors, only the middle one has text: an empty icon link must not blank it
    manual = "https://www.yichun.gov.cn/ycsrmzf/gztPC/202204/874802fb33f14fba87599fc6d03f6943.shtml"
    assert Link(manual, "赣政通使用手册") in links
    # an image banner: its title attribute names it
    assert Link("https://www.gov.cn/zhuanti/zswzjjylzzccs/index.htm", "稳经济一览子政策措施和接续政策") in links
    assert Link("http://english.yichun.gov.cn/", "EN") in links  # 3 anchors, one link


def test_mailto_links_are_dropped() -> None:
    html = page_html(FINANCE_PEOPLE)
    assert 'href="mailto:kf@people.cn"' in html
    links = extract(html, "http://finance.people.com.cn/n1/2024/0510/c1004-40232587.html").links
    assert links and not [link for link in links if "kf@people.cn" in link.url]


def test_links_resolve_against_base_href() -> None:
    html = page_html(SHANXI).replace("<head>", '<head><base href="https://mirror.example.org/shanxi/yw/2019/">', 1)
    urls = {link.url for link in extract(html, "http://www.shanxi.gov.cn/yw/sxyw/201909/t20190918_1.shtml").links}
    assert "https://mirror.example.org/shanxi/" in urls  # href="../../"
    assert "http://www.forestry.gov.cn/" in urls  # absolute hrefs stay as they are


def test_attachments_on_the_yichun_homepage() -> None:
    """The .doc manual is fetched as a document; the app downloads (.zip) are not documents."""
    attachments = extract(page_html(YICHUN_HOME), "https://www.yichun.gov.cn/").attachments
    files = "https://www.yichun.gov.cn/ycsrmzf/footer/{}/d8724f590464436195dc04696afea576/files/"
    assert attachments == (Link(files.format("202201") + "信创版本下载登陆使用手册.doc", "操作手册"),)


def test_attachment_on_the_wayback_replay() -> None:
    extracted = extract(page_html(WAYBACK_GB2312), "https://web.archive.org/web/20120611024252/http://www.he.xinhuanet.com/")
    assert extracted.attachments == (
        Link("https://web.archive.org/web/20120611024252/http://imgs.xinhuanet.com/icon/video/xhsspzx/jmb.doc", "[下载]"),
    )


@pytest.mark.parametrize(
    ("href", "text", "is_attachment"),
    [
        ("/files/2023年转移就业名单.PDF", "名单", True),  # extension, any case
        ("/files/plan.docx?v=3", "", True),  # query ignored
        ("/files/table.et", "", True),  # WPS spreadsheet
        ("/downfile.jsp?filename=plan.xls", "", True),  # the file named in the query
        ("/download/notice", "附件：通知", True),  # 附件 on a URL without a file name
        ("/col/download", "下载", True),
        ("/files/notice.ceb", "附件：通知", False),  # a file docwatch cannot read
        ("/files/app.zip", "下载", False),
        ("/col/list.shtml", "附件下载专区", False),  # 附件 on a page
        ("http://www.example.com/files/plan.pdf", "附件", False),  # someone else's site
        ("http://file.wanzai.gov.cn/files/plan.pdf", "附件", True),  # the same site's file server
        ("/files/W020231009转移就业名单.JPG", "附件1：转移就业名单", True),  # a scan linked as 附件: read by OCR
        ("/files/scan.tif", "附件", True),
        ("/images/photo.jpg", "下载", False),  # other image links are photos, not documents
        ("/images/banner.png", "首页", False),
    ],
)
def test_attachment_rules(href: str, text: str, is_attachment: bool) -> None:
    html = page_html(WANZAI).replace("</body>", f'<a href="{href}">{text}</a></body>')
    extracted = extract(html, WANZAI_URL)
    url = href if href.startswith("http") else "http://www.wanzai.gov.cn" + href
    assert Link(url, text) in extracted.links
    assert (Link(url, text) in extracted.attachments) is is_attachment


def test_government_cms_article_element_is_the_text_even_beside_longer_blocks() -> None:
    """On a known CMS template the article is the template's article element (#zoom here),
    however much text the page carries around it."""
    html = page_html("fgw.zj.gov.cn_article.html")
    sidebar = "<div class='hot-topics'>" + "<p>德清县召开全县就业工作推进会，部署农村劳动力转移就业工作，要求各乡镇压实责任。</p>" * 8 + "</div>"
    html = html.replace('<div class="main-txt" id="zoom">', sidebar + '<div class="main-txt" id="zoom">', 1)
    text = extract(html, "http://fgw.zj.gov.cn/art/2016/11/22/art_1.html").text
    assert text.startswith("1-10月，全县固定资产投资完成246.79亿元")
    assert "德清县召开全县就业工作推进会" not in text


def broken_gb2312_page() -> tuple[bytes, str]:
    """A short GB2312 article (as county sites publish them) with four invalid byte sequences."""
    text = "皮山县2023年农村富余劳动力转移就业工作取得新成效。全县累计转移就业2404人，完成年度目标任务的101%。"
    html = (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312">'
        f"<title>皮山县转移就业</title></head><body><div id=\"zoom\"><p>{text}</p></div></body></html>"
    )
    body = html.encode("gb2312")
    for before, junk in (("转移就业工作", b"\xff"), ("累计", b"\x80"), ("完成", b"\xa1 "), ("目标", b"\xfe\xff")):
        at = body.index(before.encode("gb2312"))
        body = body[:at] + junk + body[at:]
    return body, text


@pytest.mark.parametrize("header", ["gb2312", None])
def test_broken_bytes_in_a_gb2312_page_are_replaced_and_counted_and_the_text_survives(header: str | None) -> None:
    body, text = broken_gb2312_page()
    decoded = decode_html(body, header_charset=header)
    assert (decoded.encoding, decoded.undecodable_bytes) == ("gb18030", 5)  # ff, 80, a1, fe ff
    page = extract(decoded.text, "http://www.pishan.gov.cn/")
    assert page.text.count("\ufffd") == 5  # one per bad byte, where it was
    assert page.text.replace("\ufffd", "").replace(" ", "") == text


DEMO_REPORT = Path(__file__).resolve().parent.parent / "crawler/demo/site/xjrst/c112676/201801/5b1f3c2a9e8d4f6a8c7b1e2d3f4a5b6c.shtml"
DEMO_REPORT_URL = "http://rst.example.gov.cn/xjrst/c112676/201801/5b1f3c2a9e8d4f6a8c7b1e2d3f4a5b6c.shtml"


def test_an_article_published_as_scans_has_its_images_as_documents() -> None:
    """A government CMS article (#zoom) whose only content is a photographed notice: its images
    are fetched as documents (read by OCR); a text article's photos are not, nor another site's."""
    html = DEMO_REPORT.read_text("utf-8")
    content = re.search(r'(?s)<div class="article-content" id="zoom">.*?</div>', html).group()
    scans = ('<div class="article-content" id="zoom"><p><img src="W020180109001.jpg" alt="通知第1页"></p>'
             '<p><img src="/xjrst/c112676/201801/W020180109002.png"></p><p>（扫描件）</p>'
             '<img src="http://cdn.example.com/ad.jpg"></div>')

    extracted = extract(html.replace(content, scans), DEMO_REPORT_URL)

    base = "http://rst.example.gov.cn/xjrst/c112676/201801/"
    assert extracted.attachments[-2:] == (Link(base + "W020180109001.jpg", "通知第1页"), Link(base + "W020180109002.png", ""))
    with_text = content.replace("</div>", '<p><img src="W020180109001.jpg"></p></div>')
    assert base + "W020180109001.jpg" not in {link.url for link in extract(html.replace(content, with_text), DEMO_REPORT_URL).attachments}
