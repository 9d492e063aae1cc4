"""Issue 11: whatever a watchlist says, `docwatch validate` answers 0 (valid) or 2 (a clear list
of problems), never a traceback and never another exit code. Hundreds of watchlists generated
from a valid one by a seeded mutator (wrong types, huge numbers, deep nesting, bad regexes, URLs
and durations, unicode junk, deleted and duplicated keys, broken YAML), all validated by the real
command line entry point in one child process."""

from __future__ import annotations

import copy
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

VALID = """\
settings:
  user_agent: "docwatch (research; contact: you@example.org)"
  download_timeout: 60
  max_page_bytes: 8000000
defaults:
  interval: 6h
  keyword_sets: [labor_transfer, coercion]
keyword_sets:
  labor_transfer:
    description: Labor transfer vocabulary
    terms: [转移就业, 富余劳动力, labor transfer]
    patterns: ['转移就业[^。]{0,20}?\\d+(\\.\\d+)?万?人次?']
  coercion:
    terms: [内生动力, 军事化管理]
sources:
  - id: xj-rst-work-news
    name: 新疆人社厅 工作动态
    url: https://rst.xinjiang.gov.cn/xjrst/c112676/index.shtml
    type: listing
    follow: '/xjrst/c112676/\\d{6}/[0-9a-f]{32}\\.shtml$'
    pages: 3
    max_items: 50
    tags: [xinjiang, government]
    proxy: http://127.0.0.1:8118
    removal_confirmations: 2
  - id: ts-2017-highlights
    url: http://news.ts.cn/system/2018/01/09/035069521.shtml
    type: page
    cron: "0 6 * * *"
    selector: "div.article-content"
    ignore: ["div.related", 're:责任编辑[:：]\\S+']
    encoding: gb18030
    obey_robots: true
digest:
  when: "0 7 * * mon-fri"
  format: html
  output_dir: /tmp/docwatch-digests
  unreviewed: false
  email:
    host: smtp.example.org
    port: 587
    from: docwatch@example.org
    to: [researcher@example.org]
    starttls: true
"""

NESTED = [[[[[[[[[[["deep"]]]]]]]]]]]
JUNK = [
    None, True, False, 0, -1, 2**31, 10**30, 1.5, -0.0, float("inf"), float("nan"), "", "   ", "\t",
    "a{4294967296}", "x{1001}", "(" * 40 + "a" + ")" * 40, "(" * 40, "[", "re:(", "re:", "*", "(?P<x>a)(?P<x>b)",
    "http://[::1/x", "http://[::1", "http://a.gov.cn:99999/", "http://a.gov.cn:port/", "ftp://a.gov.cn/",
    "http://", "//a.gov.cn/x", "https://a.gov.cn/有 空格", "99999999999999999999d", "0s", "1y", "6h6h",
    "*/0 * * * *", "0 0 31 2 *", "99 99 99 99 99", "0 6 * * 99999999999", "0-99999999999 * * * *", "* * * * 0-7/0",
    "rot13", "utf-16", "gbk2312", "\x00", "\x1b[2J\x07", "\u202e\u2066反转", "转移就业" * 5000, "a" * 100_000,
    "div::", "div[", ":not(" * 300, ">>>", [], {}, [None], [[]], [{}], {"a": {"b": {"c": 1}}}, NESTED,
    ["转移就业", 5, None], {"terms": 3}, "~", "null", "yes", "0x1F", "1e309", "- a", "a: b", "{x}", "!!python/object:os.system",
    "/var/lib/\x00docwatch", "docwatch\r\nX-Injected: 1", "\ud800", "\U0010ffff", "\u0000" * 3,
]
REGEX_JUNK = ["a{4294967296}", "x{1001}", "(" * 40 + "a" + ")" * 40, "(" * 40, "[", "(?P<x>a)(?P<x>b)", "*", "\\",
              "(?<=a+)b", "a{2,1}", "[z-a]", "(?", "\\p{Han}", "re:(", "re:", "re:a{99999}"]
URL_JUNK = ["http://[::1/x", "http://[::1", "http://[::1]:99999/", "http://a.gov.cn:99999/", "http://a.gov.cn:port/",
            "ftp://a.gov.cn/", "http://", "//a.gov.cn/x", "https://a.gov.cn/有 空格", "http://[zz::1]/", "http://a.gov.cn:-1/",
            "http://\x00/", "https://转移.中国/", "http://a.gov.cn:8118"]
DURATION_JUNK = ["99999999999999999999d", "0s", "1s", "1y", "6h6h", "366d", "365d", "1d1s", "-1h", "1.5h", "ⅰh", "١h"]
CRON_JUNK = ["*/0 * * * *", "0 0 31 2 *", "99 99 99 99 99", "0 6 * * 99999999999", "0-99999999999 * * * *",
             "* * * * 0-7/0", "* * * * 7-0", "* * * *", "@daily", "0 6 * * mon-fri/0", "0 6 * * sun-sat/99999999999"]
CODEC_JUNK = ["rot13", "utf-16", "gbk2312", "\x00", "base64", "hex", "zip", "a" * 10_000, "idna", "mbcs"]
NUMBER_JUNK = [0, -1, 2**31, 2**63, 10**30, 1.5, float("inf"), float("nan"), "60", True]
FIELD_JUNK = {
    "follow": REGEX_JUNK, "patterns": REGEX_JUNK, "ignore": REGEX_JUNK, "url": URL_JUNK, "proxy": URL_JUNK,
    "interval": DURATION_JUNK, "cron": CRON_JUNK, "when": CRON_JUNK, "encoding": CODEC_JUNK, "pages": NUMBER_JUNK,
    "max_items": NUMBER_JUNK, "removal_confirmations": NUMBER_JUNK, "download_timeout": NUMBER_JUNK,
    "max_page_bytes": NUMBER_JUNK, "port": NUMBER_JUNK, "selector": ["div::", "div[", ":not(" * 300, ">>>", "#", "a:nth-child(99999999999999999999n)"],
}


def pick_path(rng: random.Random, document: dict) -> tuple:
    """A place in the document; more often one with a value to check (a regex, URL, duration…)."""
    places = [path for path, _ in paths(document) if path]
    checked = [path for path in places if any(isinstance(key, str) and key in FIELD_JUNK for key in path[-2:])]
    return rng.choice(checked if checked and rng.random() < 0.6 else places)


def junk_for(rng: random.Random, path: tuple) -> object:
    """Junk aimed at the field (a regex for `follow`, a URL for `proxy`…), or of any kind."""
    field = next((key for key in reversed(path) if isinstance(key, str)), "")
    pool = FIELD_JUNK.get(field) if rng.random() < 0.7 else None
    return copy.deepcopy(rng.choice(pool or JUNK))


DEEP_FLOW = "[" * 3000 + "]" * 3000  # deeper than Python's recursion limit
TEXT_JUNK = ["\t", ":", " #", "- ", "[", "{", "}", "]", "&a ", "*a", "!!binary ", "%YAML 1.1\n", "\x1b", "\u202e",
             "\ufeff", "'", '"', "|", ">", "? ", "\\", "\u3000", "：", "<<: *a\n"]


def paths(node, prefix=()):
    """Every (path, value) inside the YAML document, mappings and lists alike."""
    yield prefix, node
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        yield from paths(value, (*prefix, key))


def set_at(document, path, value):
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value


def delete_at(document, path):
    target = document
    for key in path[:-1]:
        target = target[key]
    del target[path[-1]]


def mutate(rng: random.Random, base: dict) -> str:
    """One mutation of the valid watchlist, as YAML text (possibly not YAML at all)."""
    kind = rng.choice(["junk", "junk", "junk", "delete", "rename", "wrap", "deep", "line", "text", "truncate"])
    if kind in ("line", "text", "truncate"):
        text = VALID
        lines = text.splitlines(keepends=True)
        if kind == "line":  # a duplicated key, a lost line, a tab, lines swapped
            at = rng.randrange(len(lines))
            operation = rng.choice(["duplicate", "delete", "tab", "swap"])
            if operation == "duplicate":
                lines.insert(at, lines[at])
            elif operation == "delete":
                del lines[at]
            elif operation == "tab":
                lines[at] = "\t" + lines[at]
            else:
                other = rng.randrange(len(lines))
                lines[at], lines[other] = lines[other], lines[at]
            return "".join(lines)
        if kind == "truncate":
            return text[: rng.randrange(len(text))]
        at = rng.randrange(len(text))
        return text[:at] + rng.choice(TEXT_JUNK + [DEEP_FLOW]) + text[at:]
    document = copy.deepcopy(base)
    path = pick_path(rng, document)
    if kind == "junk":
        for _ in range(rng.choice([1, 1, 2, 3])):  # some files carry several problems at once
            set_at(document, path, junk_for(rng, path))
            path = pick_path(rng, document)
    elif kind == "delete":
        delete_at(document, path)
    elif kind == "rename" and isinstance(path[-1], str):
        parent = document
        for key in path[:-1]:
            parent = parent[key]
        parent[rng.choice([path[-1].upper(), path[-1] + "s", "", "转移", 7, None, True])] = parent.pop(path[-1])
    elif kind == "wrap":
        _, value = next((p, v) for p, v in paths(document) if p == path)
        set_at(document, path, rng.choice([[value], {"value": value}, {path[-1] if isinstance(path[-1], str) else "x": value}]))
    else:  # deep: nesting far past any real watchlist
        value: object = "x"
        for _ in range(rng.choice([60, 200])):
            value = [value] if rng.random() < 0.5 else {"k": value}
        set_at(document, path, value)
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False, width=10**9)


# Runs in one child process: the real entry point, `docwatch --watchlist FILE validate`, per file.
VALIDATE_ALL = """
import contextlib, io, json, sys, traceback
from crawler.cli.main import main
for path in sys.argv[1:]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            main.main(["--watchlist", path, "validate"], prog_name="docwatch")
            code = 0
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else 1
        except BaseException:
            code, _ = "crash", traceback.print_exc()
    print(json.dumps({"path": path, "code": code, "output": out.getvalue()[-3000:]}))
"""

MUTATIONS = 400


@pytest.mark.e2e
def test_generated_watchlist_mutations_validate_to_0_or_2_without_a_traceback(tmp_path):
    rng = random.Random(20261201)
    base = yaml.safe_load(VALID)
    files = []
    for number in range(MUTATIONS):
        file = tmp_path / f"mutation-{number:03}.yaml"
        file.write_text(mutate(rng, base), "utf-8", errors="surrogatepass")
        files.append(file)
    (tmp_path / "valid.yaml").write_text(VALID, "utf-8")
    result = subprocess.run([sys.executable, "-c", VALIDATE_ALL, str(tmp_path / "valid.yaml"), *map(str, files)],
                            capture_output=True, text=True, timeout=120, cwd=Path(__file__).parent.parent,
                            env={**os.environ, "DOCWATCH_DATA_DIR": str(tmp_path / "data")})
    assert result.returncode == 0, result.stderr[-3000:]
    answers = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(answers) == MUTATIONS + 1 and answers[0]["code"] == 0, answers[0]
    wrong = [a for a in answers if a["code"] not in (0, 2) or "Traceback" in a["output"]]
    assert not wrong, f"{len(wrong)} wrong:\n" + "\n\n".join(f"{Path(a['path']).read_text('utf-8', errors='replace')[:500]}\n-> {a['code']}: {a['output']}" for a in wrong[:3])
    invalid = [a for a in answers if a["code"] == 2]
    assert len(invalid) >= MUTATIONS // 2  # the mutations do break things
    assert all(".yaml" in a["output"] for a in invalid)  # each problem names the file (and line)
