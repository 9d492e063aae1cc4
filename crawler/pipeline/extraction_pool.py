"""The worker processes that extract pages, owned by a Scrapy extension: started once a crawl
has more pages to extract than it extracts itself, shut down when the engine of the last crawl
using them stops."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

from scrapy import signals

from crawler.gc_tuning import collect_less_often
from crawler.lifeline import die_with_parent

# Pages a run extracts in its own process before it starts workers: a worker's start-up (spawn
# and imports, about half a CPU second) costs as much as extracting a hundred pages, and most
# re-crawls and the daemon's runs of a few page sources extract no more than a handful.
IN_PROCESS_PAGES = 8


class ExtractionPool:
    """Extraction (decode, parse, main text) is the heaviest step. The first IN_PROCESS_PAGES
    pages of a run are extracted right here, in the reactor thread; after that, in worker
    processes, one per core at most, while this process fetches and writes the database.
    Workers are spawned (no fork of a process with threads) as direct children, one when no
    idle worker is left, so the crawl's CPU accounting includes them once `shutdown` has waited
    for them. They die with the crawl however it ends (kill -9 too: PR_SET_PDEATHSIG); the pool
    is used from the reactor (main) thread only.

    The crawls of one run (the listing spider and the page spider) share one set of workers,
    and one count of pages extracted in-process: each worker pays for its start-up once."""

    shared: ProcessPoolExecutor | None = None
    users = 0
    extracted_in_process = 0

    def __init__(self) -> None:
        self.using = False

    @classmethod
    def from_crawler(cls, crawler):
        pool = cls()
        crawler.signals.connect(pool.shutdown, signal=signals.engine_stopped)
        return pool

    async def run(self, function, *args):
        """`function(*args)`, here or in a worker; its result, or its exception raised."""
        pool = type(self)
        if pool.shared is None and pool.extracted_in_process < IN_PROCESS_PAGES:
            pool.extracted_in_process += 1
            return function(*args)
        if not self.using:
            self.using = True
            pool.users += 1
        if pool.shared is None:
            pool.shared = ProcessPoolExecutor(
                max_workers=os.cpu_count() or 1, mp_context=multiprocessing.get_context("spawn"),
                initializer=start_worker, initargs=(os.getpid(),),
            )
        return await asyncio.wrap_future(pool.shared.submit(function, *args))

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
