"""`watchdesk daemon` (scheduled rechecks, discovery, digests) and `watchdesk status`."""

from __future__ import annotations

import logging
import os
from collections import Counter
from datetime import datetime, timedelta

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from crawler.cli.common import Context, crawl_options, pass_context
from scheduler import state
from scheduler.breaker import phase
from scheduler.digests import last_digest
from storage.models import Event, Outlet, Source
from storage.repositories import utcnow
from storage.workers import list_workers


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
    # Scrapy, APScheduler and the renderers only here: `watchdesk status` stays quick.
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


#: Sources listed per event unless `--all`: a table of a thousand rows takes rich a second
#: to lay out and no one reads it; the rest are summed up by state under the table.
STATUS_ROWS = 30


@click.command()
@click.option("--event", "slug", metavar="SLUG", help="Only this event's sources.")
@click.option("--all", "show_all", is_flag=True, help="List every source, not the first 30.")
@pass_context
def status(ctx: Context, slug: str | None, show_all: bool) -> None:
    """Show the schedule: each source's last and next check, outlets' breakers, the daemon.

    Also every live worker and daemon: last heartbeat, pages and hosts it holds.
    """
    now = utcnow()
    with ctx.sessions() as session:
        print_daemon(ctx.console, session, now)
        print_workers(ctx.console, session, now)
        # Sources and their pages in two more queries, not one per source.
        query = select(Event).order_by(Event.id)
        query = query.options(selectinload(Event.sources).selectinload(Source.page))
        if slug:
            query = query.where(Event.slug == slug)
        events = list(session.scalars(query))
        if slug and not events:
            raise click.ClickException(f"no event {slug!r}; see `watchdesk event list`")
        for event in events:
            print_event(ctx.console, session, event, now, None if show_all else STATUS_ROWS)
        print_outlets(ctx.console, session, now)


def ago(moment: datetime | None, now: datetime) -> str:
    """`5m ago`, `in 2h`, `due 3m ago`-style relative time (or `-`)."""
    if moment is None:
        return "-"
    delta = moment - now
    text = _short(abs(delta))
    return f"in {text}" if delta > timedelta(0) else f"{text} ago"


def _short(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def print_daemon(console: Console, session: Session, now: datetime) -> None:
    """Which daemon leads (digests, feeds), and until when its lease holds."""
    lease = state.get_lease(session, state.DAEMON_LEASE)
    if lease is None:
        console.print("daemon leader: none (no leader lease)")
    elif lease.until < now:
        line = f"daemon leader: {lease.owner} (lease expired {ago(lease.until, now)})"
        console.print(line, markup=False, emoji=False)
    else:
        line = f"daemon leader: {lease.owner}, lease until {lease.until:%Y-%m-%d %H:%M:%S} UTC"
        console.print(line, markup=False, emoji=False)


def print_workers(console: Console, session: Session, now: datetime) -> None:
    """The live workers and daemons: last heartbeat, pages and hosts they hold."""
    rows = list_workers(session, now)
    if not rows:
        console.print("workers: none running")
        return
    table = Table(title="workers", title_justify="left")
    for column in ("worker", "host", "pid", "started", "last heartbeat", "pages", "hosts"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
            Text(row.name),
            Text(row.host),
            str(row.pid),
            ago(row.started_at, now),
            ago(row.heartbeat_at, now),
            str(row.pages),
            str(row.hosts),
        )
    console.print(table)


def print_event(
    console: Console, session: Session, event: Event, now: datetime, rows: int | None = None
) -> None:
    """One event's sources with their schedule and state (the first `rows` of them, pages
    that are not "ok" first, then the soonest due; None lists all)."""
    digest = last_digest(session, event.slug)
    title = Text(f"{event.slug} (last digest: {ago(digest, now)})")
    table = Table(title=title, title_justify="left")
    for column in ("outlet", "url", "state", "last check", "next check", "failures"):
        table.add_column(column, overflow="fold")
    sources = [source for source in event.sources if source.active]
    if rows is not None and len(sources) > rows:
        sources.sort(key=lambda s: (s.page.state == "ok", s.page.next_check_at or now))
    for source in sources[:rows]:
        page = source.page
        table.add_row(  # card and page text as Text: never read as console markup
            Text(source.outlet_name),
            Text(page.url),
            page.state,
            ago(page.last_checked_at, now),
            "leased"
            if page.lease_until and page.lease_until > now
            else ago(page.next_check_at, now),
            str(page.consecutive_failures),
        )
    console.print(table)
    hidden = sources[rows:] if rows is not None else []
    if hidden:
        counts = Counter(source.page.state for source in hidden)
        summary = ", ".join(f"{state} {count}" for state, count in sorted(counts.items()))
        console.print(f"… and {len(hidden)} more sources ({summary}); --all lists them")


def print_outlets(console: Console, session: Session, now: datetime) -> None:
    """Outlets: breaker state and discovery schedule."""
    breakers = state.load_breakers(session)
    table = Table(title="outlets", title_justify="left")
    for column in ("outlet", "host", "breaker", "next discovery", "discovery failures"):
        table.add_column(column, overflow="fold")
    for outlet in session.scalars(select(Outlet).order_by(Outlet.name)):
        breaker = breakers.get(outlet.host or "")
        shown = phase(breaker, now).value
        if breaker is not None:
            shown += f" (until {breaker.until:%H:%M:%S}, trip {breaker.trips})"
        table.add_row(
            Text(outlet.name),
            Text(outlet.host or "-"),
            shown,
            ago(outlet.next_discovery_at, now),
            str(outlet.discovery_failures),
        )
    console.print(table)
