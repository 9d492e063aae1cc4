"""Fetch stage: what the spiders hand on (items), the downloader middlewares, Scrapy's settings,
and the verdict on an HTTP answer (ok, gone, error) before anything is extracted."""
