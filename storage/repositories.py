"""Repository functions: each takes a Session; the caller owns the transaction.

(As SQLAlchemy's session docs prescribe: the CLI frames one transaction per command, the
record pipeline one per checked page, a scheduler job one per job.)
"""

from __future__ import annotations

import os
import socket
import uuid
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, Select, exists, func, or_, select, update
from sqlalchemy.orm import Session

from crawler.cards.model import Card
from crawler.extract.article import BODY_COMPRESSION_LEVEL, ArticleText
from crawler.fetch.urls import host_of, normalize_url, url_key
from storage.models import (
    Change,
    Event,
    Fetch,
    Followup,
    Outlet,
    Page,
    Source,
    Version,
    WatchItem,
)


def utcnow() -> datetime:
    """Aware UTC now; the store refuses naive datetimes."""
    return datetime.now(UTC)


# --- events -------------------------------------------------------------------------------


@dataclass
class EventDelta:
    """What `upsert_event` did, for the command to tell the user."""

    slug: str
    created: bool = False
    unchanged: bool = False
    sources_added: list[str] = field(default_factory=list)
    sources_retired: list[str] = field(default_factory=list)
    sources_updated: list[str] = field(default_factory=list)
    items_added: list[int] = field(default_factory=list)
    items_retired: list[int] = field(default_factory=list)
    items_changed: list[int] = field(default_factory=list)


def get_event(session: Session, slug: str) -> Event | None:
    """The event with this slug, or None."""
    return session.scalar(select(Event).where(Event.slug == slug))


def upsert_event(session: Session, card: Card, digest: str, card_text: str) -> EventDelta:
    """Store a card, or bring a stored one up to date; idempotent for an unchanged card."""
    now = utcnow()
    event = get_event(session, card.slug)
    delta = EventDelta(card.slug, created=event is None)
    if event is not None and event.digest == digest:
        delta.unchanged = True
        return delta
    if event is None:
        event = Event(slug=card.slug, created_at=now, card_text=card_text, digest=digest)
        session.add(event)
    event.title, event.lede, event.type, event.date = card.title, card.lede, card.type, card.date
    event.summary, event.canonical_url = card.summary, card.canonical_url
    event.entities = list(card.entities)
    event.entity_terms = {k: list(v) for k, v in card.extra_entity_terms.items()}
    event.digest, event.card_text, event.updated_at = digest, card_text, now
    session.flush()
    _sync_watch_items(session, event, card, delta)
    _sync_sources(session, event, card, delta)
    return delta


def _sync_watch_items(session: Session, event: Event, card: Card, delta: EventDelta) -> None:
    existing = {item.number: item for item in event.watch_items}
    for spec in card.watch_items:
        terms = {lang: list(words) for lang, words in spec.terms.items()}
        item = existing.pop(spec.number, None)
        if item is None:
            session.add(WatchItem(event=event, number=spec.number, text=spec.text, terms=terms))
            delta.items_added.append(spec.number)
        elif item.text != spec.text or item.terms != terms or not item.active:
            item.text, item.terms, item.active = spec.text, terms, True
            delta.items_changed.append(spec.number)
    for item in existing.values():
        if item.active:
            item.active = False
            delta.items_retired.append(item.number)


def _sync_sources(session: Session, event: Event, card: Card, delta: EventDelta) -> None:
    existing = {source.page.url: source for source in event.sources}
    for spec in card.sources:
        outlet = get_or_create_outlet(session, spec.outlet, host_of(spec.url))
        page = ensure_page(session, spec.url, outlet, origin="cited")
        source = existing.pop(page.url, None)
        fields = dict(
            outlet_name=spec.outlet,
            region=spec.region,
            language=spec.language,
            lens=spec.lens,
            take=spec.take,
            quote=spec.quote,
        )
        if source is None:
            session.add(Source(event=event, page=page, **fields))
            delta.sources_added.append(page.url)
            continue
        changed = any(getattr(source, k) != v for k, v in fields.items()) or not source.active
        for key, value in fields.items():
            setattr(source, key, value)
        source.active = True
        if changed:
            delta.sources_updated.append(page.url)
    for url, source in existing.items():
        if source.active:
            source.active = False
            delta.sources_retired.append(url)


def get_or_create_outlet(session: Session, name: str, host: str | None) -> Outlet:
    """The outlet called `name`, created on first sight."""
    outlet = session.scalar(select(Outlet).where(Outlet.name == name))
    if outlet is None:
        outlet = Outlet(name=name, host=host)
        session.add(outlet)
        session.flush()
    return outlet


def ensure_page(session: Session, url: str, outlet: Outlet | None, origin: str) -> Page:
    """The watched page for `url` (normalised), created due now on first sight."""
    url = normalize_url(url)
    page = session.scalar(select(Page).where(Page.url == url))
    if page is None:
        now = utcnow()
        page = Page(
            url=url,
            url_key=url_key(url),
            host=host_of(url),
            outlet=outlet,
            origin=origin,
            first_seen_at=now,
            next_check_at=now,
        )
        session.add(page)
        session.flush()
    elif page.outlet is None and outlet is not None:
        page.outlet = outlet
    return page


# --- choosing and claiming pages -------------------------------------------------------------


def still_rechecked(now: datetime, discovered_days: float) -> ColumnElement[bool]:
    """SQL condition: the page is still worth scheduled rechecks.

    Cited pages always are. A discovered article is rechecked (a failed first fetch retried,
    an edit re-scored) for `discovered_days` after discovery; after that only if an event
    took it as a follow-up or a card came to cite it. Off-topic news is most of what
    discovery fetches: rechecking it for ever would soon be most of the crawl.
    """
    followed = exists().where(Followup.page_id == Page.id)
    cited = exists().where(Source.page_id == Page.id, Source.active.is_(True))
    cutoff = now - timedelta(days=discovered_days)
    return or_(Page.origin != "discovered", Page.first_seen_at >= cutoff, followed, cited)


def select_pages(
    *,
    event_slug: str | None = None,
    urls: Sequence[str] = (),
    outlet: str | None = None,
    due_before: datetime | None = None,
    discovered_days: float | None = None,
) -> Select[tuple[Page]]:
    """A query for the watched pages a crawl should check (active citations only); with
    `due_before`, discovered articles past their `discovered_days` are left out
    (`still_rechecked`)."""
    query = select(Page).order_by(Page.id)
    if event_slug is not None:
        query = (
            query.join(Source, Source.page_id == Page.id)
            .join(Event, Event.id == Source.event_id)
            .where(Event.slug == event_slug, Source.active.is_(True))
        )
    if urls:
        query = query.where(Page.url.in_([normalize_url(u) for u in urls]))
    if outlet is not None:
        query = query.join(Outlet, Outlet.id == Page.outlet_id).where(
            or_(Outlet.name == outlet, Outlet.host == outlet)
        )
    if due_before is not None:
        query = query.where(or_(Page.next_check_at.is_(None), Page.next_check_at <= due_before))
        if discovered_days is not None:
            query = query.where(still_rechecked(due_before, discovered_days))
    return query


def lease_owner(kind: str) -> str:
    """A lease owner name that says where it runs: `kind@host:pid:random`."""
    return f"{kind}@{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[:64]


def _dead_local_owners(session: Session, page_ids: Sequence[int]) -> list[str]:
    """Owners of leases on these pages that ran on this host in a process that is gone
    (killed with -9, say): their leases need not wait for the expiry."""
    here = socket.gethostname()
    owners = session.scalars(
        select(Page.lease_owner).where(Page.id.in_(page_ids), Page.lease_owner.is_not(None))
    )
    dead = []
    for owner in set(owners):
        host, _, rest = (owner or "").partition("@")[2].partition(":")
        pid = rest.partition(":")[0]
        if host == here and pid.isdigit() and not process_alive(int(pid)):
            dead.append(owner)
    return dead


def process_alive(pid: int) -> bool:
    """Whether a process of this machine with that pid exists (a lease holder's liveness)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def claim_pages(session: Session, page_ids: Sequence[int], owner: str, ttl: timedelta) -> list[int]:
    """Lease pages to `owner` so that no other run checks them meanwhile.

    A page whose lease has expired, or whose holder was a process of this host that has
    died, can be claimed again. Returns the ids actually claimed; the update is one
    statement, so two workers never both win a page.
    """
    now = utcnow()
    if not page_ids:
        return []
    dead = _dead_local_owners(session, page_ids)
    session.execute(
        update(Page)
        .where(Page.id.in_(page_ids))
        .where(
            or_(
                Page.lease_until.is_(None),
                Page.lease_until < now,
                Page.lease_owner == owner,
                Page.lease_owner.in_(dead),
            )
        )
        .values(lease_owner=owner, lease_until=now + ttl)
    )
    return list(
        session.scalars(select(Page.id).where(Page.id.in_(page_ids), Page.lease_owner == owner))
    )


def release_pages(session: Session, owner: str, page_ids: Sequence[int] | None = None) -> None:
    """Give back leases held by `owner` (all of them when `page_ids` is None)."""
    query = update(Page).where(Page.lease_owner == owner)
    if page_ids is not None:
        query = query.where(Page.id.in_(page_ids))
    session.execute(query.values(lease_owner=None, lease_until=None))


# --- versions -------------------------------------------------------------------------------


def latest_version(session: Session, page_id: int) -> Version | None:
    """The newest stored version of a page."""
    return session.scalar(
        select(Version).where(Version.page_id == page_id).order_by(Version.number.desc()).limit(1)
    )


def latest_versions(session: Session, page_ids: list[int]) -> dict[int, Version]:
    """The newest stored version of each page that has one, in one query."""
    if not page_ids:
        return {}
    newest = (
        select(Version.page_id, func.max(Version.number).label("number"))
        .where(Version.page_id.in_(page_ids))
        .group_by(Version.page_id)
        .subquery()
    )
    query = select(Version).join(
        newest, (Version.page_id == newest.c.page_id) & (Version.number == newest.c.number)
    )
    return {version.page_id: version for version in session.scalars(query)}


def earlier_version(
    session: Session, page_id: int, fingerprint: str, before_number: int
) -> Version | None:
    """The newest version older than `before_number` with this fingerprint (a revert's
    target), or None."""
    query = (
        select(Version)
        .where(
            Version.page_id == page_id,
            Version.fingerprint == fingerprint,
            Version.number < before_number,
        )
        .order_by(Version.number.desc())
        .limit(1)
    )
    return session.scalar(query)


def reported_since(session: Session, page_id: int, after_number: int) -> bool:
    """Whether a significant change led to any version newer than `after_number` (what a
    revert to that version would undo)."""
    query = (
        select(Change.id)
        .join(Version, Version.id == Change.to_version_id)
        .where(
            Change.page_id == page_id,
            Change.significant.is_(True),
            Version.number > after_number,
        )
        .limit(1)
    )
    return session.scalar(query) is not None


def add_version(
    session: Session,
    page: Page,
    article: ArticleText,
    *,
    fingerprint: str,
    text_hash: str,
    body: bytes,
    body_hash: str,
    final_url: str,
    extractor: str,
    extractor_version: str,
    seen_at: datetime,
    compressed_body: bytes | None = None,
    number: int | None = None,
) -> Version:
    """Add the next version of `page` to the session (versions are never updated); it is
    written at the session's next flush, with the rest of its batch.

    `compressed_body`: `body` already compressed (by the extraction worker), else it is
    compressed here. `number`: the version's number when the caller knows the latest one,
    else read from the store.
    """
    if number is None:
        previous = latest_version(session, page.id)
        number = previous.number + 1 if previous else 1
    version = Version(
        page_id=page.id,
        number=number,
        seen_at=seen_at,
        fingerprint=fingerprint,
        text_hash=text_hash,
        body_hash=body_hash,
        final_url=final_url,
        title=article.title,
        headlines=dict(article.headlines),
        byline=article.byline,
        published=article.published,
        published_guessed=article.published_guessed,
        modified=article.modified,
        language=article.language,
        canonical_url=article.canonical_url,
        paragraphs=list(article.paragraphs),
        extractor=extractor,
        extractor_version=extractor_version,
        raw_html=compressed_body or zlib.compress(body, BODY_COMPRESSION_LEVEL),
    )
    session.add(version)
    return version


def article_of(version: Version) -> ArticleText:
    """Rebuild the ArticleText a version was stored from."""
    return ArticleText(
        title=version.title,
        paragraphs=tuple(version.paragraphs),
        headlines=dict(version.headlines),
        byline=version.byline,
        published=version.published,
        published_guessed=version.published_guessed,
        modified=version.modified,
        language=version.language,
        canonical_url=version.canonical_url,
    )


def raw_html_of(version: Version) -> bytes:
    """The response body a version was extracted from."""
    return zlib.decompress(version.raw_html)


# --- history --------------------------------------------------------------------------------


def page_by_url(session: Session, url: str) -> Page | None:
    """The watched page for `url`, matched on the normalised URL, then the identity key."""
    page = session.scalar(select(Page).where(Page.url == normalize_url(url)))
    if page is None:
        page = session.scalar(select(Page).where(Page.url_key == url_key(url)).limit(1))
    return page


def fetches_of(session: Session, page_id: int, limit: int = 50) -> list[Fetch]:
    """The newest fetch rows of a page, newest first."""
    query = select(Fetch).where(Fetch.page_id == page_id).order_by(Fetch.id.desc()).limit(limit)
    return list(session.scalars(query))


def versions_of(session: Session, page_id: int) -> list[Version]:
    """All versions of a page, oldest first."""
    query = select(Version).where(Version.page_id == page_id).order_by(Version.number)
    return list(session.scalars(query))


def changes_of(session: Session, page_id: int) -> list[Change]:
    """All changes of a page, oldest first."""
    query = select(Change).where(Change.page_id == page_id).order_by(Change.id)
    return list(session.scalars(query))
