"""The checked watchlist kept in the cache folder (crawler/config/watchlist_cache.py): a command
reads it instead of checking 500 sources again, but only for the very bytes it was made from, and
a bad watchlist is reported exactly as without it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from crawler.config.watchlist import WatchlistError, load_watchlist, parse_watchlist
from crawler.config.watchlist_cache import entry_path
from tests.conftest import run_docwatch
from tests.test_watchlist_mutations import VALID

ROOT = Path(__file__).resolve().parent.parent
# Every kind of value the model holds: defaults, tuples in tuples (named patterns), settings, a
# cron source, ignore rules of both kinds, a digest with email and a folder under ~.
EVERYTHING = VALID.replace("output_dir: /tmp/docwatch-digests", "output_dir: ~/digests").replace(
    "    patterns: ['转移就业", "    patterns: [{name: quota, pattern: '\\d+万人'}, '转移就业")


def write(folder: Path, text: str) -> Path:
    path = folder / "watchlist.yaml"
    path.write_text(text, "utf-8")
    return path


def entry_of(path: Path) -> tuple[dict, bytes]:
    header, _, payload = entry_path(path).read_bytes().partition(b"\n")
    return json.loads(header), payload


def test_a_checked_watchlist_is_kept_and_read_back_as_the_same_watchlist(tmp_path):
    path = write(tmp_path, EVERYTHING)
    parsed = load_watchlist(path)
    assert parsed.keyword_sets["labor_transfer"].pattern_names == (("\\d+万人", "quota"),)
    assert parsed.digest.output_dir == Path.home() / "digests" and parsed.digest.email.recipients
    assert entry_path(path).exists()
    assert load_watchlist(path) == parsed == parse_watchlist(EVERYTHING, str(path))


def test_the_entry_is_json_in_the_cache_folder_named_by_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCWATCH_CACHE_DIR", str(tmp_path / "cache"))
    path = write(tmp_path, EVERYTHING)
    load_watchlist(path)
    (entry,) = (tmp_path / "cache").iterdir()
    header, payload = entry_of(path)
    assert entry == entry_path(path) and header["format"] == "docwatch-watchlist-cache/1"
    assert json.loads(payload)["sources"][0][0] == "xj-rst-work-news"


def test_a_changed_file_is_read_again_even_with_the_same_size_and_time(tmp_path):
    path = write(tmp_path, EVERYTHING)
    load_watchlist(path)
    before = path.stat()
    path.write_text(EVERYTHING.replace("pages: 3", "pages: 4"), "utf-8")  # same length
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size and path.stat().st_mtime_ns == before.st_mtime_ns
    assert load_watchlist(path).source("xj-rst-work-news").pages == 4


def test_a_watchlist_made_bad_is_reported_exactly_as_without_the_cache(tmp_path):
    path = write(tmp_path, EVERYTHING)
    load_watchlist(path)
    bad = EVERYTHING.replace("pages: 3", "pages: x")
    path.write_text(bad, "utf-8")
    with pytest.raises(WatchlistError) as cached:
        load_watchlist(path)
    with pytest.raises(WatchlistError) as uncached:
        parse_watchlist(bad, str(path))
    assert str(cached.value) == str(uncached.value) and f"{path}:" in str(cached.value)
    # and the good version's entry is not served for the bad bytes a second time either
    with pytest.raises(WatchlistError):
        load_watchlist(path)


def test_an_entry_edited_by_hand_or_cut_short_is_not_served(tmp_path):
    path = write(tmp_path, EVERYTHING)
    load_watchlist(path)
    header, payload = entry_of(path)
    forged = payload.replace(b"xj-rst-work-news", b"forged-source-id")
    entry_path(path).write_bytes(json.dumps(header).encode() + b"\n" + forged)
    assert load_watchlist(path).sources[0].id == "xj-rst-work-news"
    assert entry_of(path)[1] == payload  # and the entry is made again from the file
    entry_path(path).write_bytes(entry_path(path).read_bytes()[:-100])
    assert load_watchlist(path).sources[0].id == "xj-rst-work-news"


def test_an_entry_for_other_bytes_is_not_served(tmp_path):
    """The key is the SHA-256 of the file's bytes (and of the checking code): an entry made from
    other bytes, with its own payload digest intact, is passed over."""
    (tmp_path / "other").mkdir()
    other = write(tmp_path / "other", EVERYTHING.replace("xj-rst-work-news", "another-source"))
    load_watchlist(other)
    path = write(tmp_path, EVERYTHING)
    entry_path(path).parent.mkdir(parents=True, exist_ok=True)
    entry_path(path).write_bytes(entry_path(other).read_bytes())
    assert load_watchlist(path).sources[0].id == "xj-rst-work-news"


def test_a_cache_folder_that_cannot_be_written_costs_only_the_speed(tmp_path, monkeypatch):
    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setenv("DOCWATCH_CACHE_DIR", str(tmp_path / "a-file"))
    path = write(tmp_path, EVERYTHING)
    assert load_watchlist(path) == load_watchlist(path) == parse_watchlist(EVERYTHING, str(path))


@pytest.mark.e2e
def test_a_command_after_the_watchlist_was_broken_exits_2_with_the_line(tmp_path):
    path = write(tmp_path, EVERYTHING)
    listed = run_docwatch("validate", watchlist=path)
    assert listed.returncode == 0 and entry_path(path).exists(), listed.stderr
    before = path.stat()
    path.write_text(EVERYTHING.replace("pages: 3", "pages: x"), "utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    refused = run_docwatch("events", db=tmp_path / "docwatch.db", watchlist=path)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    line = EVERYTHING.splitlines().index("    pages: 3") + 1
    assert f"{path}:{line}: source 'xj-rst-work-news': pages: expected a whole number" in refused.stderr


LOADS_WATCHLIST = """
import json, sys
from crawler.config.watchlist import load_watchlist
watchlist = load_watchlist(sys.argv[1])
print(json.dumps({"sources": len(watchlist.sources), "yaml": "yaml" in sys.modules}))
"""


def test_a_process_that_finds_the_entry_parses_no_yaml(tmp_path):
    """Importing PyYAML is part of what the entry saves each command (10-20 ms)."""
    path = write(tmp_path, EVERYTHING)
    runs = [json.loads(subprocess.run([sys.executable, "-c", LOADS_WATCHLIST, str(path)], capture_output=True, text=True,
                                      check=True, cwd=ROOT, timeout=120).stdout) for _ in range(2)]
    assert runs == [{"sources": 2, "yaml": True}, {"sources": 2, "yaml": False}]
