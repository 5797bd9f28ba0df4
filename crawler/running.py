"""Run Scrapy crawls from our own code: one reactor, any number of crawls in sequence.

The demo crawls three times in one process and the daemon crawls forever, so neither can use
`CrawlerProcess.start()` per crawl (a reactor starts once). `run_crawls` starts the asyncio
reactor once and awaits an async `main` that calls `runner.crawl(...)` as often as it likes
(STACK-NOTES.md: AsyncCrawlerRunner on the asyncio reactor is the clean combination).

SIGINT and SIGTERM are ours, not Scrapy's: Scrapy's handlers stop the reactor under `main`
(which then failed with `ReactorNotRunning` when it stopped it again) and let every queued
request run first. Here the first signal interrupts every crawl at once
(`crawler.interrupt`), `main` winds down, and `run_crawls` raises `Interrupted` with the
signal, so the command exits with 128 + its number (130 for Ctrl-C, 143 for SIGTERM). A
second signal stops the reactor on the spot; leases left behind then belong to a dead local
process, and the next crawl takes them over at once (`storage.repositories.claim_pages`).
"""

from __future__ import annotations

import asyncio
import atexit
import gc
import logging
import signal
from collections.abc import Awaitable, Callable
from types import FrameType
from typing import Any, TypeVar

# Imported here rather than when the engine loads the download handlers: Scrapy's TLS
# module calls inspect.stack() three times at import, whose cost grows with the stack
# depth; inside the engine's start-up it cost 0.12-0.24 s of process CPU, from here 0.08.
import scrapy.core.downloader.handlers.http11  # noqa: F401
from scrapy.crawler import AsyncCrawlerProcess, AsyncCrawlerRunner
from scrapy.settings import Settings

from crawler import shared_pools
from crawler.interrupt import Interrupted, in_background, interrupt, refuses_crawls, stop_crawls

T = TypeVar("T")
logger = logging.getLogger(__name__)

# At exit, the interpreter's last collections walk every object of a crawl process
# (Scrapy, Twisted, SQLAlchemy, our modules) only to free memory the OS takes back anyway:
# 0.4 s of process CPU at the end of every `watchdesk crawl`, ~10 % of a 1000-page 304
# recheck. Frozen objects are skipped by those passes; atexit handlers (logging's flush,
# pools' joins) still run, and files are closed by their `with` blocks, not by a collector.
atexit.register(gc.freeze)


def run_crawls(settings: Settings, main: Callable[[AsyncCrawlerRunner], Awaitable[T]]) -> T:
    """Start the reactor, run `main(runner)` to completion, stop the reactor, return its result.

    An exception raised by `main` is re-raised here, after the reactor has stopped.

    Raises:
        Interrupted: a SIGINT or SIGTERM came while the reactor ran.
    """
    process = AsyncCrawlerProcess(settings)  # installs the asyncio reactor: first
    from twisted.internet import reactor

    outcome: dict[str, Any] = {}
    received: list[int] = []

    def stop_reactor() -> None:
        if reactor.running:
            reactor.stop()

    async def wrapper() -> None:
        try:
            # The command's crawls share one extraction pool and one matcher, warm between
            # crawls (a daemon's ticks, the demo's three crawls); closed when `main` ends.
            with shared_pools.held(settings):
                outcome["value"] = await main(process)
        except BaseException as exc:  # re-raised below, outside the reactor
            outcome["error"] = exc
        finally:
            reactor.callLater(0, stop_reactor)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        # Python runs this between two bytecodes of the main thread: hand over to the loop.
        received.append(signum)
        if len(received) == 1:
            reactor.callFromThread(_first_signal, process, signum)
        else:
            reactor.callFromThread(stop_reactor)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        reactor.callWhenRunning(
            lambda: outcome.setdefault("task", asyncio.ensure_future(wrapper()))
        )
        process.start(stop_after_crawl=False, install_signal_handlers=False)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if received:
        raise Interrupted(received[0], outcome.get("value"))
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _first_signal(runner: AsyncCrawlerRunner, signum: int) -> None:
    logger.warning("received %s: stopping now", signal.Signals(signum).name)
    stop_crawls(runner)


async def crawl_once(
    runner: AsyncCrawlerRunner,
    spider: str | type[Any],
    on_item: Callable[[Any], None] | None = None,
    **spider_args: Any,
) -> dict[str, Any]:
    """Run one crawl of `spider` to the end and return its stats.

    After a stop signal no crawl starts (the stats are empty), and one still starting up
    is interrupted as soon as its engine runs.

    Args:
        runner: the runner from `run_crawls`.
        spider: spider name (`watch`, or an outlet's discovery spider).
        on_item: called with each scraped item (progress display).
        spider_args: the spider's arguments.
    """
    from scrapy import signals

    if refuses_crawls(runner):
        return {}
    crawler = runner.create_crawler(spider)
    if on_item is not None:
        crawler.signals.connect(
            lambda item, **_: on_item(item), signal=signals.item_scraped, weak=False
        )

    def started() -> None:
        if refuses_crawls(runner):  # the signal came while this crawl was opening
            in_background(interrupt(crawler))

    crawler.signals.connect(started, signal=signals.engine_started, weak=False)
    await runner.crawl(crawler, **spider_args)
    return dict(crawler.stats.get_stats()) if crawler.stats else {}
