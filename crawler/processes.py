"""Spawned worker processes that replace themselves when one dies.

Shared by the extraction pool (`crawler.extract.pool`, one worker per core) and the matcher
process (`crawler.matching.process`, one worker): both keep heavy libraries out of the crawl's
own process and must survive a worker that is killed or runs out of memory.

Workers are spawned, never forked: the crawl process holds a reactor, sockets and a database
engine. A worker that dies breaks a `ProcessPoolExecutor` for good; `replace` swaps in a new
one once per breakage, however many calls saw it, and callers retry their call once on it.
Pure of Scrapy, Twisted and SQLAlchemy.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

#: Tries per call: the first, and one on a fresh pool after a worker died.
ATTEMPTS = 2


class SpawnedPool:
    """A spawn-context `ProcessPoolExecutor` that is replaced when a worker dies."""

    def __init__(self, workers: int, initializer: Callable[[], None] | None = None) -> None:
        self.workers = workers
        self.replacements = 0
        self._initializer = initializer
        self._executor: ProcessPoolExecutor | None = None
        self._closed = False

    @property
    def started(self) -> bool:
        """Whether worker processes exist (or are being spawned)."""
        return self._executor is not None

    def start(self) -> ProcessPoolExecutor | None:
        """The executor, created if needed (never blocks); None once closed."""
        if self._executor is None and not self._closed:
            self._executor = self._new_executor()
        return self._executor

    def _new_executor(self) -> ProcessPoolExecutor:
        executor = ProcessPoolExecutor(
            self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=self._initializer,
        )
        # Processes are spawned on demand: one no-op task per worker spawns them all now.
        for _ in range(self.workers):
            executor.submit(os.getpid)
        return executor

    def pids(self) -> list[int]:
        """Process ids of the live workers (for tests and diagnostics)."""
        processes = getattr(self._executor, "_processes", None) or {}
        return [pid for pid, process in processes.items() if process.is_alive()]

    def replace(self, broken: ProcessPoolExecutor) -> None:
        """Swap in a fresh executor, once for all the calls the broken one failed."""
        if self._executor is broken and not self._closed:
            broken.shutdown(wait=False, cancel_futures=True)
            self.replacements += 1
            self._executor = self._new_executor()

    def close(self, *, terminate: bool = False) -> None:
        """Stop the workers: after the calls in flight, or at once (SIGTERM) with
        `terminate`, for a pool whose callers never leave a call running at close."""
        self._closed = True
        if self._executor is not None:
            if terminate:
                for pid in self.pids():
                    os.kill(pid, signal.SIGTERM)
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
