"""`watchdesk worker`: check due pages in batches, beside any number of other workers, and
discover the outlets that are due (`scheduler.discovery_jobs`: one worker per outlet)."""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import click

from crawler.cli.common import Context, crawl_options, pass_context

if TYPE_CHECKING:
    from scrapy.crawler import AsyncCrawlerRunner


@click.command()
@click.option("--once", is_flag=True, help="Exit (0) once nothing is due any more.")
@click.option("--batch", type=click.IntRange(min=1), metavar="N", help="Pages claimed per batch.")
@crawl_options
@pass_context
def worker(
    ctx: Context,
    once: bool,
    batch: int | None,
    host_map: str | None,
    overrides: tuple[str, ...],
) -> None:
    """Check due pages in batches and discover due outlets until stopped; run any number.

    Workers share the store's PostgreSQL: each leases outlet hosts (one owner per host, so
    politeness holds fleet-wide) and claims their due pages under a fencing token; beside
    that it takes each due outlet's discovery lease it can and runs its discovery spider.

    Example: watchdesk --db postgresql+psycopg://watchdesk@db/watchdesk worker --batch 100
    """
    # Scrapy only here: `watchdesk --help` stays quick.
    from crawler.cli.crawl import crawl_settings, parse_overrides, print_summary
    from crawler.running import crawl_once, run_crawls
    from scheduler.daemon import discovery_profiles
    from scheduler.discovery_jobs import OutletDiscovery, discovery_interval
    from storage.db import open_store
    from storage.workers import worker_name

    values = parse_overrides(overrides)
    for name, value in values.items():  # the page cadence reads its settings from the env
        if name.startswith("WATCHDESK_"):
            os.environ[name] = value
    settings = crawl_settings(ctx, host_map=host_map, **values)
    owner = worker_name()
    interval = discovery_interval(settings)

    async def main(runner: AsyncCrawlerRunner) -> dict[str, Any]:
        """The watch loop and, beside it, the discovery loop (one pass with `--once`)."""
        stop = asyncio.Event()
        discovering = None
        if interval is not None:
            discovery = OutletDiscovery(
                runner,
                open_store(settings.get("WATCHDESK_DB") or None),
                owner,
                interval,
                timedelta(seconds=settings.getfloat("WATCHDESK_LEASE_SECONDS")),
                discovery_profiles(settings),
            )
            poll = settings.getfloat("WATCHDESK_WORKER_POLL_SECONDS")
            discovering = asyncio.ensure_future(discovery.run_due(once, poll, stop))
        try:
            return await crawl_once(runner, "worker", once=once, batch=batch, worker=owner)
        finally:
            if not once:  # stopped: no new discovery (`--once` finishes its pass)
                stop.set()
            if discovering is not None:
                await discovering

    stats = run_crawls(settings, main)
    print_summary(ctx.console, stats, title="worker")
