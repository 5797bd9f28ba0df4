"""Extraction in worker processes: every core extracts, the crawl's event loop never does.

trafilatura is CPU-bound Python (~20 ms a page) and holds the GIL, so a thread gives the
crawl one core at most; lxml parsers must not be shared between threads either. A process
pool of one worker per core does the challenge check and the extraction (`extract_page`,
one round trip per page) while the event loop goes on fetching and writing.

Workers are spawned (no fork of a process holding a reactor, sockets and a database engine)
and import trafilatura in their initializer, so `start()` warms them before the first
response needs them. A worker that dies (killed, out of memory, a crash in lxml) breaks a
`ProcessPoolExecutor` for good: the pool replaces it once per breakage and the pages that
were in flight are tried once more on the new one; a page that fails again raises
`ExtractionFailed` for the caller to release.

Pure of Scrapy and Twisted: asyncio futures only (Scrapy runs on the asyncio reactor).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from crawler.extract.article import PageExtraction

LOGGER = logging.getLogger(__name__)

#: Tries per page: the first, and one on a fresh pool after a worker died.
_ATTEMPTS = 2


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


class ExtractionPool:
    """A process pool for `extract_page` that replaces itself when a worker dies."""

    def __init__(self, workers: int = 0) -> None:
        self.workers = workers or default_workers()
        self.replacements = 0
        self._executor: ProcessPoolExecutor | None = None
        self._closed = False

    @property
    def started(self) -> bool:
        """Whether worker processes exist (or are being spawned)."""
        return self._executor is not None

    def start(self) -> None:
        """Spawn and warm the workers in the background; idempotent, never blocks."""
        if self._executor is None and not self._closed:
            self._executor = self._new_executor()

    def _new_executor(self) -> ProcessPoolExecutor:
        executor = ProcessPoolExecutor(
            self.workers, mp_context=multiprocessing.get_context("spawn"), initializer=_warm
        )
        # Processes are spawned on demand: one no-op task per worker spawns them all now.
        for _ in range(self.workers):
            executor.submit(os.getpid)
        return executor

    def pids(self) -> list[int]:
        """Process ids of the live workers (for tests and diagnostics)."""
        processes = getattr(self._executor, "_processes", None) or {}
        return [pid for pid, process in processes.items() if process.is_alive()]

    async def extract(
        self, body: bytes, status: int | None, url: str, content_type: str | None
    ) -> PageExtraction:
        """`_extract_page` in a worker; starts the pool if needed.

        Raises:
            ExtractionFailed: the page's worker died on both tries, or the pool is closed.
        """
        for _ in range(_ATTEMPTS):
            self.start()
            executor = self._executor
            if executor is None:
                break
            try:
                future = executor.submit(_extract_page, body, status, url, content_type)
                return await asyncio.wrap_future(future)
            except BrokenProcessPool:
                LOGGER.warning("an extraction worker died (page %s); replacing the pool", url)
                self._replace(executor)
        raise ExtractionFailed(f"extraction of {url} failed: its worker process died")

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        """Swap in a fresh executor, once for all the pages the broken one failed."""
        if self._executor is broken and not self._closed:
            broken.shutdown(wait=False, cancel_futures=True)
            self.replacements += 1
            self._executor = self._new_executor()

    def close(self) -> None:
        """Stop the workers (waiting for the pages in flight)."""
        self._closed = True
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
