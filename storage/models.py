"""SQLAlchemy 2.x models: the database is the source of truth for every crawl decision.

Nothing a second crawler process would need lives in memory: validators, page states,
failure counters, due times and leases are columns here. Versions are insert-only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend.

    SQLite has no timezone type and hands back naive values; comparing those with aware ones
    raises. Store naive UTC everywhere and give back aware UTC.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use UTC-aware datetimes")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    """Declarative base with a naming convention, so Alembic names constraints the same on
    SQLite and PostgreSQL."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSON,
        list[Any]: JSON,
        datetime: UTCDateTime(),
    }


class Event(Base):
    """An event card as last added."""

    __tablename__ = "event"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(200), unique=True)
    title: Mapped[str] = mapped_column(Text)
    lede: Mapped[str | None] = mapped_column(Text)
    type: Mapped[str | None] = mapped_column(String(50))
    date: Mapped[str | None] = mapped_column(String(40))
    summary: Mapped[str] = mapped_column(Text, default="")
    canonical_url: Mapped[str | None] = mapped_column(Text)
    entities: Mapped[list[Any]] = mapped_column(default=list)
    entity_terms: Mapped[dict[str, Any]] = mapped_column(default=dict)
    match_overrides: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """Editor-steered matcher terms (`crawler.matching.terms.load_overrides` format)."""
    digest: Mapped[str] = mapped_column(String(64))
    card_text: Mapped[str] = mapped_column(Text)
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

    __tablename__ = "watch_item"
    __table_args__ = (UniqueConstraint("event_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), index=True)
    number: Mapped[int]
    text: Mapped[str] = mapped_column(Text)
    terms: Mapped[dict[str, Any]] = mapped_column(default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    event: Mapped[Event] = relationship(back_populates="watch_items")

    def __repr__(self) -> str:
        return f"WatchItem({self.event_id}#{self.number})"


class Outlet(Base):
    """A publisher, named as the cards name it; discovery state lives here."""

    __tablename__ = "outlet"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    host: Mapped[str | None] = mapped_column(String(255), index=True)
    next_discovery_at: Mapped[datetime | None]
    discovery_failures: Mapped[int] = mapped_column(default=0)
    last_discovery_error: Mapped[str | None] = mapped_column(Text)

    def __repr__(self) -> str:
        return f"Outlet({self.name!r})"


class Page(Base):
    """A watched URL: what we know of it between fetches (validators, state, schedule)."""

    __tablename__ = "page"
    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(Text, unique=True)
    url_key: Mapped[str] = mapped_column(Text, index=True)
    host: Mapped[str] = mapped_column(String(255), index=True)
    canonical_url: Mapped[str | None] = mapped_column(Text)
    outlet_id: Mapped[int | None] = mapped_column(ForeignKey("outlet.id"), index=True)
    origin: Mapped[str] = mapped_column(String(20), default="cited")
    state: Mapped[str] = mapped_column(String(20), default="new")
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    consecutive_gone: Mapped[int] = mapped_column(default=0)
    failing_since: Mapped[datetime | None]
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    body_hash: Mapped[str | None] = mapped_column(String(64))
    redirected_to: Mapped[str | None] = mapped_column(Text)
    """Where the URL last redirected to when the article was served there (a move)."""
    last_status: Mapped[int | None]
    gone_since: Mapped[datetime | None]
    """First check of the current run of "gone" answers (a removal is confirmed later)."""
    full_fetch_at: Mapped[datetime | None]
    """Last 200 with a body: a validator that never changes gets an unconditional fetch."""
    suspect_fingerprint: Mapped[str | None] = mapped_column(String(64))
    """A candidate version held as suspect (`crawler.changes.baseline`), not yet a version."""
    suspect_since: Mapped[datetime | None]
    suspect_reason: Mapped[str | None] = mapped_column(Text)
    first_seen_at: Mapped[datetime]
    last_checked_at: Mapped[datetime | None]
    last_changed_at: Mapped[datetime | None]
    next_check_at: Mapped[datetime | None] = mapped_column(index=True)
    lease_owner: Mapped[str | None] = mapped_column(String(64), index=True)
    lease_until: Mapped[datetime | None]
    lease_token: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    """Bumped by every claim: a check is written only under the token it was claimed with
    (fencing, `storage.leases.record_leased_checks`), so a worker paused past its lease
    cannot overwrite the work of the one that took the page over."""

    outlet: Mapped[Outlet | None] = relationship()

    def __repr__(self) -> str:
        return f"Page({self.url!r}, state={self.state!r})"


class Source(Base):
    """A card's citation of a page (the regional take that cites it)."""

    __tablename__ = "source"
    __table_args__ = (UniqueConstraint("event_id", "page_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), index=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("page.id"), index=True)
    outlet_name: Mapped[str] = mapped_column(String(200))
    region: Mapped[str | None] = mapped_column(String(100))
    language: Mapped[str | None] = mapped_column(String(20))
    lens: Mapped[str | None] = mapped_column(Text)
    take: Mapped[str | None] = mapped_column(Text)
    quote: Mapped[str | None] = mapped_column(Text)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    event: Mapped[Event] = relationship(back_populates="sources")
    page: Mapped[Page] = relationship()


class Version(Base):
    """One distinct extraction of a page; never updated once written."""

    __tablename__ = "version"
    __table_args__ = (UniqueConstraint("page_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("page.id"), index=True)
    number: Mapped[int]
    seen_at: Mapped[datetime]
    fingerprint: Mapped[str] = mapped_column(String(64), index=True)
    text_hash: Mapped[str] = mapped_column(String(64))
    body_hash: Mapped[str] = mapped_column(String(64))
    final_url: Mapped[str] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)
    headlines: Mapped[dict[str, Any]] = mapped_column(default=dict)
    byline: Mapped[str | None] = mapped_column(Text)
    published: Mapped[str | None] = mapped_column(String(40))
    published_guessed: Mapped[bool] = mapped_column(Boolean, default=False)
    modified: Mapped[str | None] = mapped_column(String(40))
    language: Mapped[str | None] = mapped_column(String(10))
    canonical_url: Mapped[str | None] = mapped_column(Text)
    paragraphs: Mapped[list[Any]] = mapped_column(default=list)
    extractor: Mapped[str] = mapped_column(String(40))
    extractor_version: Mapped[str] = mapped_column(String(40))
    raw_html: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    """The response body, zlib-compressed: re-extraction must stay possible."""

    page: Mapped[Page] = relationship()

    def __repr__(self) -> str:
        return f"Version(page={self.page_id}, v{self.number})"


class Fetch(Base):
    """One attempt to check a page, whatever came of it."""

    __tablename__ = "fetch"
    id: Mapped[int] = mapped_column(primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("page.id"), index=True)
    started_at: Mapped[datetime]
    duration_ms: Mapped[float | None] = mapped_column(Float)
    status: Mapped[int | None]
    outcome: Mapped[str] = mapped_column(String(30))
    error: Mapped[str | None] = mapped_column(Text)
    final_url: Mapped[str | None] = mapped_column(Text)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    bytes: Mapped[int | None]
    version_id: Mapped[int | None] = mapped_column(ForeignKey("version.id"))
    version: Mapped[Version | None] = relationship()

    def __repr__(self) -> str:
        return f"Fetch(page={self.page_id}, {self.outcome})"


class Change(Base):
    """What changed between two versions of a page, or a removal / restoration."""

    __tablename__ = "change"
    id: Mapped[int] = mapped_column(primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("page.id"), index=True)
    from_version_id: Mapped[int | None] = mapped_column(ForeignKey("version.id"))
    to_version_id: Mapped[int | None] = mapped_column(ForeignKey("version.id"))
    detected_at: Mapped[datetime] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(20))
    kinds: Mapped[list[Any]] = mapped_column(default=list)
    significant: Mapped[bool] = mapped_column(Boolean)
    summary: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """The classification (added / removed text, numbers, quotes, notes) as JSON."""
    diff: Mapped[dict[str, Any]] = mapped_column(default=dict)

    page: Mapped[Page] = relationship()
    links: Mapped[list[ChangeLink]] = relationship(back_populates="change")


class ChangeLink(Base):
    """A change bears on a watch item, with the evidence the matcher found."""

    __tablename__ = "change_link"
    __table_args__ = (UniqueConstraint("change_id", "watch_item_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    change_id: Mapped[int] = mapped_column(ForeignKey("change.id", ondelete="CASCADE"))
    watch_item_id: Mapped[int] = mapped_column(ForeignKey("watch_item.id"))
    score: Mapped[float] = mapped_column(Float)
    evidence: Mapped[list[Any]] = mapped_column(default=list)

    change: Mapped[Change] = relationship(back_populates="links")
    watch_item: Mapped[WatchItem] = relationship()


class Followup(Base):
    """A discovered article that bears on an event (grouped with its syndicated copies)."""

    __tablename__ = "followup"
    __table_args__ = (UniqueConstraint("event_id", "page_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), index=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("page.id"))
    version_id: Mapped[int | None] = mapped_column(ForeignKey("version.id"))
    detected_at: Mapped[datetime] = mapped_column(index=True)
    score: Mapped[float] = mapped_column(Float)
    group_key: Mapped[str | None] = mapped_column(String(64))
    evidence: Mapped[list[Any]] = mapped_column(default=list)
    watch_item_ids: Mapped[list[Any]] = mapped_column(default=list)

    page: Mapped[Page] = relationship()


class SeenUrl(Base):
    """Discovery's memory: an article URL already looked at for an outlet."""

    __tablename__ = "seen_url"
    __table_args__ = (UniqueConstraint("outlet_id", "url_key"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    outlet_id: Mapped[int] = mapped_column(ForeignKey("outlet.id"))
    url_key: Mapped[str] = mapped_column(Text)
    url: Mapped[str] = mapped_column(Text)
    first_seen_at: Mapped[datetime]
    found_in: Mapped[str | None] = mapped_column(Text)


class Run(Base):
    """One crawl or discovery run, with its Scrapy stats."""

    __tablename__ = "run"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    owner: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    stats: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Lease(Base):
    """A named lock with an expiry (the daemon's tick), so two processes never double work."""

    __tablename__ = "lease"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64))
    until: Mapped[datetime]


class Worker(Base):
    """A live worker process: its heartbeat, not its host and pid, says it is alive.

    A row whose heartbeat is older than the lease time is dead (`storage.workers.reap`);
    its page and host leases are given back for the others to take.
    """

    __tablename__ = "worker"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int]
    started_at: Mapped[datetime]
    heartbeat_at: Mapped[datetime] = mapped_column(index=True)

    def __repr__(self) -> str:
        return f"Worker({self.name!r})"


class HostLease(Base):
    """One owner per outlet host at a time, fleet-wide: Scrapy's per-host delay and
    AutoThrottle then hold across every worker with no distributed rate limiter.

    A released host keeps its row with no owner and `until` at the end of the politeness
    delay, so the next owner's first request cannot follow the last owner's too closely.
    """

    __tablename__ = "host_lease"
    host: Mapped[str] = mapped_column(String(255), primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(64), index=True)
    until: Mapped[datetime]

    def __repr__(self) -> str:
        return f"HostLease({self.host!r}, {self.owner!r})"
