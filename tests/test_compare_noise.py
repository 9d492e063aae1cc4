"""strip_noise: visitor counters and generation times must not make a page look edited."""

import re
from pathlib import Path

import pytest

from crawler.compare.noise import strip_noise

TEXT = Path(__file__).parent / "files" / "text"
WANZAI = (TEXT / "wanzai.gov.cn_tjgb2022_article_header.txt").read_text()
ALSK_LINE = next(
    line
    for line in (TEXT / "xinjiang_tibet_labor_transfer_excerpts.md").read_text().splitlines()
    if "浏览次数" in line
)


def test_two_fetches_differing_in_counter_and_generation_time_hash_the_same():
    refetch = WANZAI.replace("访问量:1632", "访问量:1633").replace(
        "页面生成时间 2023-08-16 10:33:59", "页面生成时间 2023-10-11 14:34:31"
    )
    assert refetch != WANZAI

    assert strip_noise(refetch) == strip_noise(WANZAI)


def test_content_around_the_noise_is_kept():
    stripped = strip_noise(WANZAI)

    assert "1632" not in stripped and "10:33:59" not in stripped
    assert "访问量:" in stripped and "页面生成时间" in stripped
    assert "万载县2022年国民经济和社会发展统计公报" in stripped
    assert "2023-07-12" in stripped  # a date in the content is not a generation time


def test_a_real_edit_still_changes_the_text():
    edited = WANZAI.replace("万载县统计局", "宜春市统计局")

    assert strip_noise(edited) != strip_noise(WANZAI)


def test_empty_counter_and_filled_counter_give_the_same_line_and_keep_the_publication_time():
    assert ALSK_LINE == "来源:新疆政府网 发布时间:2020年03月25日 11:31 浏览次数:"
    filled = ALSK_LINE.replace("浏览次数:", "浏览次数: 12,345次")

    assert strip_noise(filled) == strip_noise(ALSK_LINE) == ALSK_LINE


@pytest.mark.parametrize(
    "label", ["浏览次数", "访问量", "点击数", "点击量", "阅读", "阅读量", "浏览量"]
)
def test_every_counter_label_is_stripped(label):
    assert strip_noise(f"发布时间:2020-03-25 {label}: 98 字体:大") == f"发布时间:2020-03-25 {label}: 字体:大"


def test_counter_followed_by_a_comma_is_stripped():
    assert strip_noise("访问量:1,632,发布时间:2023-08-16") == "访问量:,发布时间:2023-08-16"


def test_a_year_after_a_reading_label_is_content_not_a_counter():
    heading = "延伸阅读:2023年新疆农村劳动力转移就业"

    assert strip_noise(heading) == heading


def test_the_sources_own_patterns_are_removed_whole():
    sidebar = re.compile(r"关联稿件:\n")

    assert "关联稿件" not in strip_noise(WANZAI, [sidebar])
    assert strip_noise(WANZAI, [sidebar]).count("\n") == WANZAI.count("\n") - 1


def test_uncompiled_pattern_is_refused_with_a_clear_message():
    with pytest.raises(TypeError, match="re.compile"):
        strip_noise(WANZAI, ["关联稿件"])


def test_full_width_counters_and_times_are_removed_from_the_pages_own_characters():
    page = "发布时间：2018-01-09 来源：新疆日报 浏览次数：１６３２ 次\n页面生成时间 ２０１８-01-09 11：33：00"

    assert strip_noise(page) == "发布时间：2018-01-09 来源：新疆日报 浏览次数：\n页面生成时间 "
    assert strip_noise(page, [re.compile(r"来源:\S+ ")]) == "发布时间：2018-01-09 浏览次数：\n页面生成时间 "
