"""The one settings model (crawler.config.settings.SETTINGS) against what users see: the README's
tables, the watchlist's `settings:` keys, and the settings the watchlist may not set."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from crawler.archive.queue import ArchiveSettings
from crawler.config.settings import SECRETS, SETTINGS, SettingError, resolve
from crawler.config.watchlist import Settings, WatchlistError, load_watchlist

README = (Path(__file__).resolve().parent.parent / "README.md").read_text("utf-8")
WATCHLIST = """
keyword_sets:
  labor_transfer: {{terms: [转移就业]}}
sources:
  - {{id: one, url: "http://127.0.0.1:1/a.html", type: page}}
settings:
  {key}: {value}
"""


def readme_variables() -> set[str]:
    """Every DOCWATCH_* variable the README names, `DOCWATCH_WAYBACK_{SAVE,CDX}_URL` expanded."""
    names = set()
    for match in re.finditer(r"DOCWATCH_([A-Z_]*)(?:\{([A-Z,]+)\}([A-Z_]*))?", README):
        head, choices, tail = match.groups()
        if choices:
            names.update(f"DOCWATCH_{head}{choice}{tail}" for choice in choices.split(","))
        elif head and not head.endswith("_"):
            names.add(f"DOCWATCH_{head}")
    return names


def test_the_readme_names_every_setting_and_secret_and_no_other_variable():
    declared = {setting.env for setting in SETTINGS.values()} | set(SECRETS)
    assert readme_variables() == declared


def test_the_watchlist_settings_section_takes_exactly_the_settings_declared_for_it():
    for_watchlist = {name for name, setting in SETTINGS.items() if setting.in_watchlist and not name.startswith("smtp_")}
    assert {field.name for field in dataclasses.fields(Settings)} == for_watchlist
    settings_row = re.search(r"\| setting \| option \| environment \| watchlist \| default \|\n\|[-|]+\|\n((?:\|.*\n)+)", README)
    assert settings_row, "the README's settings table"
    watchlist_rows = [row for row in settings_row.group(1).splitlines() if "`settings:`" in row]
    assert sorted(re.search(r"`(DOCWATCH_[A-Z_]+)`", row).group(1) for row in watchlist_rows) == sorted(
        SETTINGS[name].env for name in for_watchlist)


@pytest.mark.parametrize("key", ["max_document_bytes", "archive_backoff", "daemon_workers"])
def test_a_setting_the_watchlist_may_not_set_is_refused_with_its_line(tmp_path, key):
    path = tmp_path / "watchlist.yaml"
    path.write_text(WATCHLIST.format(key=key, value=5), "utf-8")
    with pytest.raises(WatchlistError) as refused:
        load_watchlist(path)
    assert f"{path}:7" in str(refused.value) and key in str(refused.value)


def test_each_setting_resolves_from_its_declared_variable():
    environ = {"DOCWATCH_MAX_DOCUMENT_BYTES": "1234", "DOCWATCH_ARCHIVE_BACKOFF": "7", "DOCWATCH_ENV": "local"}
    config = resolve({}, Settings(max_page_bytes=99), environ)
    assert (config.max_document_bytes, config.max_page_bytes, config.profile) == (1234, 99, "local")
    assert ArchiveSettings.resolve(environ).backoff == 7.0
    with pytest.raises(SettingError, match="DOCWATCH_ARCHIVE_BACKOFF"):
        ArchiveSettings.resolve({"DOCWATCH_ARCHIVE_BACKOFF": "soon"})
    with pytest.raises(SettingError, match="DOCWATCH_MAX_DOCUMENT_BYTES"):
        resolve({}, None, {"DOCWATCH_MAX_DOCUMENT_BYTES": "soon"})


def test_timestamp_authorities_come_from_the_watchlist_list_or_the_variable(tmp_path):
    path = tmp_path / "watchlist.yaml"
    path.write_text(WATCHLIST.format(key="timestamp_authorities", value='["http://tsa.example/tsr", "https://b.example/"]'),
                    "utf-8")
    settings = load_watchlist(path).settings
    assert resolve({}, settings, {}).timestamp_authorities == ("http://tsa.example/tsr", "https://b.example/")
    assert resolve({}, settings, {"DOCWATCH_TIMESTAMP_AUTHORITIES": "http://c.example/, http://d.example/"}
                   ).timestamp_authorities == ("http://c.example/", "http://d.example/")
    with pytest.raises(SettingError, match="DOCWATCH_TIMESTAMP_AUTHORITIES: 'tsa.example'"):
        resolve({}, None, {"DOCWATCH_TIMESTAMP_AUTHORITIES": "tsa.example"})
    path.write_text(WATCHLIST.format(key="timestamp_authorities", value='["tsa.example"]'), "utf-8")
    with pytest.raises(WatchlistError) as refused:
        load_watchlist(path)
    assert f"{path}:7" in str(refused.value) and "timestamp_authorities" in str(refused.value)
