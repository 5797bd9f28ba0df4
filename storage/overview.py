"""What the read-only commands show (`watchdesk event list`, `watchdesk status`), read with
Core queries on `storage.schema`.

They stay quick because this imports neither the ORM nor the mapped classes, the
scheduler's state or the crawler (only the pure `scheduler.breaker` and `scheduler.names`).
Each function takes a `Connection` or a `Session`: the daemon reads its leader lease,
breakers and last digests through the same functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Connection, and_, func, select

from scheduler.breaker import Breaker
from scheduler.names import BREAKER_PREFIX, DIGEST_KIND, slug_key
from storage.schema import event, host_lease, lease, outlet, page, run, source, worker

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


@dataclass(frozen=True)
class EventRow:
    """One stored event as `watchdesk event list` shows it."""

    slug: str
    date: str | None
    title: str
    sources: int
    """Active sources (a retired citation is not counted)."""


def events_with_counts(connection: Connection | Session) -> list[EventRow]:
    """Every event, the newest first, with its active source count."""
    query = (
        select(event.c.slug, event.c.date, event.c.title, func.count(source.c.id))
        .select_from(event)
        .outerjoin(source, and_(source.c.event_id == event.c.id, source.c.active.is_(True)))
        .group_by(event.c.id, event.c.slug, event.c.date, event.c.title)
        .order_by(event.c.date.desc(), event.c.slug)
    )
    return [EventRow(*row) for row in connection.execute(query)]


@dataclass(frozen=True)
class LeaseRow:
    owner: str
    until: datetime


def get_lease(connection: Connection | Session, name: str) -> LeaseRow | None:
    """The named lease, held or expired, or None."""
    row = connection.execute(
        select(lease.c.owner, lease.c.until).where(lease.c.name == name)
    ).first()
    return None if row is None else LeaseRow(*row)


def load_breakers(connection: Connection | Session) -> dict[str, Breaker]:
    """host -> its tripped breaker (closed breakers have no row)."""
    rows = connection.execute(
        select(lease.c.name, lease.c.owner, lease.c.until).where(
            lease.c.name.startswith(BREAKER_PREFIX)
        )
    )
    return {
        name.removeprefix(BREAKER_PREFIX): Breaker(until, int(owner or 1))
        for name, owner, until in rows
    }


def last_digest(connection: Connection | Session, slug: str) -> datetime | None:
    """When the event's newest digest period ended (None: never)."""
    return connection.scalar(
        select(run.c.finished_at)
        .where(run.c.kind == DIGEST_KIND, run.c.owner == slug_key(slug))
        .order_by(run.c.finished_at.desc())
        .limit(1)
    )


@dataclass(frozen=True)
class WorkerRow:
    """One worker as `watchdesk status` shows it."""

    name: str
    host: str
    pid: int
    started_at: datetime
    heartbeat_at: datetime
    pages: int
    hosts: int


def list_workers(connection: Connection | Session, now: datetime) -> list[WorkerRow]:
    """Every registered worker with the pages and hosts it holds now."""
    page_counts = connection.execute(
        select(page.c.lease_owner, func.count(page.c.id))
        .where(page.c.lease_owner.is_not(None), page.c.lease_until >= now)
        .group_by(page.c.lease_owner)
    )
    host_counts = connection.execute(
        select(host_lease.c.owner, func.count(host_lease.c.host))
        .where(host_lease.c.owner.is_not(None), host_lease.c.until >= now)
        .group_by(host_lease.c.owner)
    )
    pages = {owner: count for owner, count in page_counts}
    hosts = {owner: count for owner, count in host_counts}
    rows = connection.execute(
        select(
            worker.c.name, worker.c.host, worker.c.pid, worker.c.started_at, worker.c.heartbeat_at
        ).order_by(worker.c.started_at, worker.c.name)
    )
    return [
        WorkerRow(*row, pages=pages.get(row.name, 0), hosts=hosts.get(row.name, 0)) for row in rows
    ]


@dataclass(frozen=True)
class SourceRow:
    """An active source of an event and the schedule of its page."""

    outlet_name: str
    url: str
    state: str
    last_checked_at: datetime | None
    next_check_at: datetime | None
    lease_until: datetime | None
    consecutive_failures: int


@dataclass(frozen=True)
class EventSchedule:
    slug: str
    sources: list[SourceRow]
    """In citation order (source id)."""


def event_schedules(
    connection: Connection | Session, slug: str | None = None
) -> list[EventSchedule]:
    """Each event (or only `slug`'s), in the order they were added, with its active sources:
    two queries, whatever the number of sources."""
    query = select(event.c.id, event.c.slug).order_by(event.c.id)
    if slug:
        query = query.where(event.c.slug == slug)
    events = {row.id: EventSchedule(row.slug, []) for row in connection.execute(query)}
    if not events:
        return []
    rows = connection.execute(
        select(
            source.c.event_id,
            source.c.outlet_name,
            page.c.url,
            page.c.state,
            page.c.last_checked_at,
            page.c.next_check_at,
            page.c.lease_until,
            page.c.consecutive_failures,
        )
        .join(page, page.c.id == source.c.page_id)
        .where(source.c.active.is_(True), source.c.event_id.in_(list(events)))
        .order_by(source.c.event_id, source.c.id)
    )
    for event_id, *values in rows:
        events[event_id].sources.append(SourceRow(*values))
    return list(events.values())


@dataclass(frozen=True)
class OutletRow:
    name: str
    host: str | None
    next_discovery_at: datetime | None
    discovery_failures: int


def list_outlets(connection: Connection | Session) -> list[OutletRow]:
    """Every outlet by name, with its discovery schedule."""
    rows = connection.execute(
        select(
            outlet.c.name, outlet.c.host, outlet.c.next_discovery_at, outlet.c.discovery_failures
        ).order_by(outlet.c.name)
    )
    return [OutletRow(*row) for row in rows]
