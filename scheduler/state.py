"""The daemons' state in the store: leader lease, outlet leases, breakers, due pages and
outlets, page history.

What is due when is a column (`page.next_check_at`, `outlet.next_discovery_at`); which
daemon leads (sends the digests, writes the feeds) is a `lease` row (`daemon-tick`); who runs
an outlet's discovery is a `lease` row (`discovery:<host>`, while the run lasts); an open
breaker is a `lease` row (`breaker:<host>`, until the end of its cool-down, owner = trip
count). Nothing here lives in process memory, so a restarted or replacement daemon carries
on where the last one stopped.

Reads (from the environment, defaults in crawler/settings.py): WATCHDESK_RECHECK_MIN_MINUTES,
WATCHDESK_RECHECK_MAX_DAYS, WATCHDESK_REMOVED_RECHECK_HOURS, WATCHDESK_CADENCE_SCALE,
WATCHDESK_DISCOVERED_RECHECK_DAYS.
"""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import delete, exists, func, or_, select, update
from sqlalchemy.orm import Session

from crawler import settings as defaults
from scheduler.breaker import Breaker
from scheduler.cadence import PageHistory, Policy, next_check
from scheduler.names import BREAKER_PREFIX, DISCOVERY_PREFIX
from storage.models import Change, Event, Fetch, Lease, Outlet, Page, Source, Version
from storage.repositories import still_rechecked

#: Outcomes that count as a failed fetch for the breaker (a 404 is an answer, not an outage).
FAILED_OUTCOMES = frozenset({"transient"})
#: Fetch errors that are refusals, not the outlet failing: its robots.txt said no (Scrapy's
#: RobotsTxtMiddleware message), or the address guard refused the host. They are left out of
#: the breaker's window altogether (neither a failure nor a success). A robots.txt that
#: answers 5xx or not at all ("robots.txt unreachable") is the outlet failing: it counts.
REFUSAL_ERRORS = ("IgnoreRequest: Forbidden by robots.txt", "IgnoreRequest: address guard:")

_RNG = random.Random()  # noqa: S311  (jitter, not secrets)


# --- named leases ----------------------------------------------------------------------------


def take_lease(session: Session, name: str, owner: str, ttl: timedelta, now: datetime) -> bool:
    """Take or renew the lease `name` for `owner`; False while someone else holds it.

    One conditional UPDATE (ours, or expired), else one INSERT … ON CONFLICT DO NOTHING: two
    processes racing for it cannot both win, on SQLite or PostgreSQL.
    """
    until = now + ttl
    renewed = session.execute(
        update(Lease)
        .where(Lease.name == name, or_(Lease.owner == owner, Lease.until < now))
        .values(owner=owner, until=until)
    )
    if renewed.rowcount == 1:  # type: ignore[attr-defined]
        return True
    dialect = session.get_bind().dialect.name
    # The dialect's own INSERT (ON CONFLICT), imported here: `watchdesk status` needs neither.
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    statement = insert(Lease).values(name=name, owner=owner, until=until).on_conflict_do_nothing()
    # RETURNING, not rowcount: psycopg reports -1 for INSERT … ON CONFLICT either way.
    return session.execute(statement.returning(Lease.name)).first() is not None


def release_lease(session: Session, name: str, owner: str) -> None:
    """Give the lease back (only if `owner` still holds it)."""
    session.execute(delete(Lease).where(Lease.name == name, Lease.owner == owner))


# --- breakers --------------------------------------------------------------------------------


def save_breaker(session: Session, host: str, breaker: Breaker | None) -> None:
    """Store a host's breaker (None deletes the row: closed)."""
    name = (BREAKER_PREFIX + host)[:100]
    row = session.get(Lease, name)
    if breaker is None:
        if row is not None:
            session.delete(row)
    elif row is None:
        session.add(Lease(name=name, owner=str(breaker.trips), until=breaker.until))
    else:
        row.owner, row.until = str(breaker.trips), breaker.until


def recent_failures(session: Session, host: str, limit: int) -> list[bool]:
    """Whether each of the newest `limit` fetches of the host's pages failed, newest first
    (robots.txt denials and address guard refusals are not fetches of the outlet's)."""
    refused = [Fetch.error.startswith(prefix, autoescape=True) for prefix in REFUSAL_ERRORS]
    outcomes = session.scalars(
        select(Fetch.outcome)
        .join(Page, Page.id == Fetch.page_id)
        .where(Page.host == host)
        .where(or_(Fetch.error.is_(None), ~or_(*refused)))
        .order_by(Fetch.id.desc())
        .limit(limit)
    )
    return [outcome in FAILED_OUTCOMES for outcome in outcomes]


# --- what is due -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DuePage:
    """A page whose next check has come."""

    id: int
    host: str
    url: str


def due_pages(session: Session, now: datetime) -> list[DuePage]:
    """Unleased pages whose next check has come, most overdue first (discovered articles
    only while `still_rechecked`: WATCHDESK_DISCOVERED_RECHECK_DAYS)."""
    rows = session.execute(
        select(Page.id, Page.host, Page.url)
        .where(or_(Page.next_check_at.is_(None), Page.next_check_at <= now))
        .where(or_(Page.lease_until.is_(None), Page.lease_until < now))
        .where(still_rechecked(now, _env_float("WATCHDESK_DISCOVERED_RECHECK_DAYS")))
        .order_by(Page.next_check_at.is_not(None), Page.next_check_at, Page.id)
    )
    return [DuePage(*row) for row in rows]


def push_back(session: Session, host: str, until: datetime) -> None:
    """Move the next checks of the host's pages due before `until` to `until` (an outlet
    whose breaker is open until then)."""
    due = or_(Page.next_check_at.is_(None), Page.next_check_at < until)
    session.execute(update(Page).where(Page.host == host, due).values(next_check_at=until))


def outlet_names(session: Session) -> dict[str, str]:
    """host -> the first outlet name on it, for log lines."""
    names: dict[str, str] = {}
    for host, name in session.execute(select(Outlet.host, Outlet.name).order_by(Outlet.id)):
        if host:
            names.setdefault(host, name)
    return names


def due_outlets(session: Session, now: datetime) -> list[tuple[str, str]]:
    """(host, name) of cited outlets whose discovery is due, one per host."""
    rows = session.execute(
        select(Outlet.host, Outlet.name)
        .join(Page, Page.outlet_id == Outlet.id)
        .join(Source, Source.page_id == Page.id)
        .where(Source.active.is_(True), Outlet.host.is_not(None))
        .where(or_(Outlet.next_discovery_at.is_(None), Outlet.next_discovery_at <= now))
        .order_by(Outlet.id)
    )
    found: dict[str, str] = {}
    for host, name in rows:
        found.setdefault(host, name)
    return list(found.items())


def take_discovery(
    session: Session, host: str, owner: str, interval: timedelta, ttl: timedelta, now: datetime
) -> bool:
    """Take the outlet lease of `host` and move its next discovery on, if it is still due:
    True when `owner` is to run it now.

    The lease keeps a second daemon off while the run lasts (even one longer than the
    interval); the due outlets are re-read `FOR UPDATE` under it, so a daemon that saw the
    outlet due a moment before another ran and rescheduled it finds it not due any more.
    """
    name = (DISCOVERY_PREFIX + host)[:100]
    if not take_lease(session, name, owner, ttl, now):
        return False
    cited = exists().where(
        Page.outlet_id == Outlet.id, Source.page_id == Page.id, Source.active.is_(True)
    )
    due = session.scalars(
        select(Outlet.id)
        .where(Outlet.host == host, cited)
        .where(or_(Outlet.next_discovery_at.is_(None), Outlet.next_discovery_at <= now))
        .with_for_update()
    ).all()
    if not due:
        release_lease(session, name, owner)
        return False
    schedule_discovery(session, host, interval, now)
    return True


def renew_discoveries(session: Session, owner: str, ttl: timedelta, now: datetime) -> None:
    """Extend the outlet leases `owner` holds (its discovery runs still going)."""
    session.execute(
        update(Lease)
        .where(Lease.owner == owner, Lease.name.startswith(DISCOVERY_PREFIX))
        .values(until=now + ttl)
    )


def newest_change_id(session: Session) -> int | None:
    """The id of the newest stored change (None: none yet), to tell feeds out of date."""
    return session.scalar(select(func.max(Change.id)))


def schedule_discovery(session: Session, host: str, interval: timedelta, now: datetime) -> None:
    """Set the next discovery of every outlet on `host`; failing outlets back off (x2 per
    failed run in a row, at most x16)."""
    for outlet in session.scalars(select(Outlet).where(Outlet.host == host)):
        factor = 2 ** min(outlet.discovery_failures, 4)
        outlet.next_discovery_at = now + interval * factor


def event_slugs(session: Session) -> list[tuple[str, datetime]]:
    """(slug, created_at) of every event."""
    return list(session.execute(select(Event.slug, Event.created_at).order_by(Event.id)).tuples())


# --- the page cadence (called from storage.checks for every recorded check) -----------------


def _env_float(name: str) -> float:
    return float(os.environ.get(name) or getattr(defaults, name))


@lru_cache(maxsize=1)
def policy_from_env() -> Policy:
    """The revisit policy, from WATCHDESK_* environment variables over the defaults."""
    return Policy(
        min_interval=timedelta(minutes=_env_float("WATCHDESK_RECHECK_MIN_MINUTES")),
        max_interval=timedelta(days=_env_float("WATCHDESK_RECHECK_MAX_DAYS")),
        removed_interval=timedelta(hours=_env_float("WATCHDESK_REMOVED_RECHECK_HOURS")),
        time_scale=_env_float("WATCHDESK_CADENCE_SCALE"),
    )


_HISTORY_COLUMNS = (
    Version.seen_at,
    Version.modified,
    Version.published,
    Version.published_guessed,
)


def prefetch_histories(session: Session, page_ids: list[int]) -> dict[int, list[Any]]:
    """The version histories of many pages in one query, as `history_from_rows` reads them
    (a recheck of a thousand pages otherwise spends a query per page on it)."""
    rows = session.execute(
        select(Version.page_id, *_HISTORY_COLUMNS)
        .where(Version.page_id.in_(page_ids))
        .order_by(Version.page_id, Version.number)
    ).all()
    histories: dict[int, list[Any]] = {page_id: [] for page_id in page_ids}
    for page_id, *columns in rows:
        histories[page_id].append(tuple(columns))
    return histories


def page_history_rows(session: Session, page_id: int) -> list[Any]:
    """One page's history rows, oldest first (`prefetch_histories` for a single page)."""
    return prefetch_histories(session, [page_id])[page_id]


def history_row(version: Version) -> tuple[Any, ...]:
    """The history row of a version not yet written (stored in the current check)."""
    return (version.seen_at, version.modified, version.published, version.published_guessed)


def history_from_rows(rows: Sequence[Any], page: Page) -> PageHistory:
    """A PageHistory from (seen_at, modified, published, published_guessed) version rows,
    oldest first.

    Only a date the page states (JSON-LD, meta tags) counts: a published date guessed from
    the text (a "Copyright 2026" footer read as 2026-01-01) would make a new article look
    months quiet and push its first recheck out by weeks, so a page with nothing but a
    guess starts at the young-article cadence.
    """
    stated = None
    if rows:
        _seen, modified, published, *rest = rows[-1]
        guessed = bool(rest[0]) if rest else False
        stated = modified or (None if guessed else published)
    return PageHistory(
        watched_since=rows[0][0] if rows else page.first_seen_at,
        change_times=tuple(row[0] for row in rows[1:]),
        stated_date=_parse_date(stated),
        state=page.state,
        consecutive_failures=page.consecutive_failures,
    )


def next_check_for(history: PageHistory, now: datetime) -> datetime:
    """When a page with this history, just checked at `now`, is due again."""
    return next_check(history, now, policy_from_env(), _RNG)


def _parse_date(text: str | None) -> datetime | None:
    """An ISO date from the page, as aware UTC (naive means UTC), or None."""
    try:
        moment = datetime.fromisoformat(text or "")
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
