"""Production crawling profile: slow, polite and identifiable, for small government servers."""

from crawler import __version__

BOT_NAME = "docwatch"
SPIDER_MODULES = ["spiders"]
NEWSPIDER_MODULE = "spiders"

USER_AGENT = (
    f"docwatch/{__version__} (document-monitoring crawler for public-interest research; "
    "+https://github.com/docwatch/docwatch)"
)
ROBOTSTXT_OBEY = True  # a source can opt out with `obey_robots: false`

CONCURRENT_REQUESTS = 16
CONCURRENT_REQUESTS_PER_DOMAIN = 2
DOWNLOAD_DELAY = 1.0
AUTOTHROTTLE_ENABLED = True
AUTOTHROTTLE_START_DELAY = 2.0
AUTOTHROTTLE_MAX_DELAY = 60.0
AUTOTHROTTLE_TARGET_CONCURRENCY = 1.0

DOWNLOAD_TIMEOUT = 60
DOWNLOAD_MAXSIZE = 8 * 1024 * 1024  # a page larger than this is a fetch error, not evidence
DOWNLOAD_WARNSIZE = 4 * 1024 * 1024
DOCWATCH_MAX_DOCUMENT_BYTES = 30 * 1024 * 1024  # attachments: plans and statistics run long

RETRY_ENABLED = True
RETRY_TIMES = 3
RETRY_HTTP_CODES = [500, 502, 503, 504, 522, 524, 408, 429]
RETRY_BACKOFF_BASE = 5.0  # seconds; doubled on each retry (see crawler.fetch.middlewares)
RETRY_BACKOFF_MAX = 120.0
RETRY_GIVE_UP_LOG_LEVEL = "WARNING"  # a page that keeps failing is recorded, not a crawler error

DOWNLOADER_MIDDLEWARES = {
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.fetch.middlewares.BackoffRetryMiddleware": 550,
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "crawler.fetch.middlewares.QuickMetaRefreshMiddleware": 580,
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": None,
    "crawler.fetch.middlewares.HopRedirectMiddleware": 600,
    # Nearer the downloader than redirects (600) and decompression (590): the answer as received.
    "crawler.fetch.middlewares.WireRecorderMiddleware": 650,
}


# Scrapy's, asking only for the codings that evidence tools read back: warcio (`warcio check`)
# and pywb decode gzip and deflate; warcio cannot read br with the Brotli Scrapy needs (nor can
# Scrapy with the brotlipy pywb brings), and neither reads zstd. A page that is stored is kept as
# it was sent, so what is asked for decides whether its WARC record can be checked and replayed.
DEFAULT_REQUEST_HEADERS = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    "Accept-Language": "en",
    "Accept-Encoding": "gzip, deflate",
}
# The stages of crawler/pipeline/stages.py, in order; they share the two extensions below.
ITEM_PIPELINES = {
    "crawler.pipeline.stages.VerdictStage": 100,
    "crawler.pipeline.stages.UnchangedStage": 200,
    "crawler.pipeline.stages.ExtractStage": 300,
    "crawler.pipeline.stages.WarcStage": 400,
    "crawler.pipeline.stages.StoreStage": 500,
    "crawler.pipeline.stages.DocumentRequestStage": 600,
}
# Outputs of one response processed at once. A page yields one item and a few attachment
# requests, a listing page about twenty requests; Scrapy starts this many tasks per response,
# and its default (100) made task bookkeeping a tenth of the crawling process's CPU.
CONCURRENT_ITEMS = 8
DUPEFILTER_CLASS = "crawler.fetch.dupefilter.FirstRequesterDupeFilter"  # names who asked first

EXTENSIONS = {
    "scrapy.extensions.telnet.TelnetConsole": None,
    "crawler.pipeline.session.CrawlSession": 100,  # the database and the run, for every stage
    "crawler.pipeline.extraction_pool.ExtractionPool": 110,  # closed on engine_stopped
}

COOKIES_ENABLED = False
HTTPCACHE_ENABLED = False
LOG_LEVEL = "INFO"
REQUEST_FINGERPRINTER_IMPLEMENTATION = "2.7"
FEED_EXPORT_ENCODING = "utf-8"
