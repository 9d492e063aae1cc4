"""The Scrapy item pipeline that wires the stages together (stages.py: verdict, unchanged fast
path, extraction, WARC records, store, document requests), with the two extensions its stages
share: the crawl's session (session.py) and its extraction workers (extraction_pool.py)."""
