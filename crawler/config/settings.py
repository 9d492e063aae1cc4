"""Every setting docwatch has, declared once (SETTINGS), and where its value comes from.

Order: command-line option, then environment (DOCWATCH_*), then the watchlist (its `settings:`
section, or `digest: email:` for the SMTP settings) where the setting allows it, then the
default. Secrets (archive.org keys, SMTP password: SECRETS) come only from the environment and
never pass through here. The README's tables are checked against SETTINGS by a test.
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


@dataclass(frozen=True)
class Setting:
    """One setting: `name` is its key in the watchlist (when `in_watchlist`: under `settings:`,
    or under `digest: email:` for smtp_*), `env` its variable, `default` its value when nothing
    sets it (its type is the setting's type; None: unset, or worked out by whoever reads it)."""

    name: str
    env: str
    default: object
    in_watchlist: bool = False


SETTINGS = {setting.name: setting for setting in (
    Setting("watchlist", "DOCWATCH_WATCHLIST", DEFAULT_WATCHLIST),
    Setting("data_dir", "DOCWATCH_DATA_DIR", None, in_watchlist=True),
    Setting("cache_dir", "DOCWATCH_CACHE_DIR", None),
    Setting("db", "DOCWATCH_DB", None),
    Setting("profile", "DOCWATCH_ENV", "production"),
    Setting("user_agent", "DOCWATCH_USER_AGENT", None, in_watchlist=True),
    Setting("download_timeout", "DOCWATCH_DOWNLOAD_TIMEOUT", DEFAULT_DOWNLOAD_TIMEOUT, in_watchlist=True),
    Setting("max_page_bytes", "DOCWATCH_MAX_PAGE_BYTES", DEFAULT_MAX_PAGE_BYTES, in_watchlist=True),
    Setting("max_document_bytes", "DOCWATCH_MAX_DOCUMENT_BYTES", DEFAULT_MAX_DOCUMENT_BYTES),
    Setting("archive_captures_per_minute", "DOCWATCH_ARCHIVE_CAPTURES_PER_MINUTE", 4),
    Setting("archive_max_attempts", "DOCWATCH_ARCHIVE_MAX_ATTEMPTS", 8),
    Setting("archive_if_not_archived_within", "DOCWATCH_ARCHIVE_IF_NOT_ARCHIVED_WITHIN", "1h"),
    Setting("archive_poll_deadline", "DOCWATCH_ARCHIVE_POLL_DEADLINE", 300.0),
    Setting("archive_poll_interval", "DOCWATCH_ARCHIVE_POLL_INTERVAL", 5.0),
    Setting("archive_backoff", "DOCWATCH_ARCHIVE_BACKOFF", 60.0),
    Setting("archive_work_after_crawl", "DOCWATCH_ARCHIVE_WORK_AFTER_CRAWL", False),
    Setting("wayback_url", "DOCWATCH_WAYBACK_URL", "https://web.archive.org"),
    *(Setting(f"wayback_{endpoint}_url", f"DOCWATCH_WAYBACK_{endpoint.upper()}_URL", None)
      for endpoint in ("save", "status", "availability", "cdx", "web")),
    Setting("timestamp_authorities", "DOCWATCH_TIMESTAMP_AUTHORITIES", (), in_watchlist=True),
    Setting("backfill_delay", "DOCWATCH_BACKFILL_DELAY", 2.0),
    Setting("backfill_backoff", "DOCWATCH_BACKFILL_BACKOFF", 30.0),
    Setting("daemon_workers", "DOCWATCH_DAEMON_WORKERS", 2),
    Setting("daemon_time_limit", "DOCWATCH_DAEMON_TIME_LIMIT", 3600.0),
    Setting("daemon_grace", "DOCWATCH_DAEMON_GRACE", 60.0),
    Setting("daemon_archive_every", "DOCWATCH_DAEMON_ARCHIVE_EVERY", 300.0),
    Setting("daemon_batch_size", "DOCWATCH_DAEMON_BATCH_SIZE", 20),
    Setting("daemon_batch_window", "DOCWATCH_DAEMON_BATCH_WINDOW", 180.0),
    Setting("serve_host", "DOCWATCH_SERVE_HOST", "127.0.0.1"),
    Setting("serve_port", "DOCWATCH_SERVE_PORT", 8600),
    *(Setting(f"smtp_{key}", f"DOCWATCH_SMTP_{key.upper()}", None, in_watchlist=True)
      for key in ("host", "port", "user", "from", "to", "starttls")),
)}
IA_ACCESS_KEY_ENV, IA_SECRET_KEY_ENV = "DOCWATCH_IA_ACCESS_KEY", "DOCWATCH_IA_SECRET_KEY"
SMTP_PASSWORD_ENV = "DOCWATCH_SMTP_PASSWORD"
SERVE_TOKEN_ENV = "DOCWATCH_SERVE_TOKEN"  # the workbench's access token, needed to serve beyond this machine
SECRETS = (IA_ACCESS_KEY_ENV, IA_SECRET_KEY_ENV, SMTP_PASSWORD_ENV, SERVE_TOKEN_ENV)


def env_of(name: str) -> str:
    return SETTINGS[name].env


def convert(raw: str, setting: Setting, origin: str) -> object:
    """`raw` (from the environment) as the type of the setting's default; a message naming
    `origin` if it is not one."""
    text = raw.strip()
    default = setting.default
    try:
        if isinstance(default, bool):
            if text.lower() not in ("1", "0", "true", "false", "yes", "no"):
                raise ValueError
            return text.lower() in ("1", "true", "yes")
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            return float(text)
    except ValueError:
        kind = {bool: "true or false", int: "a whole number", float: "a number of seconds"}[type(default)]
        raise SettingError(f"{origin} must be {kind}, got {raw[:100]!r}") from None
    return text


def default_data_dir(environ: Mapping[str, str]) -> Path:
    base = environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "docwatch"


def cache_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """Where docwatch keeps what it can make again (the checked watchlist): from the environment
    only, since the watchlist cannot name the folder its own cache is read from."""
    if explicit := environ.get(env_of("cache_dir")):
        return Path(explicit).expanduser()
    return Path(environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "docwatch"


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
    timestamp_authorities: tuple[str, ...] = ()  # RFC 3161 servers that timestamp evidence packages

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def warc_dir(self) -> Path:
        return self.data_dir / "warc"


def watchlist_path(cli_value: str | None, environ: Mapping[str, str] = os.environ) -> Path:
    return Path(cli_value or environ.get(env_of("watchlist")) or DEFAULT_WATCHLIST)


def resolve(
    cli: Mapping[str, object],
    file_settings: object | None = None,
    environ: Mapping[str, str] = os.environ,
) -> Config:
    """`cli` holds the global options as given (None when absent); `file_settings` is the
    watchlist's Settings (or None when there is no watchlist to read). Raises SettingError."""

    def pick(name: str):
        setting = SETTINGS[name]
        value = cli.get(name)
        if value is None:
            value = environ.get(setting.env)
        if value is None and setting.in_watchlist and file_settings is not None:
            value = getattr(file_settings, name)
        return setting.default if value is None else value

    def pick_count(name: str) -> int:
        value, env = pick(name), env_of(name)
        try:
            count = int(value)
        except (TypeError, ValueError):
            count = 0
        if not 1 <= count <= MAX_COUNT_SETTING:
            origin = env if environ.get(env) is not None else f"settings.{name} in the watchlist"
            raise SettingError(f"{origin}={value!r}: give a whole number from 1 to {MAX_COUNT_SETTING}")
        return count

    explicit_db = cli.get("db") or environ.get(env_of("db"))
    # Evidence stays next to its database: with only --db given, its folder is the data directory.
    fallback_dir = Path(explicit_db).expanduser().parent if explicit_db else default_data_dir(environ)
    data_dir = Path(pick("data_dir") or fallback_dir).expanduser()
    db_path = explicit_db or data_dir / "docwatch.db"
    return Config(
        watchlist_path=watchlist_path(cli.get("watchlist"), environ),  # type: ignore[arg-type]
        data_dir=data_dir,
        db_path=Path(db_path).expanduser(),
        user_agent=pick("user_agent"),
        download_timeout=pick_count("download_timeout"),
        max_page_bytes=pick_count("max_page_bytes"),
        max_document_bytes=pick_count("max_document_bytes"),
        profile=str(pick("profile") or SETTINGS["profile"].default),
        timestamp_authorities=authority_urls(pick("timestamp_authorities"), env_of("timestamp_authorities")),
    )


def authority_urls(value: str | tuple[str, ...], env: str) -> tuple[str, ...]:
    """RFC 3161 authorities: the watchlist's list, or the variable's URLs separated by commas or spaces."""
    urls = tuple(value.replace(",", " ").split()) if isinstance(value, str) else tuple(value)
    for url in urls:
        if not url.startswith(("http://", "https://")):
            raise SettingError(f"{env}: {url[:100]!r} is not an http:// or https:// URL of a timestamp authority")
    return urls
