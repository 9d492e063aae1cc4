"""KeywordMatcher on the real labour-transfer reports, in simplified and traditional characters."""

from pathlib import Path

import pytest

from crawler.compare.keywords import KeywordMatcher, KeywordSet
from crawler.compare.normalise import normalise_text

TEXT = Path(__file__).parent / "files" / "text"
EXCERPTS = normalise_text((TEXT / "xinjiang_tibet_labor_transfer_excerpts.md").read_text())
# Starter sets from domain.md.
SETS = {
    "labor_transfer": KeywordSet(
        terms=["劳动力转移就业", "转移就业", "农牧民转移就业", "有组织转移", "卫星工厂", "整建制转移"]
    ),
    "coercion": KeywordSet(terms=["激发内生动力", "内生动力", "转变就业观念", "卫星工厂"]),
    "english": KeywordSet(terms=["labor transfer", "UFLPA", "person-times"]),
}


@pytest.fixture(scope="module")
def matcher() -> KeywordMatcher:
    return KeywordMatcher(SETS)


def test_every_hit_points_at_its_text_and_hits_come_in_document_order(matcher):
    hits = matcher.find(EXCERPTS)

    assert len(hits) > 40
    assert all(EXCERPTS[hit.start : hit.end] == hit.matched for hit in hits)
    assert [hit.start for hit in hits] == sorted(hit.start for hit in hits)


def test_traditional_characters_are_found_by_the_simplified_term(matcher):
    tibet_start = EXCERPTS.index("西藏去年農牧民轉移就業69.33萬人")

    hit = next(
        hit
        for hit in matcher.find(EXCERPTS)
        if hit.start > tibet_start and hit.term == "农牧民转移就业"
    )

    assert hit.matched == "農牧民轉移就業"
    assert hit.set == "labor_transfer"
    assert hit.sentence == "西藏去年農牧民轉移就業69.33萬人"
    assert "69.33萬人" in hit.context


def test_overlapping_terms_are_all_reported(matcher):
    text = "今年将实现南疆22个深度贫困县建档立卡贫困家庭劳动力转移就业4万人。"
    start = text.index("劳动力转移就业")

    found = {(hit.term, hit.start, hit.end) for hit in matcher.find(text)}

    assert found == {("劳动力转移就业", start, start + 7), ("转移就业", start + 3, start + 7)}


def test_a_term_in_two_sets_gives_one_hit_per_set(matcher):
    text = next(line for line in EXCERPTS.splitlines() if "卫星工厂" in line)

    hits = [hit for hit in matcher.find(text) if hit.term == "卫星工厂"]

    assert sorted(hit.set for hit in hits) == ["coercion", "labor_transfer"]
    assert hits[0].start == hits[1].start


def test_context_and_sentence_come_from_the_text_as_given(matcher):
    hit = next(hit for hit in matcher.find(EXCERPTS) if hit.term == "整建制转移")

    assert hit.sentence == "2017年全区整建制转移内地企业就业20859人,完成年度目标任务的104%。"
    assert hit.context == EXCERPTS[hit.start - 40 : hit.end + 40]


def test_full_width_and_capitalised_english_terms_match(matcher):
    text = "美国依据ＵＦＬＰＡ将企业列入实体清单。Reports on Labor Transfer programs count person-times."

    found = [(hit.term, hit.matched) for hit in matcher.find(text)]

    assert found == [
        ("UFLPA", "ＵＦＬＰＡ"),
        ("labor transfer", "Labor Transfer"),
        ("person-times", "person-times"),
    ]


def test_english_terms_do_not_match_inside_longer_words(matcher):
    text = "Laborers transferred to factories; UFLPAs; xlabor transfer; labor transfers."

    assert [hit.term for hit in matcher.find(text)] == []


def test_regex_patterns_run_on_folded_text_case_insensitively():
    matcher = KeywordMatcher(
        {"figures": KeywordSet(patterns=[r"\d+(?:\.\d+)?萬人次", r"forced labou?r"])}
    )
    text = "全区开展各类就业培训达74.31万人次。Forced Labour and forced labor."

    found = [(hit.term, hit.matched) for hit in matcher.find(text)]

    assert found == [
        (r"\d+(?:\.\d+)?萬人次", "74.31万人次"),
        ("forced labou?r", "Forced Labour"),
        ("forced labou?r", "forced labor"),
    ]


def test_a_named_pattern_reports_its_name_as_the_term():
    quota = r"转移就业[^。]{0,20}?\d+万人次"
    matcher = KeywordMatcher({"figures": KeywordSet(patterns=[quota, r"\d+人"], pattern_names=[(quota, "quota")])})

    found = [(hit.term, hit.matched) for hit in matcher.find("累计转移就业275万人次，其中20859人。")]

    assert found == [("quota", "转移就业275万人次"), (r"\d+人", "20859人")]


def test_text_without_hits_gives_no_hits(matcher):
    assert matcher.find("就业是最大的民生工程、民心工程、根基工程。") == []
    assert KeywordMatcher({}).find(EXCERPTS) == []


def test_invalid_pattern_names_the_set_and_the_pattern():
    with pytest.raises(ValueError, match=r"keyword set 'bad': invalid pattern '转移\(就业'"):
        KeywordMatcher({"bad": KeywordSet(patterns=["转移(就业"])})


def test_a_single_string_instead_of_a_list_is_refused():
    with pytest.raises(TypeError, match="keyword set 'oops': terms must be a list of strings"):
        KeywordMatcher({"oops": KeywordSet(terms="转移就业")})


def test_an_empty_term_is_refused():
    with pytest.raises(ValueError, match="keyword set 'blank': empty term"):
        KeywordMatcher({"blank": KeywordSet(terms=["转移就业", "  "])})


def test_hits_are_found_in_the_pages_own_characters_and_quoted_from_them():
    # ㎡ and ﬁ have several-character plain forms (m2, fi): they must not shift what is quoted.
    text = "面积１２㎡（ﬁ）：農牧民轉移就業６９．３３萬人，完成年度目标。\n下一段"
    matcher = KeywordMatcher({"labor_transfer": KeywordSet(terms=["农牧民转移就业"])})

    [hit] = matcher.find(text)

    assert hit.matched == "農牧民轉移就業"
    assert hit.context == "面积１２㎡（ﬁ）：農牧民轉移就業６９．３３萬人，完成年度目标。\n下一段"
    assert hit.sentence == "面积１２㎡（ﬁ）：農牧民轉移就業６９．３３萬人，完成年度目标。"
