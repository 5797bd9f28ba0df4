"""`watchdesk crawl`: recheck watched pages now, with progress and a one-screen summary."""

from __future__ import annotations

from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from scrapy.crawler import AsyncCrawlerRunner
from scrapy.settings import Settings

from crawler.cli.common import Context, crawl_options, pass_context
from crawler.config import address_guard_from_settings, project_settings
from crawler.fetch.urls import is_http_url
from crawler.interrupt import Interrupted
from crawler.running import crawl_once, run_crawls
from storage.repositories import ensure_page

#: Outcome stats keys, in the order the summary shows them.
SUMMARY_ROWS = (
    ("checked", "item_scraped_count"),
    ("not modified (304)", "watchdesk/outcome/not_modified"),
    ("unchanged", "watchdesk/outcome/unchanged"),
    ("new versions", "watchdesk/version/new"),
    ("significant changes", "watchdesk/change/significant"),
    ("transient errors", "watchdesk/outcome/transient"),
    ("suspect (held until confirmed)", "watchdesk/outcome/suspect"),
    ("gone (awaiting confirmation)", "watchdesk/outcome/gone_suspected"),
    ("removed", "watchdesk/outcome/removed"),
    ("restored", "watchdesk/outcome/restored"),
    ("skipped: leased by another run", "watchdesk/pages/leased_elsewhere"),
    ("not recorded (store errors)", "watchdesk/record/failed"),
)


@click.command()
@click.option("--event", "event_slug", metavar="SLUG", help="Check the sources of this event.")
@click.option("--url", "urls", multiple=True, metavar="URL", help="Check this URL (repeatable).")
@click.option("--outlet", metavar="NAME", help="Check only this outlet's pages (name or host).")
@click.option("--due", is_flag=True, help="Check only pages whose next check time has come.")
@crawl_options
@pass_context
def crawl(
    ctx: Context,
    event_slug: str | None,
    urls: tuple[str, ...],
    outlet: str | None,
    due: bool,
    host_map: str | None,
    overrides: tuple[str, ...],
) -> None:
    """Recheck the watched pages of an event, some URLs, or an outlet.

    Example: watchdesk crawl --event paraguay-pena-taiwan-2026
    """
    if not (event_slug or urls or outlet or due):
        raise click.UsageError("say what to crawl: --event, --url, --outlet or --due")
    settings = crawl_settings(ctx, host_map=host_map, **parse_overrides(overrides))
    if urls:
        watch_urls(ctx, urls, settings)
    args = {"event": event_slug, "urls": list(urls), "outlet": outlet, "due": due}

    async def main(runner: AsyncCrawlerRunner) -> dict[str, Any]:
        return await watch_with_progress(runner, ctx.console, **args)

    try:
        stats = run_crawls(settings, main)
    except Interrupted as stop:
        print_summary(ctx.console, stop.result or {}, title="crawl (interrupted)")
        given_back = (stop.result or {}).get("watchdesk/pages/claimed", 0) - checked(stop.result)
        ctx.err.print(
            f"interrupted by {stop.signame}: {checked(stop.result)} check(s) recorded, "
            f"{max(given_back, 0)} page(s) given back unchecked",
            markup=False,
        )
        raise SystemExit(stop.exit_code) from None
    print_summary(ctx.console, stats, title="crawl")
    failed = stats.get("watchdesk/record/failed", 0)
    if failed:
        ctx.err.print(
            f"{failed} check(s) could not be recorded (the store refused them; see the log)",
            markup=False,
        )
        raise SystemExit(1)


def checked(stats: dict[str, Any] | None) -> int:
    """Checks the crawl recorded (items that came through every pipeline)."""
    return int((stats or {}).get("item_scraped_count", 0))


def watch_urls(ctx: Context, urls: tuple[str, ...], settings: Settings) -> None:
    """Put URLs given on the command line under watch (once), so `--url` works for any URL
    that is public (the address guard; host map hosts and WATCHDESK_ALLOW_PRIVATE_HOSTS are
    exempt)."""
    guard = address_guard_from_settings(settings)
    for url in urls:
        if not is_http_url(url):
            raise click.BadParameter(f"{url!r} is not an http(s) URL", param_hint="--url")
        refusal = guard.url_problem(url)
        if refusal:
            raise click.BadParameter(f"refused: {refusal}", param_hint="--url")
    with ctx.sessions.begin() as session:
        for url in urls:
            ensure_page(session, url, None, origin="adhoc")


def parse_overrides(pairs: tuple[str, ...]) -> dict[str, str]:
    """NAME=VALUE pairs from `-s`; a pair without `=` is a usage error."""
    values = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise click.BadParameter(f"expected NAME=VALUE, got {pair!r}", param_hint="-s")
        values[name.strip()] = value
    return values


def crawl_settings(ctx: Context, **overrides: Any) -> Settings:
    """Project settings with the CLI's store and options on top."""
    values: dict[str, Any] = {"LOG_LEVEL": ["WARNING", "INFO", "DEBUG"][min(ctx.verbose, 2)]}
    values["WATCHDESK_DB"] = ctx.url
    values["WATCHDESK_HOST_MAP"] = overrides.pop("host_map", None)
    values.update(overrides)
    return project_settings(values)


async def watch_with_progress(
    runner: AsyncCrawlerRunner, console: Console, **spider_args: Any
) -> dict[str, Any]:
    """Run the watch spider once, with a progress bar on a terminal."""
    progress = Progress(
        TextColumn("[bold]checking[/bold]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
    task = progress.add_task("checking", total=None)
    with progress:
        stats = await crawl_once(
            runner, "watch", on_item=lambda _item: progress.advance(task), **spider_args
        )
    return stats


def print_summary(console: Console, stats: dict[str, Any], title: str) -> None:
    """One screen: what was checked and what came of it."""
    table = Table(title=f"watchdesk {title}", show_header=False)
    for label, key in SUMMARY_ROWS:
        table.add_row(label, str(stats.get(key, 0)))
    kinds = sorted(k.rsplit("/", 1)[1] for k in stats if k.startswith("watchdesk/change/"))
    kinds = [k for k in kinds if k != "significant"]
    if kinds:
        table.add_row(
            "change kinds", ", ".join(f"{k} {stats[f'watchdesk/change/{k}']}" for k in kinds)
        )
    elapsed = stats.get("elapsed_time_seconds")
    if elapsed:
        table.add_row("elapsed", f"{elapsed:.1f} s")
    console.print(table)
