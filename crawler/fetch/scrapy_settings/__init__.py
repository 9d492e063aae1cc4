"""Scrapy settings, split by environment (city-scrapers style).

`DOCWATCH_ENV=local` selects the loopback profile used by the demo and the tests; anything
else (the default) is the polite production profile for real government servers.
"""

import os

from crawler.fetch.scrapy_settings.base import *  # noqa: F401,F403

if os.environ.get("DOCWATCH_ENV") == "local":
    from crawler.fetch.scrapy_settings.local import *  # noqa: F401,F403
