"""Discovery's memory and follow-up recording: seen URLs, outlet state, Followup rows.

Everything a discovery run decides from lives in these tables, never in a spider's memory, so
two workers can discover for the same outlet: a URL is claimed by inserting its `SeenUrl` row
with "on conflict do nothing", and only the worker whose insert landed fetches the page.
Relevance comes from the pure matcher (`crawler.matching.choose.relate`) through
`storage.linking.relate_article`, in the session's matcher process when a crawl set one;
syndicated copies are grouped by `group_syndicated`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from crawler.fetch.urls import url_key
from crawler.matching.result import Relevance
from crawler.matching.syndication import group_syndicated
from storage.linking import relate_article
from storage.models import Event, Followup, Outlet, Page, SeenUrl, Source, Version
from storage.repositories import ensure_page, latest_version, still_rechecked

#: Error text kept on the outlet row (the log has the rest).
MAX_ERROR_CHARS = 2000


# --- outlets --------------------------------------------------------------------------------


def find_outlets(session: Session, name_or_host: str | None, hosts: Sequence[str]) -> list[Outlet]:
    """Outlet rows a discovery run serves: by name or host, else those on one of `hosts`.

    Several cards may name one publisher differently ("ABC Color", "ABC"); they share a host,
    so all rows on the host are returned, oldest first (the first one owns the seen URLs).
    """
    query = select(Outlet).order_by(Outlet.id)
    if name_or_host:
        first = session.scalar(
            query.where(or_(Outlet.name == name_or_host, Outlet.host == name_or_host))
        )
        hosts = [first.host] if first is not None and first.host else []
    if not hosts:
        return []
    return list(session.scalars(query.where(Outlet.host.in_(list(hosts)))))


def outlet_home(session: Session, outlet: Outlet) -> str | None:
    """`scheme://netloc/` of the outlet's oldest page (so `www.` is the one its links use)."""
    url = session.scalar(
        select(Page.url).where(Page.outlet_id == outlet.id).order_by(Page.id).limit(1)
    )
    if url is None:
        return f"https://{outlet.host}/" if outlet.host else None
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}/"


def events_citing(session: Session, outlet_ids: Sequence[int]) -> list[Event]:
    """Events whose active sources cite a page of one of these outlets.

    DISTINCT over event ids, not event rows: PostgreSQL has no equality for `json` columns
    (a `SELECT DISTINCT event.*` fails there, and with it all discovery on PostgreSQL).
    """
    citing = (
        select(Source.event_id)
        .join(Page, Page.id == Source.page_id)
        .where(Page.outlet_id.in_(list(outlet_ids)), Source.active.is_(True))
    )
    return list(session.scalars(select(Event).where(Event.id.in_(citing)).order_by(Event.id)))


def discovery_since(
    events: Sequence[Event], slack: timedelta = timedelta(days=1)
) -> datetime | None:
    """Links dated before the earliest event (minus `slack`) cannot be follow-ups of any."""
    dates = [_event_day(event) for event in events]
    known = [d for d in dates if d is not None]
    return min(known) - slack if known and len(known) == len(dates) else None


def _event_day(event: Event) -> datetime | None:
    """The card's `date` (ISO day) as aware UTC midnight, None when absent or unreadable."""
    try:
        day = datetime.fromisoformat((event.date or "")[:10])
    except ValueError:
        return None
    return day.replace(tzinfo=UTC)


def record_discovery_run(
    session: Session,
    outlet_ids: Sequence[int],
    errors: Sequence[str],
    now: datetime,
    interval: timedelta,
) -> None:
    """Note a finished run on the outlet rows: failures count runs in a row with errors."""
    for outlet in session.scalars(select(Outlet).where(Outlet.id.in_(list(outlet_ids)))):
        if errors:
            outlet.discovery_failures += 1
            outlet.last_discovery_error = "; ".join(errors)[:MAX_ERROR_CHARS]
        else:
            outlet.discovery_failures = 0
            outlet.last_discovery_error = None
        outlet.next_discovery_at = now + interval


# --- seen URLs ------------------------------------------------------------------------------


@dataclass
class Claim:
    """What became of a batch of article links offered to `claim_links`."""

    new: list[tuple[int, str]] = field(default_factory=list)
    """(page id, URL) of pages to fetch now: new to this outlet, claimed by this worker."""
    seen: int = 0
    """Already seen (by an earlier run, earlier in this run, or by another worker)."""
    watched: int = 0
    """Already a watched (cited) page: rechecks follow it, discovery leaves it alone."""


def claim_links(
    session: Session,
    outlet: Outlet,
    links: Sequence[tuple[str, str]],
    now: datetime,
    *,
    owner: str,
    ttl: timedelta,
) -> Claim:
    """Mark article links as seen for `outlet` and create a page for each new one.

    Args:
        session: the caller's transaction.
        outlet: the outlet that owns the seen URLs.
        links: (URL, where it was found) pairs, already filtered to article URLs.
        now: aware UTC time for `first_seen_at`.
        owner: the discovery run that will fetch the new pages: they are created leased to
            it, since a new page is due at once and a recheck loop (a worker's, a daemon's)
            would otherwise claim it and fetch it a second time while discovery fetches it.
        ttl: how long that lease lasts (the run gives back what it did not answer).

    Returns:
        The claim: new pages (origin "discovered", created before the request so the fetch is
        stored like any watched page's), and counts of seen and already watched links.
    """
    claim = Claim()
    for url, found_in in links:
        key = url_key(url)
        if not _insert_seen(session, outlet.id, key, url, found_in, now):
            claim.seen += 1
            continue
        known = session.scalar(select(Page).where(Page.url_key == key).limit(1))
        if known is not None:
            claim.watched += known.origin != "discovered"
            claim.seen += known.origin == "discovered"
            continue
        page = ensure_page(session, url, outlet, origin="discovered")
        page.lease_owner, page.lease_until = owner, now + ttl
        claim.new.append((page.id, page.url))
    return claim


def _insert_seen(
    session: Session, outlet_id: int, key: str, url: str, found_in: str, now: datetime
) -> bool:
    """Insert the SeenUrl row unless it exists; True when this call inserted it.

    "On conflict do nothing" (SQLite and PostgreSQL) rather than a savepoint: pysqlite's
    transaction handling breaks SAVEPOINT, and the unique key settles races between workers.
    """
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    values = dict(outlet_id=outlet_id, url_key=key, url=url, first_seen_at=now, found_in=found_in)
    statement = insert(SeenUrl).values(**values).on_conflict_do_nothing().returning(SeenUrl.id)
    # RETURNING, not rowcount: psycopg reports -1 for INSERT ... ON CONFLICT DO NOTHING.
    return session.execute(statement).scalar() is not None


def retry_pages(
    session: Session,
    outlet_ids: Sequence[int],
    now: datetime,
    discovered_days: float,
    limit: int,
    stale: timedelta,
) -> list[tuple[int, str]]:
    """(id, URL) of the outlets' discovered articles whose first fetch failed and whose
    retry is due: never stored, not leased, within `discovered_days`.

    Their URLs are seen, so the endpoints never offer them again: without this, an article
    that answered 503 once would never be scored. An article never fetched at all (its run
    was stopped) counts once it is `stale` old (a lease time: the run that found it has had
    its chance). Most overdue first, `limit` at most.
    """
    tried = or_(Page.last_checked_at.is_not(None), Page.first_seen_at < now - stale)
    query = (
        select(Page.id, Page.url)
        .where(Page.outlet_id.in_(list(outlet_ids)), Page.origin == "discovered")
        .where(tried, Page.last_changed_at.is_(None))
        .where(or_(Page.next_check_at.is_(None), Page.next_check_at <= now))
        .where(or_(Page.lease_until.is_(None), Page.lease_until < now))
        .where(still_rechecked(now, discovered_days))
        .order_by(Page.next_check_at, Page.id)
        .limit(limit)
    )
    return [(page_id, url) for page_id, url in session.execute(query)]


def seen_count(session: Session, outlet_id: int) -> int:
    """How many URLs discovery has seen for an outlet."""
    query = select(func.count()).select_from(SeenUrl).where(SeenUrl.outlet_id == outlet_id)
    return session.scalar(query) or 0


# --- follow-ups -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FollowupOutcome:
    """How one discovered article relates to one event citing its outlet."""

    event_slug: str
    relevance: Relevance
    followup: Followup | None
    """The stored row when on-topic, else None."""


def record_followup(session: Session, page_id: int, now: datetime) -> list[FollowupOutcome]:
    """Score a discovered page's newest version against every event citing its outlet.

    On-topic articles get (or update) a Followup row with the score, the evidence, the ids of
    the watch items matched and the version scored; then the event's follow-ups are regrouped
    so syndicated copies share a `group_key`. Off-topic articles get no row.

    Args:
        session: the caller's transaction.
        page_id: the discovered page just recorded.
        now: aware UTC time for `detected_at`.

    Returns:
        One outcome per citing event (empty when the page has no version or no outlet).
    """
    page = session.get_one(Page, page_id)
    version = latest_version(session, page_id)
    if version is None or page.outlet_id is None:
        return []
    outlet_ids = _outlet_ids_on_host(session, page)
    outcomes = []
    for event in events_citing(session, outlet_ids):
        relevance = relate_article(session, event, version)
        followup = (
            _store(session, event, page, version, relevance, now) if relevance.on_topic else None
        )
        if followup is not None:
            regroup(session, event)
        outcomes.append(FollowupOutcome(event.slug, relevance, followup))
    return outcomes


def _outlet_ids_on_host(session: Session, page: Page) -> list[int]:
    """The page's outlet and the other rows naming the same publisher (same host)."""
    outlet = session.get_one(Outlet, page.outlet_id)
    if not outlet.host:
        return [outlet.id]
    return list(session.scalars(select(Outlet.id).where(Outlet.host == outlet.host)))


def _text(version: Version) -> str:
    """A version's body as the matcher reads it."""
    return "\n".join(version.paragraphs or [])


def _store(
    session: Session,
    event: Event,
    page: Page,
    version: Version,
    relevance: Relevance,
    now: datetime,
) -> Followup:
    """Insert or refresh the event's follow-up row for this page."""
    followup = session.scalar(
        select(Followup).where(Followup.event_id == event.id, Followup.page_id == page.id)
    )
    if followup is None:
        followup = Followup(event_id=event.id, page_id=page.id, detected_at=now)
        session.add(followup)
    by_number = {item.number: item.id for item in event.watch_items}
    followup.version_id = version.id
    followup.score = relevance.score
    followup.evidence = [*relevance.evidence, *(e for m in relevance.items for e in m.evidence)]
    followup.watch_item_ids = [by_number[m.id] for m in relevance.items if m.id in by_number]
    session.flush()
    return followup


def regroup(session: Session, event: Event) -> None:
    """Give syndicated copies among an event's follow-ups one `group_key`.

    A group keeps the key its oldest member already had, so a report that linked a group
    stays valid when a later copy joins it; a new group is keyed by its oldest member's URL.
    """
    rows = session.execute(
        select(Followup, Page.url, Version)
        .join(Page, Page.id == Followup.page_id)
        .join(Version, Version.id == Followup.version_id)
        .where(Followup.event_id == event.id)
        .order_by(Followup.id)
    ).all()
    versions = {url: (followup, version) for followup, url, version in rows}
    articles = [(url, v.title or "", _text(v), v.published) for url, (_, v) in versions.items()]
    used: set[str] = set()
    for group in group_syndicated(articles):
        members = sorted(((versions[url][0], url) for url in group), key=lambda m: m[0].id)
        oldest, oldest_url = members[0]
        key = oldest.group_key if oldest.group_key not in (None, *used) else None
        key = key or _group_key(url_key(oldest_url))
        used.add(key)
        for followup, _url in members:
            followup.group_key = key


def _group_key(seed: str) -> str:
    """A short stable key for a new group."""
    return hashlib.sha256(seed.encode("utf-8")).hexdigest()[:16]
