"""Run Scrapy crawls from our own code: one reactor, any number of crawls in sequence.

The demo crawls three times in one process and the daemon crawls forever, so neither can use
`CrawlerProcess.start()` per crawl (a reactor starts once). `run_crawls` starts the asyncio
reactor once and awaits an async `main` that calls `runner.crawl(...)` as often as it likes
(STACK-NOTES.md: AsyncCrawlerRunner on the asyncio reactor is the clean combination).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from scrapy.crawler import AsyncCrawlerProcess, AsyncCrawlerRunner
from scrapy.settings import Settings

T = TypeVar("T")


def run_crawls(settings: Settings, main: Callable[[AsyncCrawlerRunner], Awaitable[T]]) -> T:
    """Start the reactor, run `main(runner)` to completion, stop the reactor, return its result.

    An exception raised by `main` is re-raised here, after the reactor has stopped.
    """
    process = AsyncCrawlerProcess(settings)
    outcome: dict[str, Any] = {}

    async def wrapper() -> None:
        try:
            outcome["value"] = await main(process)
        except BaseException as exc:  # re-raised below, outside the reactor
            outcome["error"] = exc
        finally:
            from twisted.internet import reactor

            reactor.callLater(0, reactor.stop)

    from twisted.internet import reactor

    reactor.callWhenRunning(lambda: outcome.setdefault("task", asyncio.ensure_future(wrapper())))
    process.start(stop_after_crawl=False)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


async def crawl_once(
    runner: AsyncCrawlerRunner,
    spider: str | type[Any],
    on_item: Callable[[Any], None] | None = None,
    **spider_args: Any,
) -> dict[str, Any]:
    """Run one crawl of `spider` to the end and return its stats.

    Args:
        runner: the runner from `run_crawls`.
        spider: spider name (`watch`, or an outlet's discovery spider).
        on_item: called with each scraped item (progress display).
        spider_args: the spider's arguments.
    """
    from scrapy import signals

    crawler = runner.create_crawler(spider)
    if on_item is not None:
        crawler.signals.connect(
            lambda item, **_: on_item(item), signal=signals.item_scraped, weak=False
        )
    await runner.crawl(crawler, **spider_args)
    return dict(crawler.stats.get_stats()) if crawler.stats else {}
