"""`watchdesk worker`: check due pages in batches, beside any number of other workers."""

from __future__ import annotations

import os

import click

from crawler.cli.common import Context, crawl_options, pass_context


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
    """Check due pages in batches until stopped; run any number, on any machines.

    Workers share the store's PostgreSQL: each leases outlet hosts (one owner per host, so
    politeness holds fleet-wide) and claims their due pages under a fencing token.

    Example: watchdesk --db postgresql+psycopg://watchdesk@db/watchdesk worker --batch 100
    """
    # Scrapy only here: `watchdesk --help` stays quick.
    from crawler.cli.crawl import crawl_settings, parse_overrides, print_summary
    from crawler.running import crawl_once, run_crawls

    values = parse_overrides(overrides)
    for name, value in values.items():  # the page cadence reads its settings from the env
        if name.startswith("WATCHDESK_"):
            os.environ[name] = value
    settings = crawl_settings(ctx, host_map=host_map, **values)
    stats = run_crawls(
        settings, lambda runner: crawl_once(runner, "worker", once=once, batch=batch)
    )
    print_summary(ctx.console, stats, title="worker")
