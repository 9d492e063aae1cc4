"""diff_texts and render_terminal on real report text and on two real captures of one page."""

from pathlib import Path

from crawler.compare.diff import CharOp, diff_texts, render_terminal
from crawler.compare.normalise import normalise_text
from crawler.compare.sentences import split_sentences

TEXT = Path(__file__).parent / "files" / "text"
EXCERPTS = normalise_text((TEXT / "xinjiang_tibet_labor_transfer_excerpts.md").read_text())
# 天山网 2018-01-09: three paragraphs of the 2017 labour-transfer report.
REPORT = "\n".join(
    line
    for line in EXCERPTS.splitlines()
    if line.startswith(("2017年,我区多部门联动", "我区有序扩大转移内地就业规模", "据悉,今后"))
)
ADDED = "要激发内生动力,转变就业观念。"


def edited_report() -> str:
    return REPORT.replace("20859人", "21859人").replace(
        "完成年度目标任务的104%。", "完成年度目标任务的104%。" + ADDED
    )


def test_edited_figure_is_a_changed_sentence_with_the_number_replaced_whole():
    diff = diff_texts(REPORT, edited_report())

    [change] = diff.changed
    assert change.old == "2017年全区整建制转移内地企业就业20859人,完成年度目标任务的104%。"
    assert change.new == "2017年全区整建制转移内地企业就业21859人,完成年度目标任务的104%。"
    assert [op for op in change.ops if op.tag != "equal"] == [CharOp("replace", "20859", "21859")]
    assert "".join(op.old for op in change.ops) == change.old
    assert "".join(op.new for op in change.ops) == change.new


def test_new_sentence_is_added_and_nothing_is_removed():
    diff = diff_texts(REPORT, edited_report())

    assert diff.added == [ADDED]
    assert diff.removed == []
    assert not diff.is_empty
    assert 0.9 < diff.similarity < 1.0


def test_deleted_paragraph_is_removed_sentence_by_sentence():
    without_outlook = "\n".join(line for line in REPORT.splitlines() if not line.startswith("据悉"))

    diff = diff_texts(REPORT, without_outlook)

    assert diff.removed == [
        "据悉,今后,我区将通过有组织转移内地企业就业、疆内跨地区转移就业和就地就近就业3种渠道,"
        "确保贫困家庭劳动力稳定就业,实现稳定脱贫。"
    ]
    assert diff.added == [] and diff.changed == []


def test_unrelated_rewrite_is_not_paired_as_an_edit():
    tibet = next(line for line in EXCERPTS.splitlines() if line.startswith("拉萨市转移就业"))

    diff = diff_texts(REPORT, tibet)

    assert diff.changed == []
    assert diff.removed == split_sentences(REPORT)
    assert diff.added == split_sentences(tibet)
    assert diff.similarity < 0.2


def test_the_two_real_captures_of_the_paper_article_differ_by_one_space():
    capture2 = (TEXT / "thepaper.cn_newsDetail_4150096_capture2.txt").read_text()
    capture4 = (TEXT / "thepaper.cn_newsDetail_4150096_capture4.txt").read_text()

    diff = diff_texts(capture2, capture4)

    assert diff.added == [] and diff.removed == []
    [change] = diff.changed
    assert change.old == "2019-08-13 14:07来源:澎湃新闻·澎湃号·政务"
    assert [op for op in change.ops if op.tag != "equal"] == [CharOp("insert", "", " ")]
    assert diff.similarity > 0.99


def test_same_text_is_an_empty_diff():
    diff = diff_texts(REPORT, REPORT)

    assert diff.is_empty and diff.similarity == 1.0
    assert render_terminal(diff, colour=False) == "no changes"
    assert diff_texts("", "").similarity == 1.0


def test_plain_rendering_marks_edits_inline_and_lists_added_sentences():
    rendered = render_terminal(diff_texts(REPORT, edited_report()), colour=False)

    assert rendered.splitlines() == [
        rendered.splitlines()[0],
        "~ 2017年全区整建制转移内地企业就业[-20859-]{+21859+}人,完成年度目标任务的104%。",
        "+ " + ADDED,
    ]
    assert rendered.splitlines()[0].startswith("similarity 9")
    assert "1 edited, 1 added, 0 removed" in rendered


def test_colour_rendering_uses_red_and_green():
    rendered = render_terminal(diff_texts(REPORT, edited_report()), colour=True)

    assert "\x1b[31m20859\x1b[0m\x1b[32m21859\x1b[0m" in rendered
    assert f"\x1b[32m+ {ADDED}\x1b[0m" in rendered
    assert "[-" not in rendered


def test_page_text_cannot_send_terminal_escape_sequences():
    hostile = REPORT + "\n清屏\x1b[2J\u202e反转。"

    rendered = render_terminal(diff_texts(REPORT, hostile), colour=True)

    assert "\x1b[2J" not in rendered and "\u202e" not in rendered
    assert "清屏\ufffd[2J\ufffd反转。" in rendered


def test_page_edited_in_every_sentence_is_reported_as_removed_and_added_without_pairing():
    # 250 x 250 candidate pairs exceeds the pairing budget: a whole-page rewrite must not
    # cost a quadratic number of character comparisons.
    sentences = (split_sentences(EXCERPTS) * 3)[:250]
    old = "\n".join(f"第{number}条:{sentence}" for number, sentence in enumerate(sentences))
    new = "\n".join(f"第{number + 1}条:{sentence}" for number, sentence in enumerate(sentences))

    diff = diff_texts(old, new)

    assert diff.changed == []
    assert len(diff.removed) == len(diff.added) == 250


def test_a_switch_between_full_width_and_half_width_is_no_change():
    half_width = "农村富余劳动力累计转移就业275万人次,完成年度目标的106%。"

    assert diff_texts(half_width, "农村富余劳动力累计转移就业２７５万人次，完成年度目标的１０６％。").is_empty


def test_an_edit_is_quoted_in_each_versions_own_characters():
    old = "2017年全区整建制转移内地企业就业２０８５９人，完成年度目标任务的104%。"
    new = "2017年全区整建制转移内地企业就业２１８５９人，完成年度目标任务的104%。"

    diff = diff_texts(old, new)

    [change] = diff.changed
    assert (change.old, change.new) == (old, new)
    assert render_terminal(diff, colour=False).endswith(
        "~ 2017年全区整建制转移内地企业就业[-２０８５９-]{+２１８５９+}人，完成年度目标任务的104%。"
    )


def test_unchanged_stretches_of_an_edited_sentence_read_as_the_page_writes_them_now():
    # The previous snapshot was stored normalised (by an older version): only the figure changed.
    old = "2017年全区整建制转移内地企业就业20859人,完成年度目标任务的104%。"

    diff = diff_texts(old, "2017年全区整建制转移内地企业就业21859人，完成年度目标任务的104%。")

    assert render_terminal(diff, colour=False).endswith("就业[-20859-]{+21859+}人，完成年度目标任务的104%。")
