"""The worker processes that extract pages, owned by a Scrapy extension: started on the first
page, shut down when the engine of the last crawl using them stops."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

from scrapy import signals

from crawler.gc_tuning import collect_less_often
from crawler.lifeline import die_with_parent


class ExtractionPool:
    """Extraction (decode, parse, main text) is the heaviest step: it runs in worker processes,
    one per core at most, while this process fetches and writes the database. Workers are
    spawned (no fork of a process with threads) as direct children, one when no idle worker is
    left, so the crawl's CPU accounting includes them once `shutdown` has waited for them. They
    die with the crawl however it ends (kill -9 too: PR_SET_PDEATHSIG); the pool is used from
    the reactor (main) thread only.

    The crawls of one run (the listing spider and the page spider) share one set of workers:
    each worker pays for its start-up (spawn and imports, about half a second of CPU) once,
    which is most of the cost of a re-crawl where few pages changed."""

    shared: ProcessPoolExecutor | None = None
    users = 0

    def __init__(self) -> None:
        self.using = False

    @classmethod
    def from_crawler(cls, crawler):
        pool = cls()
        crawler.signals.connect(pool.shutdown, signal=signals.engine_stopped)
        return pool

    def run(self, function, *args) -> asyncio.Future:
        """`function(*args)` in a worker; its result (or exception) when awaited."""
        pool = type(self)
        if not self.using:
            self.using = True
            pool.users += 1
        if pool.shared is None:
            pool.shared = ProcessPoolExecutor(
                max_workers=os.cpu_count() or 1, mp_context=multiprocessing.get_context("spawn"),
                initializer=start_worker, initargs=(os.getpid(),),
            )
        return asyncio.wrap_future(pool.shared.submit(function, *args))

    def shutdown(self) -> None:
        pool = type(self)
        if not self.using:
            return
        self.using = False
        pool.users -= 1
        if pool.users == 0 and pool.shared is not None:
            pool.shared.shutdown(wait=True)
            pool.shared = None


def start_worker(parent_pid: int) -> None:
    """First thing in a worker: it dies with the crawl, imports what every task needs, and then
    collects garbage less often (crawler/gc_tuning.py)."""
    die_with_parent(parent_pid)
    import crawler.extract.capture  # noqa: F401 (the tasks' module, imported before the freeze)

    collect_less_often()
