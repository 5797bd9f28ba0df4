"""Extraction in worker processes: every core extracts, the crawl's event loop never does.

trafilatura is CPU-bound Python (~20 ms a page) and holds the GIL, so a thread gives the
crawl one core at most; lxml parsers must not be shared between threads either. A process
pool of one worker per core does the challenge check and the extraction (`extract_page`,
one round trip per page) while the event loop goes on fetching and writing.

Workers are spawned (`crawler.processes.SpawnedPool`, shared with the matcher process) and
import trafilatura in their initializer, so `start()` warms them before the first response
needs them. A worker that dies (killed, out of memory, a crash in lxml) breaks the pool: it
is replaced once per breakage and the pages that were in flight are tried once more on the
new one; a page that fails again raises `ExtractionFailed` for the caller to release.

Pure of Scrapy and Twisted: asyncio futures only (Scrapy runs on the asyncio reactor).
"""

from __future__ import annotations

import asyncio
import logging
import os
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING

from crawler.processes import ATTEMPTS, SpawnedPool

if TYPE_CHECKING:
    from crawler.extract.article import PageExtraction

LOGGER = logging.getLogger(__name__)


class ExtractionFailed(RuntimeError):
    """A page whose extraction killed its worker twice (or found the pool closed)."""


def default_workers() -> int:
    """One worker per core this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def _extract_page(
    body: bytes, status: int | None, url: str, content_type: str | None
) -> PageExtraction:
    """`extract_page`, imported in the worker: the crawl's own process never loads
    trafilatura (its results unpickle as `crawler.extract.article` types)."""
    from crawler.extract.extraction import extract_page

    return extract_page(body, status, url, content_type)


def _warm() -> None:
    """Worker initializer: import and run the extractor once, so the first page is not slow."""
    _extract_page(b"<html><body><p>warm</p></body></html>", 200, "http://localhost/", None)


class ExtractionPool(SpawnedPool):
    """A process pool for `extract_page` that replaces itself when a worker dies
    (`crawler.processes.SpawnedPool`: `start` spawns and warms the workers in the
    background and never blocks)."""

    def __init__(self, workers: int = 0) -> None:
        super().__init__(workers or default_workers(), _warm)

    async def extract(
        self, body: bytes, status: int | None, url: str, content_type: str | None
    ) -> PageExtraction:
        """`_extract_page` in a worker; starts the pool if needed.

        Raises:
            ExtractionFailed: the page's worker died on both tries, or the pool is closed.
        """
        for _ in range(ATTEMPTS):
            executor = self.start()
            if executor is None:
                break
            try:
                future = executor.submit(_extract_page, body, status, url, content_type)
                return await asyncio.wrap_future(future)
            except BrokenProcessPool:
                LOGGER.warning("an extraction worker died (page %s); replacing the pool", url)
                self.replace(executor)
        raise ExtractionFailed(f"extraction of {url} failed: its worker process died")
