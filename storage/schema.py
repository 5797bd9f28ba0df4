"""The tables, in SQLAlchemy Core: the one definition of the schema.

The ORM classes (`storage.models`) are mapped onto these tables and Alembic compares them
with the migrations; read-only commands (`watchdesk event list`, `watchdesk status`) query
them directly through `storage.overview`, so they never import `sqlalchemy.orm` or declare
the mapped classes — together about half of what importing the store cost them.

The database is the source of truth for every crawl decision: nothing a second crawler
process would need lives in memory. Validators, page states, failure counters, due times and
leases are columns here. Versions are insert-only.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

#: So Alembic names constraints the same on SQLite and PostgreSQL.
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


metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _id() -> Column[Any]:
    return Column("id", Integer, primary_key=True)


def _required(name: str, kind: Any, **options: Any) -> Column[Any]:
    return Column(name, kind, nullable=False, **options)


def _optional(name: str, kind: Any, **options: Any) -> Column[Any]:
    return Column(name, kind, nullable=True, **options)


def _time(name: str, *, required: bool = False, **options: Any) -> Column[Any]:
    return Column(name, UTCDateTime(), nullable=not required, **options)


def _flag(name: str, default: bool) -> Column[Any]:
    return Column(name, Boolean, nullable=False, default=default)


def _json(name: str, default: type) -> Column[Any]:
    """A JSON document, never NULL: `default` (list or dict) makes the empty one."""
    return Column(name, JSON, nullable=False, default=default)


def _fk(
    name: str, target: str, *, required: bool = True, ondelete: str | None = None, **options: Any
) -> Column[Any]:
    return Column(
        name, Integer, ForeignKey(target, ondelete=ondelete), nullable=not required, **options
    )


#: An event card as last added.
event = Table(
    "event",
    metadata,
    _id(),
    _required("slug", String(200), unique=True),
    _required("title", Text),
    _optional("lede", Text),
    _optional("type", String(50)),
    _optional("date", String(40)),
    _required("summary", Text, default=""),
    _optional("canonical_url", Text),
    _json("entities", list),
    _json("entity_terms", dict),
    # Editor-steered matcher terms (`crawler.matching.terms.load_overrides` format).
    _json("match_overrides", dict),
    _required("digest", String(64)),
    _required("card_text", Text),
    _time("created_at", required=True),
    _time("updated_at", required=True),
)

#: One "What to watch" line; retired rather than deleted so old links stay valid.
watch_item = Table(
    "watch_item",
    metadata,
    _id(),
    _fk("event_id", "event.id", ondelete="CASCADE", index=True),
    _required("number", Integer),
    _required("text", Text),
    _json("terms", dict),
    _flag("active", True),
    UniqueConstraint("event_id", "number"),
)

#: A publisher, named as the cards name it; discovery state lives here.
outlet = Table(
    "outlet",
    metadata,
    _id(),
    _required("name", String(200), unique=True),
    _optional("host", String(255), index=True),
    _time("next_discovery_at"),
    _required("discovery_failures", Integer, default=0),
    _optional("last_discovery_error", Text),
)

#: A watched URL: what we know of it between fetches (validators, state, schedule).
page = Table(
    "page",
    metadata,
    _id(),
    _required("url", Text, unique=True),
    _required("url_key", Text, index=True),
    _required("host", String(255), index=True),
    _optional("canonical_url", Text),
    _fk("outlet_id", "outlet.id", required=False, index=True),
    _required("origin", String(20), default="cited"),
    _required("state", String(20), default="new"),
    _required("consecutive_failures", Integer, default=0),
    _required("consecutive_gone", Integer, default=0),
    _time("failing_since"),
    _optional("etag", Text),
    _optional("last_modified", Text),
    _optional("body_hash", String(64)),
    # Where the URL last redirected to when the article was served there (a move).
    _optional("redirected_to", Text),
    _optional("last_status", Integer),
    # First check of the current run of "gone" answers (a removal is confirmed later).
    _time("gone_since"),
    # Last 200 with a body: a validator that never changes gets an unconditional fetch.
    _time("full_fetch_at"),
    # A candidate version held as suspect (`crawler.changes.baseline`), not yet a version.
    _optional("suspect_fingerprint", String(64)),
    _time("suspect_since"),
    _optional("suspect_reason", Text),
    _time("first_seen_at", required=True),
    _time("last_checked_at"),
    _time("last_changed_at"),
    _time("next_check_at", index=True),
    _optional("lease_owner", String(64), index=True),
    _time("lease_until"),
    # Bumped by every claim: a check is written only under the token it was claimed with
    # (fencing, `storage.leases.record_leased_checks`), so a worker paused past its lease
    # cannot overwrite the work of the one that took the page over.
    _required("lease_token", BigInteger, default=0, server_default="0"),
)

#: A card's citation of a page (the regional take that cites it).
source = Table(
    "source",
    metadata,
    _id(),
    _fk("event_id", "event.id", ondelete="CASCADE", index=True),
    _fk("page_id", "page.id", index=True),
    _required("outlet_name", String(200)),
    _optional("region", String(100)),
    _optional("language", String(20)),
    _optional("lens", Text),
    _optional("take", Text),
    _optional("quote", Text),
    _flag("active", True),
    UniqueConstraint("event_id", "page_id"),
)

#: One distinct extraction of a page; never updated once written.
version = Table(
    "version",
    metadata,
    _id(),
    _fk("page_id", "page.id", index=True),
    _required("number", Integer),
    _time("seen_at", required=True),
    _required("fingerprint", String(64), index=True),
    _required("text_hash", String(64)),
    _required("body_hash", String(64)),
    _required("final_url", Text),
    _optional("title", Text),
    _json("headlines", dict),
    _optional("byline", Text),
    _optional("published", String(40)),
    _flag("published_guessed", False),
    _optional("modified", String(40)),
    _optional("language", String(10)),
    _optional("canonical_url", Text),
    _json("paragraphs", list),
    _required("extractor", String(40)),
    _required("extractor_version", String(40)),
    # The response body, zlib-compressed: re-extraction must stay possible.
    _required("raw_html", LargeBinary),
    UniqueConstraint("page_id", "number"),
)

#: One attempt to check a page, whatever came of it.
fetch = Table(
    "fetch",
    metadata,
    _id(),
    _fk("page_id", "page.id", index=True),
    _time("started_at", required=True),
    _optional("duration_ms", Float),
    _optional("status", Integer),
    _required("outcome", String(30)),
    _optional("error", Text),
    _optional("final_url", Text),
    _optional("etag", Text),
    _optional("last_modified", Text),
    _optional("bytes", Integer),
    _fk("version_id", "version.id", required=False),
)

#: What changed between two versions of a page, or a removal / restoration.
change = Table(
    "change",
    metadata,
    _id(),
    _fk("page_id", "page.id", index=True),
    _fk("from_version_id", "version.id", required=False),
    _fk("to_version_id", "version.id", required=False),
    _time("detected_at", required=True, index=True),
    _required("kind", String(20)),
    _json("kinds", list),
    _required("significant", Boolean),
    _required("summary", Text),
    # The classification (added / removed text, numbers, quotes, notes) as JSON.
    _json("details", dict),
    _json("diff", dict),
)

#: A change bears on a watch item, with the evidence the matcher found.
change_link = Table(
    "change_link",
    metadata,
    _id(),
    _fk("change_id", "change.id", ondelete="CASCADE"),
    _fk("watch_item_id", "watch_item.id"),
    _required("score", Float),
    _json("evidence", list),
    UniqueConstraint("change_id", "watch_item_id"),
)

#: A discovered article that bears on an event (grouped with its syndicated copies).
followup = Table(
    "followup",
    metadata,
    _id(),
    _fk("event_id", "event.id", ondelete="CASCADE", index=True),
    _fk("page_id", "page.id"),
    _fk("version_id", "version.id", required=False),
    _time("detected_at", required=True, index=True),
    _required("score", Float),
    _optional("group_key", String(64)),
    _json("evidence", list),
    _json("watch_item_ids", list),
    UniqueConstraint("event_id", "page_id"),
)

#: Discovery's memory: an article URL already looked at for an outlet.
seen_url = Table(
    "seen_url",
    metadata,
    _id(),
    _fk("outlet_id", "outlet.id"),
    _required("url_key", Text),
    _required("url", Text),
    _time("first_seen_at", required=True),
    _optional("found_in", Text),
    UniqueConstraint("outlet_id", "url_key"),
)

#: One crawl or discovery run, with its Scrapy stats.
run = Table(
    "run",
    metadata,
    _id(),
    _required("kind", String(20)),
    _required("owner", String(64)),
    _time("started_at", required=True),
    _time("finished_at"),
    _json("stats", dict),
)

#: A named lock with an expiry (the daemon's tick), so two processes never double work.
lease = Table(
    "lease",
    metadata,
    Column("name", String(100), primary_key=True),
    _required("owner", String(64)),
    _time("until", required=True),
)

#: A live worker process: its heartbeat, not its host and pid, says it is alive. A row whose
#: heartbeat is older than the lease time is dead (`storage.workers.reap`); its page and host
#: leases are given back for the others to take.
worker = Table(
    "worker",
    metadata,
    Column("name", String(64), primary_key=True),
    _required("host", String(255)),
    _required("pid", Integer),
    _time("started_at", required=True),
    _time("heartbeat_at", required=True, index=True),
)

#: One owner per outlet host at a time, fleet-wide: Scrapy's per-host delay and AutoThrottle
#: then hold across every worker with no distributed rate limiter. A released host keeps its
#: row with no owner and `until` at the end of the politeness delay, so the next owner's first
#: request cannot follow the last owner's too closely.
host_lease = Table(
    "host_lease",
    metadata,
    Column("host", String(255), primary_key=True),
    _optional("owner", String(64), index=True),
    _time("until", required=True),
)
