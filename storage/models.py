"""The ORM classes, mapped onto the Core tables of `storage.schema` (the one definition of
the schema: columns, types, constraints, indexes). Here only what the ORM adds: the classes,
typed attributes, relationships, and the one deferred column.

The annotations only type the attributes; the columns come from `__table__`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import DeclarativeBase, Mapped, deferred, relationship

from storage import schema
from storage.schema import UTCDateTime  # noqa: F401  (the migrations name it storage.models.UTCDateTime)


class Base(DeclarativeBase):
    """Declarative base over the schema's metadata (the naming convention is there)."""

    metadata = schema.metadata


class Event(Base):
    """An event card as last added."""

    __table__ = schema.event
    id: Mapped[int]
    slug: Mapped[str]
    title: Mapped[str]
    lede: Mapped[str | None]
    type: Mapped[str | None]
    date: Mapped[str | None]
    summary: Mapped[str]
    canonical_url: Mapped[str | None]
    entities: Mapped[list[Any]]
    entity_terms: Mapped[dict[str, Any]]
    match_overrides: Mapped[dict[str, Any]]
    digest: Mapped[str]
    card_text: Mapped[str]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    watch_items: Mapped[list[WatchItem]] = relationship(
        back_populates="event", order_by="WatchItem.number"
    )
    sources: Mapped[list[Source]] = relationship(back_populates="event", order_by="Source.id")

    def __repr__(self) -> str:
        return f"Event(slug={self.slug!r})"


class WatchItem(Base):
    """One "What to watch" line; retired rather than deleted so old links stay valid."""

    __table__ = schema.watch_item
    id: Mapped[int]
    event_id: Mapped[int]
    number: Mapped[int]
    text: Mapped[str]
    terms: Mapped[dict[str, Any]]
    active: Mapped[bool]

    event: Mapped[Event] = relationship(back_populates="watch_items")

    def __repr__(self) -> str:
        return f"WatchItem({self.event_id}#{self.number})"


class Outlet(Base):
    """A publisher, named as the cards name it; discovery state lives here."""

    __table__ = schema.outlet
    id: Mapped[int]
    name: Mapped[str]
    host: Mapped[str | None]
    next_discovery_at: Mapped[datetime | None]
    discovery_failures: Mapped[int]
    last_discovery_error: Mapped[str | None]

    def __repr__(self) -> str:
        return f"Outlet({self.name!r})"


class Page(Base):
    """A watched URL: what we know of it between fetches (validators, state, schedule)."""

    __table__ = schema.page
    id: Mapped[int]
    url: Mapped[str]
    url_key: Mapped[str]
    host: Mapped[str]
    canonical_url: Mapped[str | None]
    outlet_id: Mapped[int | None]
    origin: Mapped[str]
    state: Mapped[str]
    consecutive_failures: Mapped[int]
    consecutive_gone: Mapped[int]
    failing_since: Mapped[datetime | None]
    etag: Mapped[str | None]
    last_modified: Mapped[str | None]
    body_hash: Mapped[str | None]
    redirected_to: Mapped[str | None]
    last_status: Mapped[int | None]
    gone_since: Mapped[datetime | None]
    full_fetch_at: Mapped[datetime | None]
    suspect_fingerprint: Mapped[str | None]
    suspect_since: Mapped[datetime | None]
    suspect_reason: Mapped[str | None]
    first_seen_at: Mapped[datetime]
    last_checked_at: Mapped[datetime | None]
    last_changed_at: Mapped[datetime | None]
    next_check_at: Mapped[datetime | None]
    lease_owner: Mapped[str | None]
    lease_until: Mapped[datetime | None]
    lease_token: Mapped[int]

    outlet: Mapped[Outlet | None] = relationship()

    def __repr__(self) -> str:
        return f"Page({self.url!r}, state={self.state!r})"


class Source(Base):
    """A card's citation of a page (the regional take that cites it)."""

    __table__ = schema.source
    id: Mapped[int]
    event_id: Mapped[int]
    page_id: Mapped[int]
    outlet_name: Mapped[str]
    region: Mapped[str | None]
    language: Mapped[str | None]
    lens: Mapped[str | None]
    take: Mapped[str | None]
    quote: Mapped[str | None]
    active: Mapped[bool]

    event: Mapped[Event] = relationship(back_populates="sources")
    page: Mapped[Page] = relationship()


class Version(Base):
    """One distinct extraction of a page; never updated once written."""

    __table__ = schema.version
    id: Mapped[int]
    page_id: Mapped[int]
    number: Mapped[int]
    seen_at: Mapped[datetime]
    fingerprint: Mapped[str]
    text_hash: Mapped[str]
    body_hash: Mapped[str]
    final_url: Mapped[str]
    title: Mapped[str | None]
    headlines: Mapped[dict[str, Any]]
    byline: Mapped[str | None]
    published: Mapped[str | None]
    published_guessed: Mapped[bool]
    modified: Mapped[str | None]
    language: Mapped[str | None]
    canonical_url: Mapped[str | None]
    paragraphs: Mapped[list[Any]]
    extractor: Mapped[str]
    extractor_version: Mapped[str]
    raw_html: Mapped[bytes] = deferred(schema.version.c.raw_html)
    """Loaded only when read: a listing of versions never needs the page bodies."""

    page: Mapped[Page] = relationship()

    def __repr__(self) -> str:
        return f"Version(page={self.page_id}, v{self.number})"


class Fetch(Base):
    """One attempt to check a page, whatever came of it."""

    __table__ = schema.fetch
    id: Mapped[int]
    page_id: Mapped[int]
    started_at: Mapped[datetime]
    duration_ms: Mapped[float | None]
    status: Mapped[int | None]
    outcome: Mapped[str]
    error: Mapped[str | None]
    final_url: Mapped[str | None]
    etag: Mapped[str | None]
    last_modified: Mapped[str | None]
    bytes: Mapped[int | None]
    version_id: Mapped[int | None]

    version: Mapped[Version | None] = relationship()

    def __repr__(self) -> str:
        return f"Fetch(page={self.page_id}, {self.outcome})"


class Change(Base):
    """What changed between two versions of a page, or a removal / restoration."""

    __table__ = schema.change
    id: Mapped[int]
    page_id: Mapped[int]
    from_version_id: Mapped[int | None]
    to_version_id: Mapped[int | None]
    detected_at: Mapped[datetime]
    kind: Mapped[str]
    kinds: Mapped[list[Any]]
    significant: Mapped[bool]
    summary: Mapped[str]
    details: Mapped[dict[str, Any]]
    diff: Mapped[dict[str, Any]]

    page: Mapped[Page] = relationship()
    links: Mapped[list[ChangeLink]] = relationship(back_populates="change")


class ChangeLink(Base):
    """A change bears on a watch item, with the evidence the matcher found."""

    __table__ = schema.change_link
    id: Mapped[int]
    change_id: Mapped[int]
    watch_item_id: Mapped[int]
    score: Mapped[float]
    evidence: Mapped[list[Any]]

    change: Mapped[Change] = relationship(back_populates="links")
    watch_item: Mapped[WatchItem] = relationship()


class Followup(Base):
    """A discovered article that bears on an event (grouped with its syndicated copies)."""

    __table__ = schema.followup
    id: Mapped[int]
    event_id: Mapped[int]
    page_id: Mapped[int]
    version_id: Mapped[int | None]
    detected_at: Mapped[datetime]
    score: Mapped[float]
    group_key: Mapped[str | None]
    evidence: Mapped[list[Any]]
    watch_item_ids: Mapped[list[Any]]

    page: Mapped[Page] = relationship()


class SeenUrl(Base):
    """Discovery's memory: an article URL already looked at for an outlet."""

    __table__ = schema.seen_url
    id: Mapped[int]
    outlet_id: Mapped[int]
    url_key: Mapped[str]
    url: Mapped[str]
    first_seen_at: Mapped[datetime]
    found_in: Mapped[str | None]


class Run(Base):
    """One crawl or discovery run, with its Scrapy stats."""

    __table__ = schema.run
    id: Mapped[int]
    kind: Mapped[str]
    owner: Mapped[str]
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    stats: Mapped[dict[str, Any]]


class Lease(Base):
    """A named lock with an expiry (the daemon's tick), so two processes never double work."""

    __table__ = schema.lease
    name: Mapped[str]
    owner: Mapped[str]
    until: Mapped[datetime]


class Worker(Base):
    """A live worker process: its heartbeat, not its host and pid, says it is alive.

    A row whose heartbeat is older than the lease time is dead (`storage.workers.reap`);
    its page and host leases are given back for the others to take.
    """

    __table__ = schema.worker
    name: Mapped[str]
    host: Mapped[str]
    pid: Mapped[int]
    started_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime]

    def __repr__(self) -> str:
        return f"Worker({self.name!r})"


class HostLease(Base):
    """One owner per outlet host at a time, fleet-wide: Scrapy's per-host delay and
    AutoThrottle then hold across every worker with no distributed rate limiter.

    A released host keeps its row with no owner and `until` at the end of the politeness
    delay, so the next owner's first request cannot follow the last owner's too closely.
    """

    __table__ = schema.host_lease
    host: Mapped[str]
    owner: Mapped[str | None]
    until: Mapped[datetime]

    def __repr__(self) -> str:
        return f"HostLease({self.host!r}, {self.owner!r})"
