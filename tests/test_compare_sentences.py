"""split_sentences: the unit of diffs and of the context shown next to hits and figures."""

from pathlib import Path

from crawler.compare.sentences import SentenceLocator, split_sentences

TEXT = Path(__file__).parent / "files" / "text"
EXCERPTS = (TEXT / "xinjiang_tibet_labor_transfer_excerpts.md").read_text()
SHANXI = (TEXT / "shanxi.gov.cn_article_paragraph.txt").read_text()


def test_real_report_splits_at_full_stops_and_semicolons_keeping_the_terminator():
    paragraph = next(line for line in EXCERPTS.splitlines() if line.startswith("通过转移就业帮助"))

    sentences = split_sentences(paragraph)

    assert sentences == [
        "通过转移就业帮助农村富余劳动力实现就业,是新疆重要的惠民举措。",
        "今年,新疆采取多项扶持举措,积极开展就业技能和语言培训,实施精准就业援助措施,"
        "促进贫困地区农牧民“就地就近”就业,截至6月底,共帮助全区农村富余劳动力实现转移就业"
        "175.62万人次,完成年度目标任务的65%;",
        "其中,有组织转移到东中部援疆省市企业就业共计15459人,完成年度目标任务的61.84%。",
    ]


def test_decimal_points_do_not_end_a_sentence():
    assert split_sentences("全区开展各类就业培训达74.31万人次,其中培训15.39万人次。") == [
        "全区开展各类就业培训达74.31万人次,其中培训15.39万人次。"
    ]


def test_closing_quote_after_a_terminator_stays_with_its_sentence():
    sentences = split_sentences(SHANXI)

    assert "“山西发展前景光明、机遇无限。”" in sentences
    assert sentences[-1] == "他希望山西和圣保罗加强合作,为推进中巴两国合作作出更大贡献。"


def test_line_breaks_split_and_blank_or_space_only_pieces_are_dropped():
    text = "  2018年01月09日 11:33   来源:新疆日报 \n\n \n[责任编辑:王杨 ]\n你好！？  再见"

    assert split_sentences(text) == [
        "2018年01月09日 11:33   来源:新疆日报",
        "[责任编辑:王杨 ]",
        "你好！？",
        "再见",
    ]


def test_ascii_terminators_from_normalised_text_split_too():
    assert split_sentences('他说:"好!"然后走了;结束?') == ['他说:"好!"', "然后走了;", "结束?"]


def test_locator_finds_the_sentence_around_an_offset_in_the_corpus():
    locator = SentenceLocator(EXCERPTS)
    start = EXCERPTS.index("15459人")

    sentence_start, sentence_end = locator.around(start, start + len("15459人"))

    assert EXCERPTS[sentence_start:sentence_end] == (
        "其中,有组织转移到东中部援疆省市企业就业共计15459人,完成年度目标任务的61.84%。"
    )


def test_locator_joins_sentences_when_the_span_crosses_a_boundary():
    text = "第一句。第二句。第三句。"
    locator = SentenceLocator(text)

    start, end = locator.around(text.index("句。第二"), text.index("第二") + 2)

    assert text[start:end] == "第一句。第二句。"
