"""Scrapy spiders: they only fetch and discover; everything else happens in crawler.pipeline.stages."""
