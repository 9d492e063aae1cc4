"""What every command shares: the global options, the watchlist, settings and database they lead
to, the options many commands take, and the bad-input error (exit 2). Command modules import from
here, not from crawler.cli.main."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import click

from crawler.config.settings import SETTINGS, Config, SettingError, resolve, watchlist_path
from crawler.safe_text import printable
from crawler.config.watchlist import MAX_INTERVAL_SECONDS, Source, Watchlist, WatchlistError, load_watchlist
from storage import open_database, reports
from storage.connection import Database


class BadInput(click.ClickException):
    """A problem with what the user gave us: exit 2, message on stderr."""

    exit_code = 2


class Seconds(click.FloatRange):
    """An option in seconds, from `minimum` to a year: click's own range lets inf and nan through,
    and the timers they reach overflow."""

    name = "seconds"

    def __init__(self, minimum: float) -> None:
        super().__init__(min=minimum, max=MAX_INTERVAL_SECONDS)

    def convert(self, value, param, ctx) -> float:
        seconds = super().convert(value, param, ctx)
        if math.isnan(seconds):
            self.fail(f"{value!r} is not a number of seconds", param, ctx)
        return seconds


@dataclass
class App:
    """Global options, and the watchlist and settings they lead to, loaded on first use."""

    cli: dict
    _watchlist: Watchlist | None = field(default=None, repr=False)

    @property
    def watchlist(self) -> Watchlist:
        if self._watchlist is None:
            try:
                self._watchlist = load_watchlist(watchlist_path(self.cli.get("watchlist")))
            except WatchlistError as error:
                raise BadInput(printable(f"{error}\nRun `docwatch validate` for the full report.")) from None
        return self._watchlist

    @property
    def has_watchlist(self) -> bool:
        """Whether the watchlist file exists: commands that only read the database need none."""
        return watchlist_path(self.cli.get("watchlist")).exists()

    @property
    def file_settings(self):
        """The watchlist's `settings:` when there is a watchlist, else None."""
        return self.watchlist.settings if self.has_watchlist else None

    @functools.cached_property
    def config(self) -> Config:
        try:
            return resolve(self.cli, self.file_settings)
        except SettingError as error:
            raise BadInput(str(error)) from None

    def database(self, source_ids: tuple[str, ...] = ()) -> Database:
        """The evidence store, refusing a database that does not exist yet or an unknown source."""
        path = self.config.db_path
        db = open_database(path, create=False)
        known = reports.known_source_ids(db)
        unknown = [source_id for source_id in source_ids if source_id not in known]
        if unknown:
            raise BadInput(f"unknown source {', '.join(unknown)}; sources in {path}: {', '.join(known) or 'none'}")
        return db


pass_app = click.make_pass_decorator(App)

json_option = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


def setting_option(flag: str, name: str, help: str, **kwargs):
    """A command's option for a declared setting: its variable and default come from SETTINGS."""
    setting = SETTINGS[name]
    return click.option(flag, envvar=setting.env, default=setting.default, show_default=True,
                        help=f"{help} [env {setting.env}]", **kwargs)


def queue_line(counts: dict[str, int]) -> str:
    """The archive queue in one line, for `docwatch status` and `docwatch archive status`."""
    return (f"Archive queue: {counts['queued']} queued ({counts['due']} due now), "
            f"{counts['in_progress']} in progress, {counts['done']} done, "
            f"{counts['needs_credentials']} need credentials, {counts['failed']} failed.")


def select_sources(watchlist: Watchlist, ids: tuple[str, ...], tags: tuple[str, ...], urls: tuple[str, ...]) -> list[Source]:
    """The sources a command acts on: named ones, tagged ones, ad-hoc URLs, or else all."""
    try:
        chosen = [watchlist.source(i) for i in ids]
    except KeyError as error:
        raise BadInput(str(error)) from None
    chosen += [s for s in watchlist.sources if tags and set(tags) & set(s.tags)]
    for url in urls:
        if not url.startswith(("http://", "https://")):
            raise BadInput(f"--url {url!r}: give an absolute http:// or https:// URL")
        match = next((s for s in watchlist.sources if s.url == url), None)
        chosen.append(match or watchlist.adhoc_source(url))
    if not (ids or tags or urls):
        chosen = list(watchlist.sources)
    return list({s.id: s for s in chosen}.values())
