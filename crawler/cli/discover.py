"""`watchdesk discover`: look for follow-ups of an event on the outlets its sources cite."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import click
from rich.console import Console
from scrapy.crawler import AsyncCrawlerRunner
from scrapy.settings import Settings
from scrapy.spiderloader import SpiderLoader
from sqlalchemy import select
from sqlalchemy.orm import Session

from crawler.cli.common import Context, crawl_options, pass_context
from crawler.cli.crawl import crawl_settings, parse_overrides
from crawler.running import crawl_once, run_crawls
from spiders.base import OutletSpider
from storage.models import Event, Followup, Outlet, Page, Source, Version, WatchItem
from storage.repositories import get_event, utcnow

#: Per-outlet columns of the summary: label, stats keys summed.
COLUMNS = (
    ("links", ("watchdesk/discovery/links",)),
    ("new", ("watchdesk/discovery/new",)),
    ("seen", ("watchdesk/discovery/seen", "watchdesk/discovery/already_watched")),
    (
        "skipped",
        (
            "watchdesk/discovery/skipped_non_article",
            "watchdesk/discovery/skipped_old",
            "watchdesk/discovery/skipped_offsite",
        ),
    ),
    ("follow-ups", ("watchdesk/followup/found",)),
    ("off-topic", ("watchdesk/followup/off_topic",)),
)
ERROR_KINDS = ("feed", "sitemap", "listing", "robots", "home")


@dataclass(frozen=True)
class Target:
    """One outlet to discover and the spider that does it."""

    outlet: str
    host: str
    spider: str


@click.command()
@click.option("--event", "event_slug", required=True, metavar="SLUG", help="Event to follow up.")
@click.option("--outlet", metavar="NAME", help="Only this outlet (name or host).")
@crawl_options
@pass_context
def discover(
    ctx: Context,
    event_slug: str,
    outlet: str | None,
    host_map: str | None,
    overrides: tuple[str, ...],
) -> None:
    """Find new articles on the outlets an event cites and store those that follow it up.

    Each outlet is read through its profile (feeds, news sitemaps, listings) or, without one,
    through its robots.txt sitemaps and announced feeds. Only URLs never seen before are
    fetched; each is stored as a discovered page and scored against the event's watch items.

    Example: watchdesk discover --event paraguay-pena-taiwan-2026
    """
    settings = crawl_settings(ctx, host_map=host_map, **parse_overrides(overrides))
    started = utcnow()
    with ctx.sessions.begin() as session:
        targets = plan_targets(session, settings, event_slug, outlet)
    if not targets:
        raise click.ClickException(f"event {event_slug!r} cites no outlet to discover")

    results = run_crawls(settings, lambda runner: discover_outlets(runner, targets))
    print_outlets(ctx.console, targets, results)
    with ctx.sessions.begin() as session:
        print_followups(ctx.console, session, event_slug, started)
        print_errors(ctx.console, session, targets)


def plan_targets(
    session: Session, settings: Settings, event_slug: str, outlet: str | None
) -> list[Target]:
    """The outlets the event's active sources cite, each with its profile (or `generic`)."""
    if get_event(session, event_slug) is None:
        raise click.ClickException(f"no event {event_slug!r}; add it with `watchdesk event add`")
    query = (
        select(Outlet)
        .join(Page, Page.outlet_id == Outlet.id)
        .join(Source, Source.page_id == Page.id)
        .join(Event, Event.id == Source.event_id)
        .where(Event.slug == event_slug, Source.active.is_(True))
        .distinct()
        .order_by(Outlet.name)
    )
    profiles = outlet_profiles(settings)
    targets: dict[str, Target] = {}
    for row in session.scalars(query):
        if row.host and (outlet is None or outlet in (row.name, row.host)):
            spider = profiles.get(row.host, "generic")
            targets.setdefault(row.host, Target(row.name, row.host, spider))
    return list(targets.values())


async def discover_outlets(
    runner: AsyncCrawlerRunner, targets: Sequence[Target]
) -> list[dict[str, Any]]:
    """Run every target's spider at once (each outlet has its own download slot).

    Args:
        runner: the runner from `crawler.running.run_crawls` (the demo passes its own).
        targets: from `plan_targets`.

    Returns:
        Each crawl's stats, in the order of `targets`.
    """
    crawls = [crawl_once(runner, t.spider, outlet=t.host) for t in targets]
    return list(await asyncio.gather(*crawls))


def outlet_profiles(settings: Settings) -> dict[str, str]:
    """host -> spider name, for every outlet profile in SPIDER_MODULES."""
    loader = SpiderLoader.from_settings(settings)
    profiles = {}
    for name in loader.list():
        spider = loader.load(name)
        if issubclass(spider, OutletSpider):
            profiles.update(dict.fromkeys(spider.hosts, name))
    return profiles


def print_outlets(console: Console, targets: list[Target], results: list[dict[str, Any]]) -> None:
    """One line per outlet (a table would not fit 80 columns): what was seen, what came of it."""
    for target, stats in zip(targets, results, strict=True):
        counts = ", ".join(
            f"{sum(stats.get(key, 0) for key in keys)} {label}" for label, keys in COLUMNS
        )
        broken = sum(stats.get(f"watchdesk/discovery/{k}_error", 0) for k in ERROR_KINDS)
        line = f"{target.outlet} ({target.spider}): {counts}, {broken} broken endpoint(s)"
        console.print(line, markup=False, emoji=False, soft_wrap=True)


def print_followups(console: Console, session: Session, event_slug: str, since: datetime) -> None:
    """The follow-ups this run stored, with their watch items and syndication groups."""
    rows = session.execute(
        select(Followup, Page.url, Version.title)
        .join(Event, Event.id == Followup.event_id)
        .join(Page, Page.id == Followup.page_id)
        .outerjoin(Version, Version.id == Followup.version_id)
        .where(Event.slug == event_slug, Followup.detected_at >= since)
        .order_by(Followup.group_key, Followup.score.desc())
    ).all()
    numbers = {i: n for i, n in session.execute(select(WatchItem.id, WatchItem.number))}
    console.print(f"{len(rows)} new follow-up(s) for {event_slug}")
    for followup, url, title in rows:
        items = ", ".join(f"#{numbers.get(i, '?')}" for i in followup.watch_item_ids) or "-"
        console.print(
            f"  {followup.score:5.2f}  items {items}  group {followup.group_key}  {title or ''}",
            markup=False,
            emoji=False,
            soft_wrap=True,
        )
        console.print(f"         {url}", markup=False, emoji=False, soft_wrap=True)


def print_errors(console: Console, session: Session, targets: list[Target]) -> None:
    """Broken endpoints, as stored on the outlet rows."""
    shown: set[str] = set()
    hosts = [t.host for t in targets]
    for outlet in session.scalars(select(Outlet).where(Outlet.host.in_(hosts))):
        if outlet.last_discovery_error and outlet.host not in shown:
            shown.add(outlet.host or "")
            console.print(
                f"broken endpoints of {outlet.name}: {outlet.last_discovery_error}",
                markup=False,
                emoji=False,
                soft_wrap=True,
            )
