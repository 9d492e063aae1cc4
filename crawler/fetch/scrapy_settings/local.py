"""Loopback profile for the bundled demo site and the tests: same pipeline, no waiting."""

DOWNLOAD_DELAY = 0
AUTOTHROTTLE_ENABLED = False
CONCURRENT_REQUESTS_PER_DOMAIN = 8
DOWNLOAD_TIMEOUT = 10
RETRY_TIMES = 1
RETRY_BACKOFF_BASE = 0.1
RETRY_BACKOFF_MAX = 0.5
LOG_LEVEL = "WARNING"
