"""`watchdesk status`: the schedule as the store holds it, read with Core queries.

Nothing here imports the ORM, the scheduler or Scrapy (`storage.overview` reads the
tables): the command answers in a fraction of a second, which tests/test_cli.py holds.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text
from sqlalchemy import Connection

from crawler.cli.common import Context, pass_context
from scheduler.breaker import phase
from scheduler.names import DAEMON_LEASE
from storage.overview import (
    EventSchedule,
    event_schedules,
    get_lease,
    last_digest,
    list_outlets,
    list_workers,
    load_breakers,
)

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
    now = datetime.now(UTC)
    with ctx.engine.connect() as connection:
        print_daemon(ctx.console, connection, now)
        print_workers(ctx.console, connection, now)
        events = event_schedules(connection, slug)
        if slug and not events:
            raise click.ClickException(f"no event {slug!r}; see `watchdesk event list`")
        for event in events:
            print_event(ctx.console, connection, event, now, None if show_all else STATUS_ROWS)
        print_outlets(ctx.console, connection, now)


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


def print_daemon(console: Console, connection: Connection, now: datetime) -> None:
    """Which daemon leads (digests, feeds), and until when its lease holds."""
    lease = get_lease(connection, DAEMON_LEASE)
    if lease is None:
        console.print("daemon leader: none (no leader lease)")
    elif lease.until < now:
        line = f"daemon leader: {lease.owner} (lease expired {ago(lease.until, now)})"
        console.print(line, markup=False, emoji=False)
    else:
        line = f"daemon leader: {lease.owner}, lease until {lease.until:%Y-%m-%d %H:%M:%S} UTC"
        console.print(line, markup=False, emoji=False)


def print_workers(console: Console, connection: Connection, now: datetime) -> None:
    """The live workers and daemons: last heartbeat, pages and hosts they hold."""
    rows = list_workers(connection, now)
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
    console: Console,
    connection: Connection,
    event: EventSchedule,
    now: datetime,
    rows: int | None = None,
) -> None:
    """One event's sources with their schedule and state (the first `rows` of them, pages
    that are not "ok" first, then the soonest due; None lists all)."""
    digest = last_digest(connection, event.slug)
    title = Text(f"{event.slug} (last digest: {ago(digest, now)})")
    table = Table(title=title, title_justify="left")
    for column in ("outlet", "url", "state", "last check", "next check", "failures"):
        table.add_column(column, overflow="fold")
    sources = list(event.sources)
    if rows is not None and len(sources) > rows:
        sources.sort(key=lambda s: (s.state == "ok", s.next_check_at or now))
    for source in sources[:rows]:
        table.add_row(  # card and page text as Text: never read as console markup
            Text(source.outlet_name),
            Text(source.url),
            source.state,
            ago(source.last_checked_at, now),
            "leased"
            if source.lease_until and source.lease_until > now
            else ago(source.next_check_at, now),
            str(source.consecutive_failures),
        )
    console.print(table)
    hidden = sources[rows:] if rows is not None else []
    if hidden:
        counts = Counter(source.state for source in hidden)
        summary = ", ".join(f"{state} {count}" for state, count in sorted(counts.items()))
        console.print(f"… and {len(hidden)} more sources ({summary}); --all lists them")


def print_outlets(console: Console, connection: Connection, now: datetime) -> None:
    """Outlets: breaker state and discovery schedule."""
    breakers = load_breakers(connection)
    table = Table(title="outlets", title_justify="left")
    for column in ("outlet", "host", "breaker", "next discovery", "discovery failures"):
        table.add_column(column, overflow="fold")
    for outlet in list_outlets(connection):
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
