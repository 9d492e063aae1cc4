"""The worker processes that extract pages, owned by a Scrapy extension: one pool per crawl,
started on the first page, shut down when the crawl's engine stops."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

from scrapy import signals

from crawler.lifeline import die_with_parent


class ExtractionPool:
    """Extraction (decode, parse, main text) is the heaviest step: it runs in worker processes,
    one per core at most, while this process fetches and writes the database. Workers are
    spawned (no fork of a process with threads) as direct children, one when no idle worker is
    left, so the crawl's CPU accounting includes them once `shutdown` has waited for them. They
    die with the crawl however it ends (kill -9 too: PR_SET_PDEATHSIG); the pool is used from
    the reactor (main) thread only."""

    def __init__(self) -> None:
        self.executor: ProcessPoolExecutor | None = None

    @classmethod
    def from_crawler(cls, crawler):
        pool = cls()
        crawler.signals.connect(pool.shutdown, signal=signals.engine_stopped)
        return pool

    def run(self, function, *args) -> asyncio.Future:
        """`function(*args)` in a worker; its result (or exception) when awaited."""
        if self.executor is None:
            self.executor = ProcessPoolExecutor(
                max_workers=os.cpu_count() or 1, mp_context=multiprocessing.get_context("spawn"),
                initializer=die_with_parent, initargs=(os.getpid(),),
            )
        return asyncio.wrap_future(self.executor.submit(function, *args))

    def shutdown(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=True)
            self.executor = None
