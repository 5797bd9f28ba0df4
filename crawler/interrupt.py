"""Stopping crawls now (SIGINT, SIGTERM): nothing new starts, nothing queued waits its turn.

Scrapy's own graceful stop (`Crawler.stop_async`) only stops *taking* requests: every request
already handed to the downloader still runs. With CONCURRENT_REQUESTS = 32 and two requests
per host at a time, a second apart (DOWNLOAD_DELAY), that was ~30 more pages and ~40 s after a
Ctrl-C, plus retries sleeping their backoff. `interrupt(crawler)` ends all of it at once:

- the engine stops taking requests (Scrapy's stop, which also closes the spider);
- requests waiting in a downloader slot's queue fail with `RequestInterrupted`, unsent;
- downloads on the wire and retry backoffs waiting in `RetryDelayMiddleware` are cancelled
  through `until_interrupted` (`crawler.handlers`, `crawler.middlewares`).

Spiders give an interrupted check back instead of recording it (`interrupted(crawler)` in
their errbacks): its page keeps its baseline and schedule, and the spider's `closed` releases
its lease. Answers that had already arrived go through the pipelines and are recorded.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, TypeVar
from weakref import WeakKeyDictionary, WeakSet

if TYPE_CHECKING:
    from scrapy.crawler import AsyncCrawlerRunner, Crawler

T = TypeVar("T")

_EVENTS: WeakKeyDictionary[Crawler, asyncio.Event] = WeakKeyDictionary()
_STOPPED_RUNNERS: WeakSet[AsyncCrawlerRunner] = WeakSet()
#: Stops under way: asyncio keeps only weak references to tasks, so they are kept here.
_BACKGROUND: set[asyncio.Future[Any]] = set()


class Interrupted(Exception):
    """The run was stopped by a signal; `result` is what `main` returned, if it did."""

    def __init__(self, signum: int, result: Any = None) -> None:
        self.signum = signum
        self.result = result
        self.signame = signal.Signals(signum).name
        super().__init__(f"interrupted by {self.signame}")

    @property
    def exit_code(self) -> int:
        """128 + the signal number: the shell's convention for "ended by this signal"."""
        return 128 + self.signum


class RequestInterrupted(Exception):
    """A request cut short because its crawl was told to stop; its page is given back."""


def _event(crawler: Crawler) -> asyncio.Event:
    if crawler not in _EVENTS:
        _EVENTS[crawler] = asyncio.Event()
    return _EVENTS[crawler]


def interrupted(crawler: Crawler) -> bool:
    """Whether `interrupt` was called for this crawl."""
    return crawler in _EVENTS and _EVENTS[crawler].is_set()


async def until_interrupted(crawler: Crawler, work: Awaitable[T]) -> T:
    """Await `work`, unless the crawl is interrupted first: then cancel it and raise
    `RequestInterrupted` (an ordinary exception, so Scrapy hands it to the request's errback)."""
    event = _event(crawler)
    if event.is_set():
        _discard(work)
        raise RequestInterrupted("the crawl was interrupted")
    task = asyncio.ensure_future(work)
    stop = asyncio.ensure_future(event.wait())
    await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        stop.cancel()
        return task.result()
    task.cancel()
    task.add_done_callback(_retrieve)
    raise RequestInterrupted("the crawl was interrupted")


def _discard(work: Awaitable[Any]) -> None:
    """Close a coroutine that will never be awaited (no "never awaited" warning)."""
    close = getattr(work, "close", None)
    if close is not None:
        close()


def _retrieve(task: asyncio.Future[Any]) -> None:
    """Read a cancelled download's outcome, so asyncio does not log it as never retrieved."""
    if not task.cancelled():
        task.exception()


async def interrupt(crawler: Crawler) -> None:
    """Stop one crawl now (see the module docstring); completes when the crawl has closed."""
    from twisted.python.failure import Failure  # here: the CLI imports this module early

    _event(crawler).set()
    stopping = asyncio.ensure_future(crawler.stop_async())  # runs first: no new request
    engine = getattr(crawler, "engine", None)
    downloader = getattr(engine, "downloader", None)
    for slot in list(getattr(downloader, "slots", {}).values()):
        while slot.queue:
            _request, deferred = slot.queue.popleft()
            deferred.errback(Failure(RequestInterrupted("the crawl was interrupted")))
    await stopping


def stop_crawls(runner: AsyncCrawlerRunner) -> asyncio.Future[Any]:
    """Interrupt every crawl of `runner`, and refuse new ones (`refuses_crawls`)."""
    _STOPPED_RUNNERS.add(runner)
    return in_background(
        asyncio.gather(*(interrupt(c) for c in list(runner.crawlers)), return_exceptions=True)
    )


def in_background(work: Awaitable[T]) -> asyncio.Future[T]:
    """Run `work` as a task that cannot be garbage-collected before it ends."""
    future = asyncio.ensure_future(work)
    _BACKGROUND.add(future)
    future.add_done_callback(_BACKGROUND.discard)
    return future


def refuses_crawls(runner: AsyncCrawlerRunner) -> bool:
    """True once `stop_crawls` was called: a job that would start another crawl must not."""
    return runner in _STOPPED_RUNNERS
