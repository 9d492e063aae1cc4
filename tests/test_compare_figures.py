"""extract_figures on the real Xinjiang and Tibet labour-transfer reports."""

from pathlib import Path

import pytest

from crawler.compare.figures import extract_figures, one_per_figure
from crawler.compare.normalise import normalise_text
from crawler.compare.sentences import split_sentences
from crawler.extract.article import decode_html, extract

FILES = Path(__file__).parent / "files"
TEXT = FILES / "text"
EXCERPTS = normalise_text((TEXT / "xinjiang_tibet_labor_transfer_excerpts.md").read_text())


@pytest.fixture(scope="module")
def figures():
    return extract_figures(EXCERPTS)


def one(figures, text, sentence_start):
    [figure] = [f for f in figures if f.text == text and f.sentence.startswith(sentence_start)]
    return figure


@pytest.mark.parametrize(
    ("text", "sentence_start", "value", "unit", "term", "rate"),
    [
        ("275万人次", "新疆日报讯", 2750000, "人次", "转移就业", 106.0),
        ("175.62万人次", "今年,新疆采取", 1756200, "人次", "转移就业", 65.0),
        ("175.62万人次", "新华社乌鲁木齐", 1756200, "人次", "转移就业", None),  # "完成年度目标逾6成"
        ("74.31万人次", "今年上半年", 743100, "人次", "就业培训", None),
        ("15459人", "其中,有组织转移", 15459, "人", "有组织转移", 61.84),
        ("20859人", "2017年全区整建制转移", 20859, "人", "转移内地", 104.0),
        ("69.33萬人", "本報拉薩", 693300, "人", "转移就业", None),
        ("19.7万人", "日前,记者", 197000, "人", "转移就业", 32.9),
        ("4万人", "2017年,我区多部门联动", 40000, "人", "转移", None),
        ("4.7万人", "2017年,我区多部门联动", 47000, "人", "转移", None),
        ("3.9万名", "做实组织化输出", 39000, "人", "输出", None),
        ("67万多人次", "据统计", 670000, "人次", "转移", None),
    ],
)
def test_reported_figures_have_exact_values_terms_and_rates(
    figures, text, sentence_start, value, unit, term, rate
):
    figure = one(figures, text, sentence_start)

    assert (figure.value, figure.unit, figure.term, figure.rate) == (value, unit, term, rate)
    assert type(figure.value) is int


def test_traditional_figure_keeps_its_original_writing_and_sentence(figures):
    figure = one(figures, "69.33萬人", "本報拉薩")

    assert "農牧民轉移就業69.33萬人、實現勞務收入58.1億元" in figure.sentence


def test_counts_outside_a_transfer_clause_years_percentages_and_money_are_not_figures(figures):
    texts = {figure.text for figure in figures}

    # 城镇新增就业 (urban job creation) and 零就业家庭 share a sentence with 转移就业 but not a clause.
    assert not texts & {"234.86万人", "5.21萬人", "4010戶"}
    assert not any(text.endswith(("年", "%", "元", "月")) for text in texts)
    assert all(figure.unit in {"人", "人次", "户"} for figure in figures)


def test_full_width_digits_and_thousands_separators_are_read():
    text = "2017年全区整建制转移内地企业就业８２，０００人次,完成年度目标任务的１０４％。"

    [figure] = extract_figures(text)

    assert (figure.text, figure.value, figure.unit, figure.rate) == ("８２，０００人次", 82000, "人次", 104.0)


def test_fractional_counts_stay_floats_and_whole_ones_become_ints():
    [fraction, whole] = extract_figures("人均转移就业1.5人次;全区转移就业0.25万户。")

    assert (fraction.value, type(fraction.value)) == (1.5, float)
    assert (whole.value, type(whole.value), whole.unit) == (2500, int, "户")


def test_ranks_and_currency_are_not_counts_of_people():
    assert extract_figures("转移就业工作排第3名,转移就业收入5000人民币。") == []


def test_keys_are_stable_across_a_recrawl_and_distinguish_different_figures(figures):
    recrawled = extract_figures(EXCERPTS.replace("浏览次数:", "浏览次数:1632"))

    assert [figure.key for figure in recrawled] == [figure.key for figure in figures]
    assert one(figures, "4万人", "2017年,我区").key != one(figures, "4.7万人", "2017年,我区").key


def test_custom_anchor_terms_replace_the_default_list():
    text = "城镇新增就业5.21万人,全区转移就业19.7万人。"

    assert [f.text for f in extract_figures(text, anchor_terms=["新增就业"])] == ["5.21万人"]
    with pytest.raises(ValueError, match="at least one anchor term"):
        extract_figures(text, anchor_terms=[])
    with pytest.raises(TypeError, match="not a single string"):
        extract_figures(text, anchor_terms="新增就业")


# 天山网 2018-01-09, headline and first sentence, with the page's own punctuation.
HEADLINE_AND_BODY = (
    "【2017·亮点】农村富余劳动力转移就业275万人次\n"
    "2017年，我区就业惠民工作成效显著，农村富余劳动力累计转移就业２７５万人次，完成年度目标的106%。"
)


def test_text_and_sentence_of_a_figure_are_the_pages_own_characters():
    [_, body] = extract_figures(HEADLINE_AND_BODY)

    assert (body.text, body.value) == ("２７５万人次", 2750000)
    assert body.sentence == HEADLINE_AND_BODY.splitlines()[1]


def test_terms_are_every_term_near_the_figure_nearest_first_without_terms_inside_longer_ones():
    [headline, body] = extract_figures(HEADLINE_AND_BODY)
    [quota] = extract_figures("2017年全区整建制转移内地企业就业20859人，完成年度目标任务的104%。")

    assert headline.terms == ("劳动力转移就业",)  # not 转移就业, 劳动力转移 or 转移 again
    assert body.terms == ("转移就业",)
    assert quota.terms == ("转移内地", "整建制转移")  # overlapping, neither inside the other


def test_a_figure_stated_in_the_headline_and_the_body_is_one_figure_with_both_terms():
    [figure] = one_per_figure(extract_figures(HEADLINE_AND_BODY))

    assert figure.terms == ("转移就业", "劳动力转移就业")
    # Quoted from the statement that gives the completion rate.
    assert (figure.text, figure.rate, figure.sentence) == ("２７５万人次", 106.0, HEADLINE_AND_BODY.splitlines()[1])
    assert figure.key == ("人次", 2750000)


def test_different_figures_of_one_sentence_stay_apart(figures):
    planned_and_actual = [f for f in figures if f.sentence.startswith("2017年,我区多部门联动")]

    assert [f.text for f in one_per_figure(planned_and_actual)] == ["4万人", "4.7万人"]


def test_a_count_starts_where_its_number_starts():
    """Not inside a longer number (13 digits, after "." or ","), nor after 第 (a rank)."""
    figures = extract_figures("转移就业1234567890123人,转移就业第12人,转移就业.5人,转移就业3,5人,转移就业12人。")

    assert [(f.value, f.text) for f in figures] == [(12, "12人")]


def real_texts() -> list[str]:
    """The text fixtures and the main text of every saved page, each also in full-width digits
    and punctuation and without its line breaks."""
    texts = [path.read_text("utf-8") for path in sorted(TEXT.glob("*"))]
    texts += [extract(decode_html(path.read_bytes()).text, "http://example.org/").text
              for path in sorted((FILES / "pages").glob("*.html"))]
    full_width = str.maketrans({c: chr(ord(c) + 0xFEE0) for c in "0123456789,.%:;"})
    return texts + [text.translate(full_width) for text in texts] + [text.replace("\n", "") for text in texts]


def test_a_text_states_the_figures_of_its_sentences_each_read_alone():
    """Figures are found in one pass over a page: it finds what reading the page sentence by
    sentence finds, on every real text (the quantities of a sentence, its clauses and rate)."""
    texts = real_texts()
    stated = [extract_figures(text) for text in texts]

    assert sum(map(len, stated)) > 80
    assert stated == [[f for sentence in split_sentences(text) for f in extract_figures(sentence)] for text in texts]
