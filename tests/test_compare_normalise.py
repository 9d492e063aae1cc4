"""normalise_text (stored/diffed form) and fold_for_matching (keyword-matching form)."""

import sys
import unicodedata
from pathlib import Path

from opencc import OpenCC

from crawler.compare.normalise import fold_cjk_variants, fold_for_matching, fold_width, normalise_text, tidy_text

TEXT = Path(__file__).parent / "files" / "text"
EXCERPTS = (TEXT / "xinjiang_tibet_labor_transfer_excerpts.md").read_text()


def test_normalise_drops_blank_lines_and_collapses_spaces_but_keeps_line_breaks():
    text = normalise_text(EXCERPTS)

    assert "\n\n" not in text
    assert "  " not in text
    assert "来源:新疆政府网 发布时间:2020年03月25日 11:31 浏览次数:" in text.splitlines()
    assert "您的位置: 首页 >> 政务公开 >> 法定主动公开内容 >> 基础信息公开 >> 自治区文件 >> 正文" in text


def test_normalise_turns_full_width_digits_and_ideographic_spaces_into_ascii():
    assert normalise_text("转移就业８２０００人次\u3000\u3000完成") == "转移就业82000人次 完成"


def test_fold_turns_the_traditional_tibet_report_into_simplified():
    traditional = next(line for line in EXCERPTS.splitlines() if line.startswith("本報拉薩"))

    folded = fold_for_matching(traditional)

    assert "农牧民转移就业69.33万人" in folded
    assert "西藏自治区人力资源和社会保障厅" in folded
    assert "轉" not in folded


def test_fold_matches_full_width_and_upper_case_latin():
    assert fold_for_matching("ＵＦＬＰＡ Entity List ８２，０００") == "uflpa entity list 82,000"


def test_fold_keeps_the_length_of_the_whole_corpus_excerpt_and_every_offset():
    folded = fold_for_matching(EXCERPTS)

    assert len(folded) == len(EXCERPTS)
    start = EXCERPTS.index("農牧民轉移就業69.33萬人")
    assert folded[start : start + len("农牧民转移就业69.33万人")] == "农牧民转移就业69.33万人"


def test_fold_maps_every_code_point_to_exactly_one_character():
    every_character = "".join(
        chr(code) for code in range(sys.maxunicode + 1) if not 0xD800 <= code <= 0xDFFF
    )

    folded = fold_for_matching(every_character)

    assert len(folded) == len(every_character)


def test_characters_whose_fold_would_change_length_keep_a_single_character_form():
    # NFKC: ㎡ -> "m2"; lower(): İ -> "i̇"; OpenCC lists two candidates for 乾 ("干 乾").
    assert fold_for_matching("㎡İ乾隆") == "㎡İ干隆"


def test_fold_is_the_same_character_by_character_and_on_the_whole_text():
    sample = EXCERPTS[:3000] + "ＡＢ㈠①ﬁ\U0002f800e\u0301"

    assert fold_for_matching(sample) == "".join(fold_for_matching(char) for char in sample)


def test_fold_passes_lone_surrogates_through():
    assert fold_for_matching("转\udc80移") == "转\udc80移"


def test_traditional_characters_fold_as_opencc_converts_them_one_by_one() -> None:
    """The fold reads OpenCC's character table directly; it must agree with OpenCC's own t2s
    converter on every CJK character (first candidate, one character for one)."""
    cjk = [chr(code) for start, stop in ((0x3400, 0xA000), (0xF900, 0xFB00), (0x20000, 0x2FA20)) for code in range(start, stop)]
    converted = OpenCC("t2s").convert("\n".join(cjk)).split("\n")
    expected = {char: candidates.split(" ")[0] for char, candidates in zip(cjk, converted, strict=True)}
    expected = {char: simplified if len(simplified) == 1 else char for char, simplified in expected.items()}
    assert fold_cjk_variants("".join(cjk)) == "".join(expected[char] for char in cjk)


PAGE_LINE = "2017年，我区（新疆）农村富余劳动力转移就业８２，０００人次：\u3000\u3000農牧民轉移就業"


def test_tidy_text_keeps_the_pages_own_characters_and_only_tidies_whitespace():
    assert tidy_text(f"  {PAGE_LINE}\n\n\t第二段 ") == (
        "2017年，我区（新疆）农村富余劳动力转移就业８２，０００人次： 農牧民轉移就業\n第二段"
    )


def test_normalised_text_is_the_same_whether_the_page_writes_full_width_or_half_width():
    half_width = "2017年,我区(新疆)农村富余劳动力转移就业82,000人次: 農牧民轉移就業"

    assert normalise_text(PAGE_LINE) == normalise_text(half_width) == half_width
    assert tidy_text(PAGE_LINE) != tidy_text(half_width)


def test_fold_width_changes_only_width_and_keeps_every_offset():
    folded = fold_width("浏览次数：１６３２，ＵＦＬＰＡ㎡ﬁ農")

    assert folded == "浏览次数:1632,UFLPA㎡ﬁ農"  # no case or script folding; ㎡ and ﬁ would grow


def test_fold_width_gives_every_character_its_one_character_nfkc_form():
    """The width table is built from the blocks of Unicode that may fold (most fold to
    themselves, checked a block at a time): every character must still get its own form."""
    every_character = "".join(chr(code) for code in range(0x30000) if not 0xD800 <= code <= 0xDFFF)
    one_by_one = "".join(form if len(form := unicodedata.normalize("NFKC", char)) == 1 else char
                         for char in every_character)

    assert fold_width(every_character + "\U000e0041") == one_by_one + "\U000e0041"


def test_a_short_text_folds_as_the_same_characters_do_in_a_page():
    """Terms and matches are folded one character at a time (building the page table costs a
    command a tenth of a second); every character must fold exactly as it does in a long text."""
    every_character = "".join(chr(code) for code in range(0x30000) if not 0xD800 <= code <= 0xDFFF) + "\U000e0041"
    in_pieces = "".join(fold_for_matching(every_character[at:at + 50]) for at in range(0, len(every_character), 50))
    assert in_pieces == fold_for_matching(every_character)
    assert fold_for_matching("農牧民轉移就業ＡＢＣ８２０００人次") == "农牧民转移就业abc82000人次"
