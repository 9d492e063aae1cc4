"""The practical ceiling: a plain Scrapy spider that fetches every page and hashes its body,
nothing else. Scrapy's default concurrency (16 requests, 8 per host), no robots.txt, no delays.

    python -m scrapy runspider bench/ceiling_spider.py -a urls=FILE
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import scrapy


class FetchAndHash(scrapy.Spider):
    name = "fetch_and_hash"
    custom_settings = {
        "ROBOTSTXT_OBEY": False,
        "LOG_LEVEL": "WARNING",
        "TELNETCONSOLE_ENABLED": False,
        "COOKIES_ENABLED": False,
        "REQUEST_FINGERPRINTER_IMPLEMENTATION": "2.7",
    }

    def __init__(self, urls: str, **kwargs):
        super().__init__(**kwargs)
        self.url_file = Path(urls)
        self.digests: dict[str, str] = {}

    async def start(self):
        for url in self.url_file.read_text().split():
            yield scrapy.Request(url, callback=self.parse, dont_filter=True)

    def parse(self, response):
        self.digests[response.url] = hashlib.sha256(response.body).hexdigest()

    def closed(self, reason):
        print(f"fetched and hashed {len(self.digests)} pages ({reason})")
