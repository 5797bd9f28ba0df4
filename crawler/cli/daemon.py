"""`watchdesk daemon`: scheduled rechecks, discovery, digests (`watchdesk status` shows them)."""

from __future__ import annotations

import logging
import os

import click

from crawler.cli.common import Context, crawl_options, pass_context


@click.command()
@click.option("--tick", type=float, metavar="SECONDS", help="Seconds between ticks.")
@click.option("--once", is_flag=True, help="One tick, wait for its crawls, exit (cron, tests).")
@crawl_options
@pass_context
def daemon(
    ctx: Context, tick: float | None, once: bool, host_map: str | None, overrides: tuple[str, ...]
) -> None:
    """Recheck due pages, discover follow-ups and send digests, until SIGTERM or Ctrl-C.

    What is due lives in the store, so a restart continues the schedule. Several daemons
    on one database all check pages (each host leased to one at a time); one of them, the
    leader, sends the digests and writes the feeds, and another leads if it dies.

    Example: watchdesk daemon --tick 60
    """
    # Scrapy, APScheduler and the renderers only when the daemon runs.
    import crawler.reports.atom  # noqa: F401  (registers the `atom` report format)
    from crawler.cli.crawl import crawl_settings, parse_overrides
    from crawler.running import run_crawls
    from scheduler import daemon as daemon_module

    values: dict[str, object] = dict(parse_overrides(overrides))
    if tick is not None:
        values["WATCHDESK_TICK_SECONDS"] = tick
    for name, value in values.items():  # the page cadence reads its settings from the env
        if name.startswith("WATCHDESK_"):
            os.environ[name] = str(value)
    values["LOG_LEVEL"] = "DEBUG" if ctx.verbose >= 2 else "INFO"
    settings = crawl_settings(ctx, host_map=host_map, **values)
    # One line per run from us; the libraries' own chatter with -v (INFO) or -vv (DEBUG).
    chatter = (logging.WARNING, logging.INFO, logging.DEBUG)[min(ctx.verbose, 2)]
    code = run_crawls(settings, lambda runner: daemon_module.main(runner, settings, once, chatter))
    if code:
        raise SystemExit(code)
