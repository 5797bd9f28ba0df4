"""Work claimed in batches, hosts leased fleet-wide, every check write fenced.

Any number of workers on any machines share one PostgreSQL store through three statements:

- `take_hosts`: a worker leases outlet *hosts* (one owner per host at a time) and claims
  only pages of hosts it holds, so Scrapy's per-host delay and AutoThrottle stay correct
  across the fleet without a distributed rate limiter; `release_drained_hosts` hands a host
  back once its due pages are done, free for others after the politeness delay.
- `claim_batch`: one `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING`
  bumps each page's `lease_token`; on SQLite (no SKIP LOCKED; one writer at a time anyway)
  the same statement is a plain conditional UPDATE.
- `record_leased_checks`: a check is written only if its page is still leased to the same
  owner under the same token, read `FOR UPDATE` in the writing transaction, so a worker
  paused past its lease (the page since taken over) cannot write afterwards.

Leases are renewed by `renew` while the work is in flight; a dead worker stops renewing
and its leases run out (`storage.workers.reap` frees them sooner).

`watchdesk daemon` uses the same statements one host at a time (`take_host`, `claim_batch`
with `hosts`, `release_host`): its host jobs are workers too.

Reads (from the environment, defaults in crawler/settings.py):
WATCHDESK_DISCOVERED_RECHECK_DAYS.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, literal, or_, select, update
from sqlalchemy.orm import Session

from crawler import settings as defaults
from crawler.items import FetchedPage
from scheduler.names import BREAKER_PREFIX
from storage.checks import CheckResult, CheckRules, record_checks
from storage.models import HostLease, Lease, Page
from storage.repositories import still_rechecked
from storage.schema import UTCDateTime


def _due(now: datetime) -> ColumnElement[bool]:
    """The page's check has come, and it is still rechecked at all: a discovered article
    past WATCHDESK_DISCOVERED_RECHECK_DAYS that no event took is left alone, as the
    daemon's `scheduler.state.due_pages` leaves it."""
    days = float(
        os.environ.get("WATCHDESK_DISCOVERED_RECHECK_DAYS")
        or defaults.WATCHDESK_DISCOVERED_RECHECK_DAYS
    )
    return and_(
        or_(Page.next_check_at.is_(None), Page.next_check_at <= now), still_rechecked(now, days)
    )


def _unleased(now: datetime) -> ColumnElement[bool]:
    return or_(Page.lease_until.is_(None), Page.lease_until < now)


def _breaker_open(now: datetime) -> ColumnElement[bool]:
    """The page's host has an open circuit breaker (a `breaker:<host>` lease row)."""
    return exists().where(Lease.name == literal(BREAKER_PREFIX) + Page.host, Lease.until > now)


def _insert(session: Session) -> Any:
    """The dialect's INSERT (with ON CONFLICT)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


# --- hosts -----------------------------------------------------------------------------------


def held_hosts(session: Session, owner: str, now: datetime) -> list[str]:
    """The hosts `owner` holds now."""
    query = select(HostLease.host).where(HostLease.owner == owner, HostLease.until >= now)
    return list(session.scalars(query.order_by(HostLease.host)))


def take_hosts(session: Session, owner: str, want: int, ttl: timedelta, now: datetime) -> list[str]:
    """Lease up to `want` more hosts with due, unleased pages to `owner`, most overdue first.

    A host is free when it has no row, or its row has run out (a dead owner's lease, or a
    released host whose handover delay is over). Hosts with an open breaker are left alone.
    Two workers racing for a host cannot both win: the UPDATE skips rows another holds
    locked and re-checks the expiry; the INSERT does nothing on conflict.
    """
    if want <= 0:
        return []
    taken_elsewhere = exists().where(HostLease.host == Page.host, HostLease.until >= now)
    overdue = func.min(func.coalesce(Page.next_check_at, literal(now, UTCDateTime())))
    candidates = sorted(
        session.scalars(
            select(Page.host)
            .where(_due(now), _unleased(now), ~taken_elsewhere, ~_breaker_open(now))
            .group_by(Page.host)
            .order_by(overdue, Page.host)
            .limit(want)
        )
    )
    if not candidates:
        return []
    until = now + ttl
    free = (
        select(HostLease.host)
        .where(HostLease.host.in_(candidates), HostLease.until < now)
        .with_for_update(skip_locked=True)
    )
    taken = set(
        session.scalars(
            update(HostLease)
            .where(HostLease.host.in_(free), HostLease.until < now)
            .values(owner=owner, until=until)
            .returning(HostLease.host)
            .execution_options(synchronize_session=False)
        )
    )
    rows = [{"host": host, "owner": owner, "until": until} for host in candidates]
    insert = _insert(session)
    statement = insert(HostLease).values(rows).on_conflict_do_nothing()
    # RETURNING, not rowcount: psycopg reports -1 for INSERT … ON CONFLICT either way.
    taken.update(session.scalars(statement.returning(HostLease.host)))
    return sorted(taken)


def release_drained_hosts(
    session: Session, owner: str, now: datetime, handover: timedelta, *, all_hosts: bool = False
) -> list[str]:
    """Hand back the hosts of `owner` with nothing in flight and nothing left due (every
    host with `all_hosts`, at a stop). Another worker may take them after `handover`."""
    query = update(HostLease).where(HostLease.owner == owner)
    if not all_hosts:
        busy = exists().where(
            Page.host == HostLease.host, Page.lease_owner == owner, Page.lease_until >= now
        )
        pending = exists().where(Page.host == HostLease.host, _due(now), _unleased(now))
        query = query.where(~busy, ~pending)
    statement = (
        query.values(owner=None, until=now + handover)
        .returning(HostLease.host)
        .execution_options(synchronize_session=False)
    )
    return sorted(session.scalars(statement))


def take_host(session: Session, owner: str, host: str, ttl: timedelta, now: datetime) -> bool:
    """Lease one named host to `owner` (a due discovery, with no due page to lead to it);
    False while another holds it or its handover delay runs. Races as `take_hosts` does."""
    until = now + ttl
    free = (
        select(HostLease.host)
        .where(HostLease.host == host, HostLease.until < now)
        .with_for_update(skip_locked=True)
    )
    taken = session.scalars(
        update(HostLease)
        .where(HostLease.host.in_(free), HostLease.until < now)
        .values(owner=owner, until=until)
        .returning(HostLease.host)
        .execution_options(synchronize_session=False)
    ).first()
    if taken is not None:
        return True
    statement = _insert(session)(HostLease).values(host=host, owner=owner, until=until)
    statement = statement.on_conflict_do_nothing().returning(HostLease.host)
    return session.scalars(statement).first() is not None


def release_host(
    session: Session, owner: str, host: str, now: datetime, handover: timedelta
) -> None:
    """Hand one host back when its job is over: free for anyone after `handover`."""
    session.execute(
        update(HostLease)
        .where(HostLease.host == host, HostLease.owner == owner)
        .values(owner=None, until=now + handover)
        .execution_options(synchronize_session=False)
    )


# --- pages -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimedPage:
    """A page claimed for one check, with the lease its result must be written under."""

    id: int
    url: str
    host: str
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    lease: tuple[str, int]
    """(owner, token): `record_leased_checks` writes the check only under this lease."""
    origin: str = "cited"
    """`discovered` for an article discovery found: a new version of it is scored again."""

    def spec(self) -> dict[str, Any]:
        """The page as `spiders.checking.check_request` takes it."""
        keys = ("id", "url", "etag", "last_modified", "body_hash", "lease", "origin")
        return {key: getattr(self, key) for key in keys}


def claim_batch(
    session: Session,
    owner: str,
    limit: int,
    per_host: int,
    ttl: timedelta,
    now: datetime,
    *,
    hosts: Collection[str] | None = None,
) -> list[ClaimedPage]:
    """Claim up to `limit` due pages of the hosts `owner` holds (of those among `hosts`,
    when given), at most `per_host` of each, interleaved host by host (Scrapy counts
    requests waiting for their host's delay as active, so a batch of one host's pages would
    starve the others).

    The ranking runs first, unlocked (PostgreSQL allows no FOR UPDATE with a window
    function); the UPDATE then locks what it takes with SKIP LOCKED and re-checks the lease,
    so a page claimed meanwhile by anyone else is simply left out.
    """
    mine = select(HostLease.host).where(HostLease.owner == owner, HostLease.until >= now)
    if hosts is not None:
        mine = mine.where(HostLease.host.in_(list(hosts)))
    rank = (
        func.row_number()
        .over(partition_by=Page.host, order_by=(Page.next_check_at, Page.id))
        .label("rank")
    )
    ranked = select(Page.id, rank).where(Page.host.in_(mine), _due(now), _unleased(now)).subquery()
    ids = list(
        session.scalars(
            select(ranked.c.id)
            .where(ranked.c.rank <= per_host)
            .order_by(ranked.c.rank, ranked.c.id)
            .limit(limit)
        )
    )
    if not ids:
        return []
    free = select(Page.id).where(Page.id.in_(ids), _unleased(now)).with_for_update(skip_locked=True)
    statement = (
        update(Page)
        .where(Page.id.in_(free), _unleased(now))
        .values(lease_owner=owner, lease_until=now + ttl, lease_token=Page.lease_token + 1)
        .returning(
            Page.id,
            Page.url,
            Page.host,
            Page.etag,
            Page.last_modified,
            Page.body_hash,
            Page.lease_token,
            Page.origin,
        )
        .execution_options(synchronize_session=False)
    )
    rows = {row.id: row for row in session.execute(statement)}
    return [
        ClaimedPage(
            r.id,
            r.url,
            r.host,
            r.etag,
            r.last_modified,
            r.body_hash,
            (owner, r.lease_token),
            r.origin,
        )
        for r in (rows[i] for i in ids if i in rows)
    ]


def renew(
    session: Session, owner: str, page_ids: Collection[int], ttl: timedelta, now: datetime
) -> None:
    """Extend the leases `owner` still holds on `page_ids` and on its hosts.

    Only the pages still in flight: a page whose write failed is let run out, for another
    check later, instead of being held for ever.
    """
    until = now + ttl
    if page_ids:
        session.execute(
            update(Page)
            .where(Page.lease_owner == owner, Page.id.in_(list(page_ids)))
            .values(lease_until=until)
            .execution_options(synchronize_session=False)
        )
    session.execute(
        update(HostLease)
        .where(HostLease.owner == owner)
        .values(until=until)
        .execution_options(synchronize_session=False)
    )


def due_count(session: Session, now: datetime) -> int:
    """Due pages anyone could still check (leased ones included; open breakers not)."""
    query = select(func.count(Page.id)).where(_due(now), ~_breaker_open(now))
    return session.scalar(query) or 0


# --- fenced writes ---------------------------------------------------------------------------


def record_leased_checks(
    session: Session,
    items: Sequence[FetchedPage],
    *,
    now: datetime,
    rules: CheckRules | None = None,
) -> list[CheckResult | None]:
    """`storage.checks.record_checks` for the items whose lease still holds; None for the
    others (their page was taken over: another worker's check of it counts, not this one).

    The pages are read `FOR UPDATE`: nobody can take one over between this check and the
    commit (claims skip locked rows). Items without a lease (`watchdesk crawl`, discovery)
    are written as before.
    """
    leased = sorted({item.page_id for item in items if item.lease is not None})
    current: dict[int, tuple[str | None, int]] = {}
    if leased:
        rows = session.execute(
            select(Page.id, Page.lease_owner, Page.lease_token)
            .where(Page.id.in_(leased))
            .order_by(Page.id)
            .with_for_update()
        )
        current = {row.id: (row.lease_owner, row.lease_token) for row in rows}
    lost = {
        id(item)
        for item in items
        if item.lease is not None and current.get(item.page_id) != tuple(item.lease)
    }
    kept = [item for item in items if id(item) not in lost]
    results = iter(record_checks(session, kept, now=now, rules=rules or CheckRules()))
    return [None if id(item) in lost else next(results) for item in items]
