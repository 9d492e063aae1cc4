"""Where docwatch's settings come from, resolved in one place.

Order: command-line option, then environment (DOCWATCH_*), then the watchlist's `settings:`
section, then the default. Secrets (archive.org keys, SMTP password) come only from the
environment and never pass through here.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from crawler.fetch.scrapy_settings import base as scrapy_defaults

DEFAULT_WATCHLIST = "watchlist.yaml"
# Defaults are the production crawling profile's, so `scrapy crawl` and `docwatch crawl` agree.
DEFAULT_DOWNLOAD_TIMEOUT = scrapy_defaults.DOWNLOAD_TIMEOUT
DEFAULT_MAX_PAGE_BYTES = scrapy_defaults.DOWNLOAD_MAXSIZE
DEFAULT_MAX_DOCUMENT_BYTES = scrapy_defaults.DOCWATCH_MAX_DOCUMENT_BYTES
MAX_COUNT_SETTING = 2**31 - 1  # any count, size or timeout a user gives: Twisted and Scrapy keep them in C ints


class SettingError(ValueError):
    """A setting's value cannot be used; the message names the variable or key it came from."""


def default_data_dir(environ: Mapping[str, str]) -> Path:
    base = environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "docwatch"


@dataclass(frozen=True)
class Config:
    watchlist_path: Path
    data_dir: Path
    db_path: Path
    user_agent: str | None  # None: the Scrapy profile's descriptive default
    download_timeout: int
    max_page_bytes: int
    max_document_bytes: int
    profile: str  # Scrapy profile: "production" (polite, default) or "local" (demo, tests)

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def warc_dir(self) -> Path:
        return self.data_dir / "warc"


def watchlist_path(cli_value: str | None, environ: Mapping[str, str] = os.environ) -> Path:
    return Path(cli_value or environ.get("DOCWATCH_WATCHLIST") or DEFAULT_WATCHLIST)


def resolve(
    cli: Mapping[str, object],
    file_settings: object | None = None,
    environ: Mapping[str, str] = os.environ,
) -> Config:
    """`cli` holds the global options as given (None when absent); `file_settings` is the
    watchlist's Settings (or None when there is no watchlist to read). Raises SettingError."""

    def pick(name: str, env: str, default):
        value = cli.get(name)
        if value is None:
            value = environ.get(env)
        if value is None and file_settings is not None:
            value = getattr(file_settings, name, None)
        return default if value is None else value

    def pick_count(name: str, env: str, default: int) -> int:
        value = pick(name, env, default)
        try:
            count = int(value)
        except (TypeError, ValueError):
            count = 0
        if not 1 <= count <= MAX_COUNT_SETTING:
            origin = env if environ.get(env) is not None else f"settings.{name} in the watchlist"
            raise SettingError(f"{origin}={value!r}: give a whole number from 1 to {MAX_COUNT_SETTING}")
        return count

    explicit_db = cli.get("db") or environ.get("DOCWATCH_DB")
    # Evidence stays next to its database: with only --db given, its folder is the data directory.
    fallback_dir = Path(explicit_db).expanduser().parent if explicit_db else default_data_dir(environ)
    data_dir = Path(pick("data_dir", "DOCWATCH_DATA_DIR", fallback_dir)).expanduser()
    db_path = explicit_db or data_dir / "docwatch.db"
    return Config(
        watchlist_path=watchlist_path(cli.get("watchlist"), environ),  # type: ignore[arg-type]
        data_dir=data_dir,
        db_path=Path(db_path).expanduser(),
        user_agent=pick("user_agent", "DOCWATCH_USER_AGENT", None),
        download_timeout=pick_count("download_timeout", "DOCWATCH_DOWNLOAD_TIMEOUT", DEFAULT_DOWNLOAD_TIMEOUT),
        max_page_bytes=pick_count("max_page_bytes", "DOCWATCH_MAX_PAGE_BYTES", DEFAULT_MAX_PAGE_BYTES),
        max_document_bytes=pick_count("max_document_bytes", "DOCWATCH_MAX_DOCUMENT_BYTES", DEFAULT_MAX_DOCUMENT_BYTES),
        profile=str(cli.get("profile") or environ.get("DOCWATCH_ENV") or "production"),
    )
