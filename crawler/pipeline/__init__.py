"""The Scrapy item pipeline that wires the stages together: verdict, extraction, comparison,
WARC records and the store stage's one-transaction writes."""
