"""What every command shares: the global options, the watchlist and settings they lead to,
and the bad-input error (exit 2). Command modules import from here, not from crawler.cli."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import click

from crawler.config import Config, resolve, watchlist_path
from crawler.safe_text import printable
from crawler.watchlist import Watchlist, WatchlistError, load_watchlist


class BadInput(click.ClickException):
    """A problem with what the user gave us: exit 2, message on stderr."""

    exit_code = 2


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

    @functools.cached_property
    def config(self) -> Config:
        return resolve(self.cli, self.watchlist.settings)


pass_app = click.make_pass_decorator(App)
