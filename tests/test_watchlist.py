"""The watchlist: the shipped file is valid, and every kind of mistake is reported at its line."""

import re
import textwrap
from pathlib import Path

import pytest

from crawler.config.watchlist import (
    Problem,
    WatchlistError,
    load_watchlist,
    parse_interval,
    parse_watchlist,
    regex_bound_problem,
)

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "watchlist.yaml"
FIXTURES = Path(__file__).resolve().parent / "files" / "watchlists"

MARKER = "# <-"


def marked_line(text: str) -> int:
    """1-based number of the line carrying the `# <-` marker: where the problem must be reported."""
    lines = [number for number, line in enumerate(text.splitlines(), start=1) if MARKER in line]
    assert len(lines) == 1, "each case marks exactly one line"
    return lines[0]


def problems_of(text: str) -> list[Problem]:
    with pytest.raises(WatchlistError) as caught:
        parse_watchlist(text, "watchlist.yaml")
    return caught.value.problems


HEAD = """\
keyword_sets:
  labor_transfer:
    terms: [转移就业, 富余劳动力]
    patterns: ['\\d+(\\.\\d+)?万人次']
  monitoring:
    terms: [失业监测预警]
"""


def source(body: str, source_id: str = "xj-rst") -> str:
    """HEAD plus one source whose extra lines are `body`."""
    return HEAD + textwrap.dedent("""\
        sources:
          - id: {source_id}
            url: https://rst.xinjiang.gov.cn/xjrst/c112676/list.shtml
            type: listing
        """).format(source_id=source_id) + textwrap.indent(textwrap.dedent(body), "    ")


# (case, watchlist text with the offending line marked, source id, field, text the report must contain)
BAD_CASES = [
    ("unknown key", source("folow: '/\\d{6}/'  # <-"), "xj-rst", "folow", "did you mean 'follow'?"),
    ("wrong type", source("pages: two  # <-"), "xj-rst", "pages", "expected a whole number"),
    ("text instead of list", source("tags: xinjiang  # <-"), "xj-rst", "tags", "write it as a list: [xinjiang]"),
    ("boolean instead of text", source("name: yes  # <-"), "xj-rst", "name", "put the value in quotes"),
    ("bad follow regex", source("follow: '/(\\d{6}/'  # <-"), "xj-rst", "follow",
     "not a valid regular expression: missing ), unterminated subpattern"),
    ("bad interval", source("interval: 6 hours  # <-"), "xj-rst", "interval", "'6 hours' is not a duration"),
    ("interval too short", source("interval: 1s  # <-"), "xj-rst", "interval", "minimum of 2s"),
    ("interval without unit", source("interval: 30  # <-"), "xj-rst", "interval", "write e.g. '30s', '30m' or '30h'"),
    ("bad cron", source("cron: '0 25 * * *'  # <-"), "xj-rst", "cron", "not a valid crontab expression"),
    ("cron with six fields", source("cron: '0 0 6 * * *'  # <-"), "xj-rst", "cron", "Wrong number of fields"),
    ("interval and cron", source("interval: 6h\ncron: '0 6 * * *'  # <-"), "xj-rst", "cron",
     "either 'interval' or 'cron', not both"),
    ("missing keyword set", source("keyword_sets: [labor_transfer, monitorin]  # <-"), "xj-rst", "keyword_sets",
     "no keyword set named 'monitorin' — did you mean 'monitoring'?"),
    ("bad CSS selector", source("selector: 'div.content >'  # <-"), "xj-rst", "selector", "not a valid CSS selector"),
    ("bad ignore selector", source("ignore:\n  - '.share'\n  - 'div[class='  # <-"), "xj-rst", "ignore",
     "item 2: 'div[class=' is not a valid CSS selector"),
    ("bad ignore regex", source("ignore: ['re:浏览次数(\\d+']  # <-"), "xj-rst", "ignore",
     "not a valid regular expression"),
    ("page text given as ignore selector", source("ignore: ['浏览次数：']  # <-"), "xj-rst", "ignore",
     "write it as a regex: 're:浏览次数：'"),
    ("bad encoding", source("encoding: gb2313  # <-"), "xj-rst", "encoding", "not an encoding Python knows"),
    ("proxy without port", source("proxy: http://127.0.0.1  # <-"), "xj-rst", "proxy", "has no port"),
    ("zero removal confirmations", source("removal_confirmations: 0  # <-"), "xj-rst", "removal_confirmations",
     "must be at least 1"),
    ("unknown OCR language", source("ocr_languages: [chi_sim, uyghur]  # <-"), "xj-rst", "ocr_languages",
     "item 2: 'uyghur' is not one of: chi_sim, chi_tra, uig, bod, eng"),
    ("no OCR language", source("ocr_languages: []  # <-"), "xj-rst", "ocr_languages", "e.g. [chi_sim]"),
    ("setting in a source", source("user_agent: docwatch  # <-"), "xj-rst", "user_agent", "put it under 'settings:'"),
    ("bad id", source("", source_id="XJ RST  # <-"), None, "id", "e.g. 'xj-rst'"),
    ("follow on a page source",
     HEAD + "sources:\n  - id: ts-article\n    url: https://www.ts.cn/xwzx/szxw/202401/t20240130_18902930.shtml\n"
            "    type: page\n    follow: 't\\d{8}'  # <-\n",
     "ts-article", "follow", "'follow' only applies to listing sources"),
    ("relative url",
     HEAD + "sources:\n  - id: xj-rst\n    url: rst.xinjiang.gov.cn/xjrst/  # <-\n    type: page\n",
     "xj-rst", "url", "e.g. 'https://rst.xinjiang.gov.cn/xjrst/'"),
    ("unknown type",
     HEAD + "sources:\n  - id: xj-rst\n    url: https://rst.xinjiang.gov.cn/\n    type: lisitng  # <-\n",
     "xj-rst", "type", "did you mean 'listing'?"),
    ("missing url",
     HEAD + "sources:\n  - id: xj-rst  # <-\n    type: page\n",
     "xj-rst", "url", "missing required key 'url'"),
    ("duplicate id",
     HEAD + "sources:\n  - id: xj-rst\n    url: https://rst.xinjiang.gov.cn/\n    type: page\n"
            "  - id: xj-rst  # <-\n    url: https://rst.xinjiang.gov.cn/xjrst/\n    type: page\n",
     "xj-rst", "id", "used twice (lines 8 and 11)"),
    ("repeated key in one source", source("pages: 2\npages: 3  # <-"), None, "pages", "appears twice"),
    ("bad keyword pattern",
     "keyword_sets:\n  labor_transfer:\n    patterns:\n      - '转移就业\\d+'\n      - '[万人次'  # <-\n"
     "sources:\n  - {id: a, url: 'https://a.example/', type: page}\n",
     None, "keyword_sets.labor_transfer.patterns", "unterminated character set"),
    ("named pattern with a misspelt key",
     "keyword_sets:\n  labor_transfer:\n    patterns:\n      - {name: quota, patern: '转移就业\\d+'}  # <-\n"
     "sources:\n  - {id: a, url: 'https://a.example/', type: page}\n",
     None, "keyword_sets.labor_transfer.patterns", "a named pattern needs exactly 'name' and 'pattern'"),
    ("keyword set as a plain list",
     "keyword_sets:\n  labor_transfer: [转移就业]  # <-\nsources:\n  - {id: a, url: 'https://a.example/', type: page}\n",
     None, "keyword_sets.labor_transfer.", "put the words under 'terms:'"),
    ("empty keyword set",
     "keyword_sets:\n  labor_transfer:  # <-\n    description: nothing yet\n"
     "sources:\n  - {id: a, url: 'https://a.example/', type: page}\n",
     None, "keyword_sets.labor_transfer.terms", "has neither terms nor patterns"),
    ("source key in defaults", HEAD + "defaults:\n  follow: 'x'  # <-\nsources: []\n", None, "defaults.follow",
     "'follow' is set on each source, not in defaults"),
    ("unknown settings key", HEAD + "settings:\n  user_agnet: x  # <-\n", None, "settings.user_agnet",
     "did you mean 'user_agent'?"),
    ("settings value of the wrong type", HEAD + "settings:\n  download_timeout: 30s  # <-\n", None,
     "settings.download_timeout", "expected a whole number"),
    ("unknown digest key", source("") + "digest:\n  output_dir: /tmp\n  daily: true  # <-\n", None, "digest.daily",
     "unknown key 'daily'"),
    ("bad digest schedule", source("") + "digest:\n  when: '0 7 * *'  # <-\n  output_dir: /tmp\n", None,
     "digest.when", "not a valid crontab expression"),
    ("digest going nowhere", source("") + "digest:  # <-\n  when: '0 7 * *'\n", None, "digest",
     "neither where to write the digest nor whom to send it"),
    ("source key at top level", source("") + "interval: 6h  # <-\n", None, "interval", "under 'defaults:'"),
    ("YAML syntax error", source("name: 新疆人社厅: 通知  # <-"), None, "", "YAML syntax error"),
    ("tab indentation", HEAD + "sources:\n\t- id: a  # <-\n", None, "", "spaces, not tabs"),
    # Issue 11: each of these used to end in a traceback (or, for the interval, in the daemon dying).
    ("repetition count overflowing re", source("follow: 'a{4294967296}'  # <-"), "xj-rst", "follow",
     "repeats more than 1000 times ({4294967296})"),
    ("huge repetition in a pattern",
     "keyword_sets:\n  labor_transfer:\n    patterns: ['转移就业\\d{1,99999}人']  # <-\n"
     "sources:\n  - {id: a, url: 'https://a.example/', type: page}\n",
     None, "keyword_sets.labor_transfer.patterns", "repeats more than 1000 times"),
    ("40 nested groups", source("follow: '" + "(" * 40 + "a" + ")" * 40 + "'  # <-"), "xj-rst", "follow",
     "nests groups more than 20 deep"),
    ("40 open parentheses", source("follow: '" + "(" * 40 + "a'  # <-"), "xj-rst", "follow",
     "nests groups more than 20 deep"),
    ("regex too long", source("ignore: ['re:" + "浏览次数" * 300 + "']  # <-"), "xj-rst", "ignore", "longer than 1000 characters"),
    ("unclosed IPv6 url", HEAD + 'sources:\n  - id: xj-rst\n    url: "http://[::1/x"  # <-\n    type: page\n',
     "xj-rst", "url", "'http://[::1/x' is not a valid URL: Invalid IPv6 URL"),
    ("unclosed IPv6 proxy", source('proxy: "http://[::1"  # <-'), "xj-rst", "proxy", "is not a valid URL"),
    ("port out of range", source('proxy: "http://127.0.0.1:99999"  # <-'), "xj-rst", "proxy", "Port out of range"),
    ("interval of centuries", source("interval: 99999999999999999999d  # <-"), "xj-rst", "interval",
     "longer than the maximum of a year (365d)"),
    ("count overflowing C ints", source("pages: 99999999999999999999  # <-"), "xj-rst", "pages", "must be at most 2147483647"),
    ("weekday out of range", source("cron: '0 6 * * 0-99999999999'  # <-"), "xj-rst", "cron", "is not a day of the week"),
    ("weekday step of zero", source("cron: '0 6 * * 1-5/0'  # <-"), "xj-rst", "cron", "not a whole number of days"),
    ("codec that is not a text encoding", source("encoding: rot13  # <-"), "xj-rst", "encoding", "not an encoding Python knows"),
    ("NUL as an encoding", source('encoding: "\\0"  # <-'), "xj-rst", "encoding", "not an encoding Python knows"),
    ("deeply nested YAML", source("tags: " + "[" * 5000 + "]" * 5000 + "  # <-"), None, "", "nested more than 50 levels deep"),
    ("line break in the user agent", HEAD + 'settings:\n  user_agent: "docwatch\\r\\nX-Injected: 1"  # <-\n', None,
     "settings.user_agent", "contains a control character"),
    ("NUL in the data directory", HEAD + 'settings:\n  data_dir: "/var/lib/\\0docwatch"  # <-\n', None,
     "settings.data_dir", "contains a control character"),
    ("control character in YAML", source("name: 新疆\x1b[2J人社厅  # <-"), None, "", "character #x001b is not allowed"),
]


@pytest.mark.parametrize(("text", "source_id", "field", "expected"),
                         [case[1:] for case in BAD_CASES], ids=[case[0] for case in BAD_CASES])
def test_each_mistake_is_reported_at_its_line(text: str, source_id: str | None, field: str, expected: str) -> None:
    line = marked_line(text)
    problems = problems_of(text)
    matching = [p for p in problems if p.line == line and p.field == field and p.source_id == source_id]
    assert matching, f"no problem for {field!r} at line {line}; got {problems}"
    assert any(expected in f"{p.message} — {p.hint}" for p in matching), matching


def test_report_reads_as_one_line_per_problem_with_file_line_source_and_suggestion() -> None:
    text = source("folow: '/\\d{6}/'\ninterval: 6 hours")
    with pytest.raises(WatchlistError) as caught:
        parse_watchlist(text, "watchlist.yaml")
    assert str(caught.value).splitlines() == [
        "watchlist.yaml:11: source 'xj-rst': unknown key 'folow' — did you mean 'follow'?",
        "watchlist.yaml:12: source 'xj-rst': interval: '6 hours' is not a duration: write a number with a unit "
        "(s, m, h, d, w), e.g. 30s, 15m, 6h, 1d, 2w or 1h30m",
    ]
    assert caught.value.path == "watchlist.yaml"


def test_every_problem_in_a_file_is_reported_not_only_the_first() -> None:
    path = FIXTURES / "many_problems.yaml"
    expected = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if match := re.search(r"# expect: (.+)$", line):
            expected |= {(number, field.strip()) for field in match.group(1).split(",")}
    with pytest.raises(WatchlistError) as caught:
        load_watchlist(path)
    assert {(p.line, p.field) for p in caught.value.problems} == expected
    lines = str(caught.value).splitlines()
    assert len(lines) == len(caught.value.problems)
    assert all(line.startswith(f"{path}:") for line in lines)


def test_a_source_without_id_is_named_by_its_position() -> None:
    problems = problems_of(HEAD + "sources:\n  - url: https://rst.xinjiang.gov.cn/\n")
    assert {(p.field, p.line) for p in problems} == {("id", 8), ("type", 8)}
    assert all(p.source_id is None and p.message.startswith("source #1: ") for p in problems)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "the watchlist is empty"),
        ("# only a comment\n", "only comments"),
        ("- id: a\n", "must be a mapping with a 'sources' list"),
        ("keyword_sets: {a: {terms: [x]}}\n", "no sources"),
        ("sources: []\n", "the 'sources' list is empty"),
        ("sources: {id: a}\n", "must be a list"),
    ],
    ids=["empty", "comments only", "top-level list", "no sources key", "empty sources", "sources as mapping"],
)
def test_a_watchlist_without_sources_is_refused(text: str, expected: str) -> None:
    assert any(expected in p.message for p in problems_of(text))


def test_missing_file_gives_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.yaml"
    with pytest.raises(WatchlistError) as caught:
        load_watchlist(path)
    assert str(caught.value).startswith(f"{path}: file not found")


def test_empty_file_gives_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.yaml"
    path.write_bytes(b"")
    with pytest.raises(WatchlistError, match="empty"):
        load_watchlist(path)


def test_file_saved_in_gbk_is_refused_with_a_hint(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.yaml"
    path.write_bytes(source("name: 新疆人社厅").encode("gbk"))
    with pytest.raises(WatchlistError, match="save the file as UTF-8"):
        load_watchlist(path)


def test_file_with_byte_order_mark_loads(tmp_path: Path) -> None:
    path = tmp_path / "watchlist.yaml"
    path.write_bytes(source("name: 新疆人社厅").encode("utf-8-sig"))
    assert load_watchlist(path).source("xj-rst").name == "新疆人社厅"


DEFAULTS_CASE = HEAD + """\
defaults:
  interval: 1d
  keyword_sets: [labor_transfer]
  ignore: ['re:浏览次数\\d+', '.bdsharebuttonbox']
  obey_robots: false
  encoding: GBK
sources:
  - id: inherits
    url: https://rst.xinjiang.gov.cn/xjrst/c112676/list.shtml
    type: listing
  - id: overrides
    url: https://www.ts.cn/xwzx/szxw/
    type: listing
    interval: 1h30m
    keyword_sets: [monitoring]
    ignore: ['.share']
    obey_robots: true
    pages: 3
  - id: cron-replaces-default-interval
    url: https://www.ts.cn/xwzx/szxw/202401/t20240130_18902930.shtml
    type: page
    cron: '0 6 * * mon-fri'
"""


def test_defaults_apply_to_sources_that_do_not_set_the_key() -> None:
    inherits = parse_watchlist(DEFAULTS_CASE).source("inherits")
    assert inherits.interval == 86400
    assert inherits.keyword_sets == ("labor_transfer",)
    assert inherits.ignore_regex == ("浏览次数\\d+",)
    assert inherits.ignore_css == (".bdsharebuttonbox",)
    assert inherits.obey_robots is False
    assert inherits.encoding == "gbk"


def test_a_source_overrides_the_defaults() -> None:
    overrides = parse_watchlist(DEFAULTS_CASE).source("overrides")
    assert overrides.interval == 5400
    assert overrides.keyword_sets == ("monitoring",)
    assert (overrides.ignore_css, overrides.ignore_regex) == ((".share",), ())
    assert overrides.obey_robots is True
    assert overrides.pages == 3
    assert overrides.schedule_description == "every 1h30m"


def test_a_source_cron_replaces_the_default_interval() -> None:
    by_cron = parse_watchlist(DEFAULTS_CASE).source("cron-replaces-default-interval")
    assert (by_cron.interval, by_cron.cron) == (None, "0 6 * * mon-fri")
    assert by_cron.schedule_description == "cron '0 6 * * mon-fri'"


def test_built_in_defaults_when_nothing_is_set() -> None:
    watchlist = parse_watchlist(source(""))
    plain = watchlist.source("xj-rst")
    assert (plain.interval, plain.pages, plain.max_items, plain.obey_robots, plain.removal_confirmations) == (
        6 * 3600, 1, 50, True, 2)
    assert plain.keyword_sets == ("labor_transfer", "monitoring")
    assert set(plain.keyword_sets) <= set(watchlist.keyword_sets)
    assert watchlist.settings.user_agent is None
    assert plain.ocr_languages == ("chi_sim",)
    tibet = parse_watchlist(source("ocr_languages: [bod, chi_sim, bod]")).source("xj-rst")
    assert tibet.ocr_languages == ("bod", "chi_sim")  # in the order given, each once


def test_an_empty_keyword_sets_list_means_archive_only() -> None:
    archive_only = parse_watchlist(source("keyword_sets: []")).source("xj-rst")
    assert archive_only.keyword_sets == ()


def test_asking_for_an_unknown_source_lists_the_known_ones() -> None:
    watchlist = parse_watchlist(DEFAULTS_CASE)
    with pytest.raises(KeyError) as caught:
        watchlist.source("overide")
    assert str(caught.value) == (
        "no source 'overide' in <string>; did you mean 'overrides'? "
        "known sources: inherits, overrides, cron-replaces-default-interval"
    )


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("15m", 900), ("6h", 21600), ("1d", 86400), ("1h30m", 5400), ("1d 12h", 129600), ("2s", 2),
     ("2w", 14 * 86400), ("6H", 21600)],
)
def test_parse_interval(text: str, seconds: int) -> None:
    assert parse_interval(text) == seconds


@pytest.mark.parametrize("text", ["", "6", "h", "6 hours", "30m1h", "-5m", "1s", "1.5h"])
def test_parse_interval_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration|minimum of 2s"):
        parse_interval(text)


# ---------------------------------------------------------------------------------------------
# The shipped watchlist.yaml


@pytest.fixture(scope="module")
def shipped():
    return load_watchlist(SHIPPED)


def test_shipped_watchlist_watches_xinjiang_and_tibet_lists_and_pages(shipped) -> None:
    for region in ("xinjiang", "tibet"):
        kinds = {s.type for s in shipped.sources if region in s.tags}
        assert kinds == {"page", "listing"}, region
    assert all(s.follow for s in shipped.sources if s.type == "listing")
    assert set(shipped.keyword_sets) == {"labor_transfer", "coercion", "monitoring", "english"}


@pytest.mark.parametrize(
    ("sentence", "figure"),
    [
        # http://news.ts.cn/system/2018/01/09/035069521.shtml
        ("农村富余劳动力累计转移就业275万人次,完成年度目标的106%。", "275万人次"),
        ("2017年全区整建制转移内地企业就业20859人,完成年度目标任务的104%。", "104%"),
        # http://news.ts.cn/system/2019/07/19/035791316.shtml
        ("共帮助全区农村富余劳动力实现转移就业175.62万人次,完成年度目标任务的65%", "175.62万人次"),
        ("今年上半年,全区开展各类就业培训达74.31万人次", "74.31万人次"),
        # http://xz.people.com.cn/BIG5/n2/2022/0127/c138901-35115209.html (traditional characters)
        ("農牧民轉移就業69.33萬人、實現勞務收入58.1億元", "69.33萬人"),
        # http://tibet.cn/cn/news/zx/202005/t20200513_6776928.html
        ("截至5月7日,全区农牧民转移就业19.7万人,完成年度目标的32.9%", "19.7万人"),
        # full-width digits, as some pages print them
        ("转移就业８２０００人次", "８２０００人次"),
    ],
)
def test_shipped_patterns_catch_quota_figures_in_real_reports(shipped, sentence: str, figure: str) -> None:
    found = [match.group(0) for pattern in shipped.keyword_sets["labor_transfer"].patterns
             for match in re.finditer(pattern, sentence)]
    assert any(figure in text for text in found), found


def test_shipped_listings_follow_the_articles_of_their_column(shipped) -> None:
    """Each example article under a listing's directory must be picked up by that listing's `follow`."""
    checked = 0
    for listing in (s for s in shipped.sources if s.type == "listing"):
        column = listing.url.rsplit("/", 1)[0] + "/"
        for page in (s for s in shipped.sources if s.type == "page" and s.url.startswith(column)):
            assert re.search(listing.follow, page.url), (listing.id, page.url)
            assert not re.search(listing.follow, listing.url), listing.id
            checked += 1
    assert checked >= 8


@pytest.mark.parametrize(("pattern", "problem"), [
    ("/xjrst/c112676/\\d{6}/[0-9a-f]{32}\\.shtml$", None),
    ("转移就业[^。]{0,20}?\\d+(\\.\\d+)?万?人次?", None),
    ("\\(" * 40 + "x" + "\\)" * 40, None),  # escaped parentheses are characters, not groups
    ("[(]" * 40, None),  # so are parentheses in a character class
    ("[]({]" * 40 + "\\{5000\\}", None),  # and braces there or escaped
    ("[^](]" * 40 + "[^]]{5}", None),  # a ] first in a class, negated or not, does not close it
    ("x{1000}", None),
    ("x{1001}", "repeats more than 1000 times ({1001})"),
    ("x{2,5000}", "repeats more than 1000 times ({2,5000})"),
    ("(" * 21 + ")" * 21, "nests groups more than 20 deep"),
    ("(a)" * 100, None),  # many groups side by side are fine
])
def test_regexes_are_bounded_in_size_nesting_and_repetition(pattern: str, problem: str | None) -> None:
    assert regex_bound_problem(pattern) == problem
